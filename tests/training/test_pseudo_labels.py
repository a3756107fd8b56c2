"""ACTIS pseudo-labels: TTA average (Eq. 1) and class-wise percentile thresholds (Eq. 3-4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from semiseg_zoo.training import ClassThresholds, pseudo_labels, tta_prediction
from semiseg_zoo.training.teacher.pseudo_labels import (
    DIHEDRAL_TRANSFORMS,
    dihedral,
    inverse_dihedral,
)


class _RampNet(nn.Module):
    """Not equivariant: channel 0 is the input, channel 1 the input times a fixed ramp."""

    def __init__(self, size: int) -> None:
        super().__init__()
        ramp = torch.arange(size * size, dtype=torch.float32).reshape(size, size) / size**2
        self.register_buffer("ramp", ramp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x * self.ramp], dim=1)


def _numpy_transform(array: np.ndarray, k: int, flip: bool) -> np.ndarray:
    if flip:
        array = array[..., ::-1]
    return np.rot90(array, k, axes=(-2, -1))


def _numpy_inverse(array: np.ndarray, k: int, flip: bool) -> np.ndarray:
    array = np.rot90(array, -k, axes=(-2, -1))
    return array[..., ::-1] if flip else array


def test_the_eight_transforms_are_distinct_and_inverted() -> None:
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    outputs = {tuple(dihedral(x, k, f).flatten().tolist()) for k, f in DIHEDRAL_TRANSFORMS}
    assert len(DIHEDRAL_TRANSFORMS) == 8 and len(outputs) == 8
    for k, flip in DIHEDRAL_TRANSFORMS:
        assert torch.equal(inverse_dihedral(dihedral(x, k, flip), k, flip), x)


def test_tta_prediction_is_the_exact_average_of_inverse_transformed_outputs() -> None:
    size = 6
    rng = np.random.default_rng(0)
    image = rng.random((2, 1, size, size)).astype(np.float32)
    ramp = np.arange(size * size, dtype=np.float32).reshape(size, size) / size**2
    expected = np.zeros((2, 2, size, size), np.float32)
    for k, flip in DIHEDRAL_TRANSFORMS:
        transformed = _numpy_transform(image, k, flip)
        output = np.concatenate([transformed, transformed * ramp], axis=1)
        expected += _numpy_inverse(output, k, flip) / 8
    result = tta_prediction(_RampNet(size), torch.from_numpy(image)).numpy()
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
    # Channel 0 is equivariant (the identity), channel 1 is not: TTA changes it.
    np.testing.assert_allclose(result[:, 0], image[:, 0], atol=1e-6)
    assert not np.allclose(result[:, 1], image[:, 0] * ramp)


def test_thresholds_are_the_class_quantiles_then_an_ema() -> None:
    # Class 0 pixels have confidences 0.6 .. 1.0, class 1 pixels 0.5 and 0.9.
    scores = torch.tensor(
        [[[0.6, 0.7, 0.8, 0.9, 1.0, 0.5, 0.1]], [[0.4, 0.3, 0.2, 0.1, 0.0, 0.5, 0.9]]]
    ).permute(1, 0, 2)  # (B=1, C=2, X=7)
    labels = torch.tensor([[0, 0, 0, 0, 0, 1, 1]])
    thresholds = ClassThresholds(2, quantile=0.2, ema=0.99)
    values = thresholds.update(scores, labels)
    # Linear interpolation: class 0 at position 0.2 * 4 = 0.8 -> 0.6 + 0.8 * 0.1 = 0.68;
    # class 1 at 0.2 * 1 = 0.2 -> 0.5 + 0.2 * 0.4 = 0.58. The first value initialises.
    assert values == pytest.approx([0.68, 0.58])
    reliable = thresholds.reliable(scores, labels)
    assert reliable.tolist() == [[False, True, True, True, True, False, True]]
    # A second map with class-0 quantile 0.3 and no class-1 pixels: EMA for class 0 only.
    second = torch.tensor([[[0.3, 0.3, 0.3]], [[0.1, 0.1, 0.1]]]).permute(1, 0, 2)
    values = thresholds.update(second, torch.zeros(1, 3, dtype=torch.long))
    assert values == pytest.approx([0.99 * 0.68 + 0.01 * 0.3, 0.58])


def test_unseen_classes_have_no_threshold_yet() -> None:
    thresholds = ClassThresholds(3)
    assert all(math.isnan(v) for v in thresholds.values)
    scores = torch.full((1, 3, 2, 2), 1 / 3)
    assert thresholds.reliable(scores, torch.full((1, 2, 2), 2)).all()


def test_bad_parameters_are_rejected() -> None:
    with pytest.raises(ValueError, match="quantile"):
        ClassThresholds(3, quantile=20)
    with pytest.raises(ValueError, match="ema"):
        ClassThresholds(3, ema=1.0)


def test_pseudo_labels_are_the_argmax_of_the_tta_average() -> None:
    class _Fixed(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # Class 1 wherever the input is bright, else class 0; rotation-equivariant.
            bright = (x > 0.5).float()
            return torch.cat([1 - 0.8 * bright, 0.8 * bright + 0.1], dim=1)

    image = torch.zeros(1, 1, 4, 4)
    image[..., :2, :] = 1.0
    thresholds = ClassThresholds(2, quantile=0.5, ema=0.9)
    scores, labels, reliable = pseudo_labels(_Fixed(), image, thresholds)
    assert labels[0, :2].eq(1).all() and labels[0, 2:].eq(0).all()
    assert scores.shape == (1, 2, 4, 4)
    # All pixels of a class share one score, which does not exceed its own quantile.
    assert not reliable.any()
