"""Test-time augmentation over the 8 dihedral transforms of the yx plane."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from semiseg_zoo.inference import predict_with_tta
from semiseg_zoo.synthetic import synthetic_nuclei


def _equivariant(image: np.ndarray) -> np.ndarray:
    """Isotropic blur per channel, then a pixel-wise channel mix: commutes with flips/rot90."""
    blurred = np.stack([gaussian_filter(c, 1.5, mode="reflect") for c in image])
    return np.stack([blurred.sum(axis=0), blurred[0] ** 2, np.tanh(blurred[-1])]).astype(np.float32)


def _shifted(image: np.ndarray) -> np.ndarray:
    """Not equivariant: shifts content one pixel along x."""
    return np.roll(image, 1, axis=-1)


@pytest.mark.parametrize("shape", [(1, 32, 32), (2, 17, 40), (3, 4, 9, 13)])
def test_identity_returns_the_input(shape):
    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    output = predict_with_tta(lambda x: x.copy(), image)
    assert output.shape == image.shape
    assert output.dtype == np.float32
    np.testing.assert_allclose(output, image, atol=1e-6, rtol=0)


@pytest.mark.parametrize("shape", [(2, 48, 48), (2, 31, 57)])
def test_equivariant_function_equals_plain_prediction(shape):
    image = np.random.default_rng(1).random(shape, dtype=np.float32)
    np.testing.assert_allclose(
        predict_with_tta(_equivariant, image), _equivariant(image), atol=1e-5, rtol=0
    )


def test_non_equivariant_function_is_averaged():
    """TTA of a one-pixel shift is the mean of the shift in the four directions."""
    image = np.random.default_rng(2).random((1, 20, 30), dtype=np.float32)
    expected = (
        np.roll(image, 1, -1) * 2
        + np.roll(image, -1, -1) * 2
        + np.roll(image, 1, -2) * 2
        + np.roll(image, -1, -2) * 2
    ) / 8
    np.testing.assert_allclose(predict_with_tta(_shifted, image), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, 37, 91), (1, 91, 37)])
def test_non_square_images_keep_their_shape(shape):
    seen = set()

    def predict(x: np.ndarray) -> np.ndarray:
        seen.add(x.shape)
        return np.concatenate([x, -x])

    image = np.random.default_rng(3).random(shape, dtype=np.float32)
    output = predict_with_tta(predict, image)
    assert output.shape == (2, *shape[1:])
    assert seen == {(1, 37, 91), (1, 91, 37)}
    np.testing.assert_allclose(output, np.concatenate([image, -image]), atol=1e-6)


def test_tta_calls_the_function_eight_times_on_distinct_views():
    views = []

    def predict(x: np.ndarray) -> np.ndarray:
        views.append(x.copy())
        return x

    image = np.arange(12, dtype=np.float32).reshape(1, 3, 4)
    predict_with_tta(predict, image)
    assert len(views) == 8
    assert len({(v.shape, v.tobytes()) for v in views}) == 8


def test_tta_with_the_tiny_package(tiny_model):
    image = synthetic_nuclei((96, 140), seed=4)[0]
    plain = tiny_model.predict(image, tile=None)
    augmented = tiny_model.predict(image, tile=None, tta=True)
    assert augmented.shape == plain.shape == (3, 96, 140)
    np.testing.assert_allclose(augmented.sum(axis=0), 1.0, atol=1e-5)
    # a trained U-Net is nearly, not exactly, equivariant
    difference = np.abs(augmented - plain)
    assert 0 < difference.mean() < 0.05
    tiled = tiny_model.predict(image, tile=(64, 64), tta=True)
    np.testing.assert_allclose(tiled, augmented, atol=1e-4, rtol=0)
