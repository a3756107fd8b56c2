"""Small random images: noise has structure at every scale, so every filter is exercised."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def image_2d() -> np.ndarray:
    return np.random.default_rng(0).random((48, 48)).astype(np.float32)


@pytest.fixture
def image_3d() -> np.ndarray:
    return np.random.default_rng(1).random((16, 24, 24)).astype(np.float32)


@pytest.fixture(params=["2d", "3d"])
def image(request: pytest.FixtureRequest, image_2d: np.ndarray, image_3d: np.ndarray) -> np.ndarray:
    return image_2d if request.param == "2d" else image_3d
