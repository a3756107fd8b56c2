"""Enhancer training pieces: binary losses, pixel Dice, forest plans and cached forest maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semiseg_zoo.features import FeatureSet, compute_features
from semiseg_zoo.synthetic import synthetic_cells
from semiseg_zoo.training.enhancer.forest_maps import forest_maps, forest_plan
from semiseg_zoo.training.enhancer.train import pixel_dice
from semiseg_zoo.training.losses import binary_loss, dice_loss


def test_bce_matches_the_formula() -> None:
    logits = torch.tensor([[[[0.0, 2.0]]]])
    target = torch.tensor([[[1.0, 0.0]]])
    p = 1 / (1 + math.exp(-2.0))
    expected = (-math.log(0.5) - math.log(1 - p)) / 2
    assert binary_loss(logits, target, "bce").item() == pytest.approx(expected, rel=1e-6)


def test_dice_loss_by_hand() -> None:
    p = torch.tensor([0.5, 1.0, 0.0])
    t = torch.tensor([1.0, 1.0, 0.0])
    # 1 - 2 * 1.5 / (1.25 + 2)
    assert dice_loss(p, t).item() == pytest.approx(1 - 3 / 3.25)
    assert binary_loss(torch.full((1, 1, 2, 2), 50.0), torch.ones(1, 2, 2), "dice").item() < 1e-6


def test_unknown_loss_and_shape_mismatch_are_errors() -> None:
    with pytest.raises(ValueError, match="unknown loss 'l2'"):
        binary_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 2, 2), "l2")
    with pytest.raises(ValueError, match="target shape"):
        binary_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 3, 3), "bce")


def test_pixel_dice() -> None:
    target = np.array([[True, True, False, False]])
    assert pixel_dice(np.array([[0.9, 0.2, 0.7, 0.1]]), target) == pytest.approx(0.5)
    assert pixel_dice(np.zeros((2, 2)), np.zeros((2, 2), bool)) == 1.0


def test_forest_plan_gives_forests_by_area_and_is_seeded() -> None:
    shapes = [(100, 80), (40, 300), (10, 10)]
    plan = forest_plan(shapes, 400, seed=3)
    assert plan == forest_plan(shapes, 400, seed=3)
    assert plan != forest_plan(shapes, 400, seed=4)
    counts = np.bincount(plan, minlength=3) / 400
    # Areas 8000, 12000, 100: shares 0.398, 0.597, 0.005.
    assert counts[0] == pytest.approx(0.398, abs=0.06)
    assert counts[1] == pytest.approx(0.597, abs=0.06)
    assert counts[2] < 0.03


def test_forest_maps_are_probabilities_and_come_back_from_the_cache(tmp_path) -> None:
    pairs = [synthetic_cells((96, 96), seed=s) for s in range(2)]
    images = [image.astype(np.float32) / 255 for image, _ in pairs]
    targets = [labels == 0 for _, labels in pairs]
    features = FeatureSet(("gaussian_smoothing", "hessian_of_gaussian_eigenvalues"), (1.0, 2.0))
    calls = []

    def feature_function(image):
        calls.append(image.shape)
        return compute_features(image, features)

    kwargs = dict(n_forests=5, patch_size=(24, 48), pixels_per_class=100, trees_per_forest=3,
                  seed=0, cache=tmp_path, cache_key={"test": 1}, log=lambda _: None)  # fmt: skip
    first = forest_maps(images, targets, feature_function, **kwargs)
    assert len(first) == 5 and len(calls) == len({m.index for m in first})
    for m in first:
        assert m.probabilities.shape == (96, 96) and m.probabilities.dtype == np.float16
        assert 0 <= m.probabilities.min() and m.probabilities.max() <= 1
        # A forest on membranes finds them: mean probability higher on membrane pixels.
        on = m.probabilities[targets[m.index]].mean()
        off = m.probabilities[~targets[m.index]].mean()
        assert on > off + 0.3
    calls.clear()
    again = forest_maps(images, targets, feature_function, **kwargs)
    assert calls == []
    for a, b in zip(first, again, strict=True):
        assert a.index == b.index and np.array_equal(a.probabilities, b.probabilities)
    changed = forest_maps(images, targets, feature_function, **{**kwargs, "cache_key": {"test": 2}})
    assert calls, "a different key must not reuse the cache"
    assert len(changed) == 5
