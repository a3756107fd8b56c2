"""Fixtures of the shallow tests: a training and a test image of synthetic nuclei."""

from __future__ import annotations

import pytest

from .helpers import NucleiSample, nuclei_sample


@pytest.fixture(scope="session")
def train_sample() -> NucleiSample:
    return nuclei_sample(0)


@pytest.fixture(scope="session")
def test_sample() -> NucleiSample:
    return nuclei_sample(100)
