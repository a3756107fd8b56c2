"""Percentile normalisation (``scale_range``)."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.training import scale_range
from semiseg_zoo.training.normalize import EPS


def test_defaults_on_ramp() -> None:
    image = np.arange(101, dtype=np.uint8).reshape(1, 101)
    result = scale_range(image)
    # 1st percentile = 1, 99.8th percentile = 99.8
    expected = (np.arange(101, dtype=np.float32) - 1.0) / (98.8 + EPS)
    assert result.dtype == np.float32
    assert result.shape == (1, 101)
    np.testing.assert_allclose(result[0], expected, rtol=1e-6, atol=1e-6)
    assert result[0, 1] == 0.0
    assert result[0, 0] == pytest.approx(-1 / 98.8, rel=1e-5)


def test_custom_percentiles() -> None:
    image = np.arange(11, dtype=np.float64).reshape(11, 1)
    result = scale_range(image, min_percentile=10, max_percentile=90)
    # p10 = 1, p90 = 9
    np.testing.assert_allclose(result[:, 0], (np.arange(11) - 1) / (8 + EPS), rtol=1e-6)
    assert result.dtype == np.float32


def test_full_range_maps_to_unit_interval() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(3, 16, 16)).astype(np.uint8)
    result = scale_range(image, min_percentile=0, max_percentile=100)
    assert result.shape == (3, 16, 16)
    assert result.min() == 0.0
    assert result.max() == pytest.approx(1.0, abs=1e-6)


def test_constant_image_is_finite() -> None:
    result = scale_range(np.full((4, 4), 7, dtype=np.uint16))
    np.testing.assert_array_equal(result, np.zeros((4, 4), dtype=np.float32))


def test_input_not_mutated() -> None:
    image = np.linspace(0, 5, 20, dtype=np.float32).reshape(4, 5)
    before = image.copy()
    result = scale_range(image)
    np.testing.assert_array_equal(image, before)
    assert result is not image


def test_affine_invariance() -> None:
    rng = np.random.default_rng(1)
    image = rng.normal(size=(8, 8)).astype(np.float32)
    np.testing.assert_allclose(scale_range(image), scale_range(3 * image + 10), atol=1e-5)
