"""Random patches and the many patch-wise forests trained on dense source labels."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.shallow import (
    PatchForest,
    predict_probabilities,
    random_patch,
    train_patch_forests,
)

from .helpers import NucleiSample


def _sizes(patch: tuple[slice, ...]) -> tuple[int, ...]:
    return tuple(s.stop - s.start for s in patch)


# --- random_patch ---


def test_patches_stay_inside_and_respect_sizes() -> None:
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(500):
        patch = random_patch((50, 70), rng, min_size=5, max_size=20)
        assert all(s.start >= 0 for s in patch)
        assert patch[0].stop <= 50 and patch[1].stop <= 70
        sizes.append(_sizes(patch))
    sizes_array = np.array(sizes)
    assert sizes_array.min() == 5 and sizes_array.max() == 20  # both bounds are reached


def test_patch_sizes_per_axis_and_clipped_to_the_image() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        patch = random_patch((4, 30, 30), rng, min_size=(1, 8, 10), max_size=(8, 8, 40))
        z_size, y_size, x_size = _sizes(patch)
        assert 1 <= z_size <= 4 and y_size == 8 and 10 <= x_size <= 30
        assert patch[0].stop <= 4 and patch[2].stop <= 30


def test_patches_cover_the_whole_range_of_positions() -> None:
    rng = np.random.default_rng(2)
    starts = {random_patch((10,), rng, min_size=3, max_size=3)[0].start for _ in range(300)}
    assert starts == set(range(8))


def test_patch_is_deterministic_per_seed() -> None:
    def draw(seed: int) -> tuple[slice, ...]:
        return random_patch((100, 100), np.random.default_rng(seed), min_size=5, max_size=50)

    assert draw(3) == draw(3)
    assert draw(3) != draw(4)


def test_patch_rejects_bad_sizes() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="`min_size` 10 exceeds `max_size` 5"):
        random_patch((20, 20), rng, min_size=10, max_size=5)
    with pytest.raises(ValueError, match=r"`min_size` must be a positive int or 2 positive ints"):
        random_patch((20, 20), rng, min_size=0, max_size=5)
    with pytest.raises(ValueError, match=r"`max_size` must be .*\(one per axis\), got \(5, 5, 5\)"):
        random_patch((20, 20), rng, min_size=1, max_size=(5, 5, 5))
    with pytest.raises(ValueError, match=r"`shape` must have positive axis lengths, got \(0, 5\)"):
        random_patch((0, 5), rng, min_size=1, max_size=5)


# --- train_patch_forests ---


def test_patch_forests_are_trained_on_two_class_patches(train_sample: NucleiSample) -> None:
    forests = list(
        train_patch_forests(
            train_sample.features,
            train_sample.gt,
            n_forests=6,
            seed=0,
            min_size=8,
            max_size=24,
            n_per_class=30,
            n_trees=3,
        )
    )
    assert len(forests) == 6
    for item in forests:
        assert isinstance(item, PatchForest)
        assert 8 <= min(_sizes(item.patch)) and max(_sizes(item.patch)) <= 24
        assert set(np.unique(train_sample.gt[item.patch]).tolist()) == {0, 1}
        assert item.forest.classes_.tolist() == [0, 1] and item.forest.n_estimators == 3


def test_single_class_patches_are_redrawn() -> None:
    # 1 % foreground: most 6×6 patches hold background only and must be skipped.
    labels = np.zeros((60, 60), dtype=np.uint8)
    labels[27:33, 27:33] = 1
    features = labels[..., None].astype(np.float32)
    forests = list(
        train_patch_forests(features, labels, n_forests=5, seed=0, min_size=6, max_size=6)
    )
    assert len(forests) == 5
    assert all(labels[item.patch].min() == 0 and labels[item.patch].max() == 1 for item in forests)


def test_patch_forests_are_deterministic_per_seed(train_sample: NucleiSample) -> None:
    def run(seed: int) -> tuple[list[tuple[slice, ...]], np.ndarray]:
        forests = list(
            train_patch_forests(
                train_sample.features,
                train_sample.gt,
                n_forests=3,
                seed=seed,
                min_size=16,
                max_size=48,
                n_per_class=40,
                n_trees=2,
            )
        )
        maps = [predict_probabilities(f.forest, train_sample.features, classes=1) for f in forests]
        return [f.patch for f in forests], np.stack(maps)

    patches, maps = run(7)
    same_patches, same_maps = run(7)
    assert patches == same_patches
    np.testing.assert_array_equal(maps, same_maps)
    assert run(8)[0] != patches


def test_patch_forests_validate_before_iterating() -> None:
    features = np.zeros((16, 16, 1), dtype=np.float32)
    with pytest.raises(ValueError, match=r"`dense_labels` hold the classes \[0\]; patch forests"):
        train_patch_forests(features, np.zeros((16, 16), dtype=int), n_forests=2, seed=0)
    labels = np.eye(16, dtype=int)
    with pytest.raises(ValueError, match="`n_forests` must be ≥ 1, got 0"):
        train_patch_forests(features, labels, n_forests=0, seed=0)
    with pytest.raises(ValueError, match="`min_size` 9 exceeds `max_size` 8"):
        train_patch_forests(features, labels, n_forests=1, seed=0, min_size=9, max_size=8)
    with pytest.raises(TypeError, match="`dense_labels` has dtype float64"):
        train_patch_forests(features, labels.astype(float), n_forests=1, seed=0)
    with pytest.raises(
        ValueError, match=r"spatial shape \(16, 16\) but `labels` has shape \(8, 8\)"
    ):
        train_patch_forests(features, labels[:8, :8], n_forests=1, seed=0)


def test_patch_forests_give_up_when_no_patch_has_two_classes() -> None:
    labels = np.zeros((16, 16), dtype=np.uint8)
    labels[:, 8:] = 1
    forests = train_patch_forests(
        labels[..., None].astype(np.float32), labels, n_forests=2, seed=0, min_size=1, max_size=1
    )
    with pytest.raises(ValueError, match="only 0 of 2 random patches .* increase `min_size`"):
        next(forests)
