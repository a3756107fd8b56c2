"""Instance scores from one-to-one object matching, checked against hand counts."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.evaluation import instance_scores, mean_instance_scores


def _groundtruth() -> np.ndarray:
    """Three 3x3 objects (9 pixels each) in a 10x10 image."""
    gt = np.zeros((10, 10), dtype=np.uint16)
    gt[0:3, 0:3] = 1
    gt[0:3, 5:8] = 2
    gt[6:9, 6:9] = 3
    return gt


def _prediction() -> np.ndarray:
    """Two objects: one on GT 1 (IoU 6/9), one shifted off GT 2 (IoU 4/14); none on GT 3."""
    pred = np.zeros((10, 10), dtype=np.uint32)
    pred[0:3, 0:2] = 5
    pred[1:4, 6:9] = 2
    return pred


def _scores(tp: int, fp: int, fn: int) -> dict[str, float]:
    return {
        "ap": tp / (tp + fp),
        "recall": tp / (tp + fn),
        "f1": 2 * tp / (2 * tp + fp + fn),
        "s_dsb": tp / (tp + fp + fn),
    }


def test_one_match_of_three() -> None:
    # TP = 1, FP = 1, FN = 2.
    scores = instance_scores(_prediction(), _groundtruth())
    assert scores == pytest.approx({"ap": 0.5, "recall": 1 / 3, "f1": 0.4, "s_dsb": 0.25})
    assert scores == pytest.approx(_scores(tp=1, fp=1, fn=2))
    assert all(type(value) is float for value in scores.values())


def test_lower_iou_threshold_matches_the_shifted_object() -> None:
    # IoU 4/14 = 0.286 >= 0.25: TP = 2, FP = 0, FN = 1.
    scores = instance_scores(_prediction(), _groundtruth(), iou_threshold=0.25)
    assert scores == pytest.approx({"ap": 1.0, "recall": 2 / 3, "f1": 0.8, "s_dsb": 2 / 3})


def test_higher_iou_threshold_matches_nothing() -> None:
    # IoU 6/9 = 0.667 < 0.7: no true positive, every score is 0.
    scores = instance_scores(_prediction(), _groundtruth(), iou_threshold=0.7)
    assert scores == {"ap": 0.0, "recall": 0.0, "f1": 0.0, "s_dsb": 0.0}


def test_perfect_prediction_with_other_ids() -> None:
    gt = _groundtruth()
    pred = np.zeros_like(gt, dtype=np.int64)
    pred[gt == 1], pred[gt == 2], pred[gt == 3] = 30, 10, 20
    assert instance_scores(pred, gt) == {"ap": 1.0, "recall": 1.0, "f1": 1.0, "s_dsb": 1.0}


def test_swapping_arguments_swaps_precision_and_recall() -> None:
    forward = instance_scores(_prediction(), _groundtruth())
    backward = instance_scores(_groundtruth(), _prediction())
    assert backward["ap"] == pytest.approx(forward["recall"])
    assert backward["recall"] == pytest.approx(forward["ap"])
    assert backward["f1"] == pytest.approx(forward["f1"])
    assert backward["s_dsb"] == pytest.approx(forward["s_dsb"])


def test_matching_is_one_to_one() -> None:
    gt = np.zeros((4, 6), dtype=np.uint8)
    gt[0:2, 0:4] = 1  # 8 pixels
    pred = np.zeros_like(gt)
    pred[0:2, 0:3] = 1  # IoU 6/8
    pred[0:2, 3] = 2  # IoU 2/8
    # Both predictions pass IoU 0.2, but only one can match: TP = 1, FP = 1, FN = 0.
    scores = instance_scores(pred, gt, iou_threshold=0.2)
    assert scores == pytest.approx({"ap": 0.5, "recall": 1.0, "f1": 2 / 3, "s_dsb": 0.5})


def test_merged_prediction_matches_nothing() -> None:
    gt = np.zeros((5, 8), dtype=np.uint8)
    gt[0:4, 0:4] = 1
    gt[0:4, 4:8] = 2
    pred = (gt > 0).astype(np.uint8)
    pred[4, 0] = 1  # one object of 33 pixels over both: IoU 16/33 < 0.5 with each
    assert instance_scores(pred, gt) == {"ap": 0.0, "recall": 0.0, "f1": 0.0, "s_dsb": 0.0}
    # At IoU 0.45 it matches one of them: TP = 1, FP = 0, FN = 1.
    assert instance_scores(pred, gt, iou_threshold=0.45) == pytest.approx(_scores(1, 0, 1))


def test_empty_prediction() -> None:
    scores = instance_scores(np.zeros((10, 10), dtype=np.uint32), _groundtruth())
    assert scores == {"ap": 0.0, "recall": 0.0, "f1": 0.0, "s_dsb": 0.0}


def test_3d_volumes() -> None:
    gt = np.zeros((4, 5, 5), dtype=np.uint32)
    gt[0:2, 0:2, 0:2] = 1
    gt[2:4, 3:5, 3:5] = 2
    pred = gt.copy()
    pred[3, 3:5, 3:5] = 0  # IoU 4/8 = 0.5: IoU >= threshold is a match
    pred[0, 4, 0] = 7  # a one-voxel false positive
    scores = instance_scores(pred, gt)
    assert scores == pytest.approx(_scores(tp=2, fp=1, fn=0))


def test_inputs_not_mutated() -> None:
    pred, gt = _prediction(), _groundtruth()
    pred_before, gt_before = pred.copy(), gt.copy()
    instance_scores(pred, gt)
    np.testing.assert_array_equal(pred, pred_before)
    np.testing.assert_array_equal(gt, gt_before)


def test_shape_mismatch_raises() -> None:
    with pytest.raises(
        ValueError, match=r"`prediction` has shape \(10, 9\) but `groundtruth` has \(10, 10\)"
    ):
        instance_scores(_prediction()[:, :9], _groundtruth())


# --------------------------------------------------------------------------- mean over images


def test_mean_over_images() -> None:
    gt = _groundtruth()
    pairs = [(_prediction(), gt), (gt.copy(), gt)]
    means = mean_instance_scores(pairs)
    assert means == pytest.approx(
        {"ap": 0.75, "recall": 2 / 3, "f1": 0.7, "s_dsb": 0.625, "n_images": 2}
    )
    assert means["n_images"] == 2
    assert isinstance(means["n_images"], int)


def test_mean_accepts_a_generator_and_threshold() -> None:
    gt = _groundtruth()
    means = mean_instance_scores(((p, gt) for p in [_prediction()]), iou_threshold=0.25)
    assert means == pytest.approx(
        {"ap": 1.0, "recall": 2 / 3, "f1": 0.8, "s_dsb": 2 / 3, "n_images": 1}
    )


def test_mean_of_nothing_raises() -> None:
    with pytest.raises(ValueError, match=r"no \(prediction, groundtruth\) pairs to evaluate"):
        mean_instance_scores([])


def test_mean_with_shape_mismatch_raises() -> None:
    gt = _groundtruth()
    with pytest.raises(ValueError, match="`prediction` has shape"):
        mean_instance_scores([(gt, gt), (gt[:5], gt)])
