"""Match counts per IoU threshold, the scores derived from them and the input checks."""

from __future__ import annotations

import numpy as np
import pytest
from elf.evaluation import matching

from semiseg_zoo.evaluation import MatchCounts, check_label_images, count_objects, match_counts

from .helpers import hand_groundtruth, hand_prediction


def test_hand_pair_counts_at_each_threshold() -> None:
    # IoUs: p1-A 0.75, p2-B 0.625, p3-B 0.375; p4 overlaps nothing. 4 predicted, 2 true.
    counts = match_counts(hand_prediction(), hand_groundtruth(), [0.3, 0.5, 0.7, 0.75, 0.8])
    assert counts == (
        MatchCounts(tp=2, fp=2, fn=0),  # A-p1, B-p2 (B-p3 also passes, but one-to-one)
        MatchCounts(tp=2, fp=2, fn=0),
        MatchCounts(tp=1, fp=3, fn=1),  # only A-p1
        MatchCounts(tp=1, fp=3, fn=1),  # IoU 0.75 >= 0.75 still matches
        MatchCounts(tp=0, fp=4, fn=2),
    )
    assert all(type(v) is int for c in counts for v in (c.tp, c.fp, c.fn))


def test_counts_agree_with_elf_matching_on_random_labels() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        gt = rng.integers(0, 6, size=(12, 12)).repeat(2, axis=0).repeat(2, axis=1)
        pred = np.roll(gt, rng.integers(-2, 3), axis=int(rng.integers(0, 2)))
        pred[rng.random(pred.shape) < 0.1] = rng.integers(0, 9)
        thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
        for t, counts in zip(thresholds, match_counts(pred, gt, thresholds), strict=True):
            stats = matching(pred, gt, threshold=t)
            assert counts.ap == pytest.approx(stats["precision"])
            assert counts.recall == pytest.approx(stats["recall"])
            assert counts.s_dsb == pytest.approx(stats["segmentation_accuracy"])
            assert counts.f1 == pytest.approx(stats["f1"])


def test_scores_from_counts() -> None:
    counts = MatchCounts(tp=2, fp=2, fn=1)
    assert counts.ap == 0.5  # 2 / 4
    assert counts.recall == pytest.approx(2 / 3)
    assert counts.f1 == pytest.approx(4 / 7)  # 4 / (4 + 2 + 1)
    assert counts.s_dsb == pytest.approx(2 / 5)


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # neither image has objects: perfect
        (MatchCounts(0, 0, 0), (1.0, 1.0, 1.0, 1.0)),
        # empty prediction, 3 true objects
        (MatchCounts(0, 0, 3), (0.0, 0.0, 0.0, 0.0)),
        # 2 predicted objects, empty ground truth (recall's 0/0 is 0)
        (MatchCounts(0, 2, 0), (0.0, 0.0, 0.0, 0.0)),
    ],
)
def test_empty_image_conventions(counts: MatchCounts, expected: tuple[float, ...]) -> None:
    assert (counts.ap, counts.recall, counts.f1, counts.s_dsb) == expected


def test_empty_images_give_zero_true_positives() -> None:
    empty = np.zeros((5, 5), dtype=np.uint8)
    gt = hand_groundtruth()
    assert match_counts(empty, empty, [0.5]) == (MatchCounts(0, 0, 0),)
    assert match_counts(np.zeros_like(gt), gt, [0.5]) == (MatchCounts(0, 0, 2),)
    assert match_counts(gt, np.zeros_like(gt), [0.5]) == (MatchCounts(0, 2, 0),)


@pytest.mark.parametrize("thresholds", [[], [0.0], [1.2], [-0.5, 0.5]])
def test_bad_thresholds_raise(thresholds: list[float]) -> None:
    gt = hand_groundtruth()
    with pytest.raises(
        ValueError, match=r"`iou_thresholds` must be one or more values in \(0, 1\]"
    ):
        match_counts(gt, gt, thresholds)


def test_count_objects_ignores_background_and_gaps() -> None:
    assert count_objects(np.array([[0, 7, 7], [3, 0, 100]])) == 3
    assert count_objects(np.zeros((3, 3), dtype=np.uint8)) == 0


# ------------------------------------------------------------------------------- input checks


def test_float_labels_raise_type_error() -> None:
    gt = hand_groundtruth()
    with pytest.raises(TypeError, match=r"`prediction` has dtype float32 but a label image"):
        check_label_images(gt.astype(np.float32), gt)
    with pytest.raises(TypeError, match=r"`groundtruth` has dtype float64"):
        check_label_images(gt, gt.astype(np.float64))


def test_boolean_mask_raises_type_error() -> None:
    gt = hand_groundtruth()
    with pytest.raises(TypeError, match=r"`prediction` is a boolean mask, not a label image"):
        check_label_images(gt > 0, gt)


def test_shape_mismatch_names_both_shapes() -> None:
    gt = hand_groundtruth()
    with pytest.raises(
        ValueError, match=r"`prediction` has shape \(4, 9\) but `groundtruth` has \(4, 10\)"
    ):
        check_label_images(gt[:, :9], gt)


def test_negative_ids_raise() -> None:
    gt = hand_groundtruth().astype(np.int16)
    pred = gt.copy()
    pred[0, 0] = -3
    with pytest.raises(ValueError, match=r"`prediction` holds negative ids \(minimum -3\)"):
        check_label_images(pred, gt)


def test_images_without_pixels_raise() -> None:
    empty = np.zeros((0, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"the label images have no pixels \(shape \(0, 4\)\)"):
        check_label_images(empty, empty)


def test_mixed_integer_dtypes_are_accepted() -> None:
    gt = hand_groundtruth()
    for dtype in (np.uint8, np.int64, np.uint64):
        (counts,) = match_counts(gt.astype(dtype), gt, [0.5])
        assert counts == MatchCounts(2, 0, 0)
