"""Simulated brush strokes from semantic ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from semiseg_zoo.shallow import scribble_pixel_counts, simulate_scribbles

from .helpers import NucleiSample


def _assert_right_classes(scribbles: np.ndarray, gt: np.ndarray) -> None:
    labeled = scribbles > 0
    np.testing.assert_array_equal(scribbles[labeled], gt[labeled] + 1)


def test_strokes_cover_only_their_own_class(train_sample: NucleiSample) -> None:
    for seed in range(10):
        scribbles = simulate_scribbles(train_sample.gt, stroke_width=5, stroke_length=60, seed=seed)
        assert scribbles.dtype == np.uint8 and scribbles.shape == train_sample.gt.shape
        _assert_right_classes(scribbles, train_sample.gt)
        assert set(scribble_pixel_counts(scribbles)) == {1, 2}


def test_counts_are_deterministic_per_seed(train_sample: NucleiSample) -> None:
    # Default strokes (5 per class, width 3, length 40) on the 128² training image; recorded
    # numbers, so any change to the stroke model shows up here.
    first = simulate_scribbles(train_sample.gt, seed=3)
    assert scribble_pixel_counts(first) == {1: 500, 2: 159}
    np.testing.assert_array_equal(first, simulate_scribbles(train_sample.gt, seed=3))
    other = simulate_scribbles(train_sample.gt, seed=4)
    assert scribble_pixel_counts(other) == {1: 403, 2: 223}


def test_strokes_are_few_short_lines() -> None:
    gt = np.zeros((100, 100), dtype=np.uint8)
    gt[20:80, 20:80] = 1
    scribbles = simulate_scribbles(
        gt, n_strokes_per_class=2, stroke_width=1, stroke_length=20, seed=0
    )
    counts = scribble_pixel_counts(scribbles)
    # Two 1-pixel-wide centre lines of at most 21 pixels each (fewer where they overlap).
    assert set(counts) == {1, 2}
    assert all(10 <= n <= 2 * 21 for n in counts.values())
    _, n_strokes = ndimage.label(scribbles == 2, structure=np.ones((3, 3)))
    assert 1 <= n_strokes <= 2


def test_a_stroke_never_jumps_to_another_object() -> None:
    # Two foreground squares 3 pixels apart; a long stroke stops at its square's border.
    gt = np.zeros((40, 40), dtype=np.uint8)
    gt[10:30, 5:17] = 1
    gt[10:30, 20:32] = 1
    for seed in range(20):
        scribbles = simulate_scribbles(
            gt, n_strokes_per_class=1, stroke_width=3, stroke_length=60, seed=seed, classes=[1]
        )
        _, n_components = ndimage.label(scribbles == 2, structure=np.ones((3, 3)))
        assert n_components == 1


def test_width_thickens_strokes() -> None:
    gt = np.zeros((80, 80), dtype=np.uint8)
    gt[:, 40:] = 1
    thin = scribble_pixel_counts(simulate_scribbles(gt, stroke_width=1, seed=0))
    thick = scribble_pixel_counts(simulate_scribbles(gt, stroke_width=5, seed=0))
    assert all(thick[c] > 2 * thin[c] for c in (1, 2))


def test_multi_class_and_class_selection() -> None:
    gt = np.zeros((60, 60), dtype=np.int64)
    gt[:, 20:40] = 1
    gt[:, 40:] = 2
    scribbles = simulate_scribbles(gt, seed=0)
    assert set(scribble_pixel_counts(scribbles)) == {1, 2, 3}
    _assert_right_classes(scribbles, gt)
    only_class_one = simulate_scribbles(gt, seed=0, classes=[1])
    assert set(scribble_pixel_counts(only_class_one)) == {2}


def test_bool_ground_truth() -> None:
    gt = np.zeros((30, 30), dtype=bool)
    gt[5:25, 5:25] = True
    scribbles = simulate_scribbles(gt, seed=0)
    _assert_right_classes(scribbles, gt.astype(np.uint8))
    assert set(scribble_pixel_counts(scribbles)) == {1, 2}


def test_3d_strokes_on_a_few_slices() -> None:
    gt = np.zeros((8, 40, 40), dtype=np.uint8)
    gt[:, 10:30, 10:30] = 1
    scribbles = simulate_scribbles(gt, n_slices=3, seed=1)
    _assert_right_classes(scribbles, gt)
    annotated = np.flatnonzero(scribbles.any(axis=(1, 2)))
    assert len(annotated) == 3
    for z in annotated:
        assert set(np.unique(scribbles[z]).tolist()) == {0, 1, 2}
    assert len(np.flatnonzero(simulate_scribbles(gt, n_slices=20).any(axis=(1, 2)))) == 8


def test_does_not_mutate_ground_truth(train_sample: NucleiSample) -> None:
    gt = train_sample.gt.copy()
    simulate_scribbles(gt, seed=0)
    np.testing.assert_array_equal(gt, train_sample.gt)


def test_rejects_bad_input() -> None:
    gt = np.zeros((20, 20), dtype=np.uint8)
    gt[5:15, 5:15] = 1
    with pytest.raises(TypeError, match="`semantic_gt` has dtype float64"):
        simulate_scribbles(gt.astype(float))
    with pytest.raises(ValueError, match=r"`semantic_gt` has shape \(20,\)"):
        simulate_scribbles(gt[0])
    with pytest.raises(ValueError, match=r"`classes` \[3\] do not occur in `semantic_gt`"):
        simulate_scribbles(gt, classes=[1, 3])
    with pytest.raises(ValueError, match=r"class ids must lie in 0-254 .* got \[0, 300\]"):
        simulate_scribbles(np.where(gt > 0, 300, 0).astype(np.uint16))
    with pytest.raises(ValueError, match=r"class ids must lie in 0-254 .* got \[\]"):
        simulate_scribbles(gt, classes=[])
    for name in ("n_strokes_per_class", "stroke_width", "stroke_length", "n_slices"):
        with pytest.raises(ValueError, match=f"`{name}` must be ≥ 1, got 0"):
            simulate_scribbles(gt, **{name: 0})


def test_pixel_counts() -> None:
    scribbles = np.array([[0, 1, 1], [3, 0, 1]], dtype=np.uint8)
    assert scribble_pixel_counts(scribbles) == {1: 3, 3: 1}
    assert scribble_pixel_counts(np.zeros((2, 2), dtype=np.uint8)) == {}
    with pytest.raises(TypeError, match="`scribbles` must be an integer numpy array, got float64"):
        scribble_pixel_counts(np.zeros((2, 2)))
