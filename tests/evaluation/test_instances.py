"""Instance scores from one-to-one object matching, checked against hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from elf.evaluation import mean_segmentation_accuracy

from semiseg_zoo.evaluation import (
    AP_10_90_THRESHOLDS,
    DSB_THRESHOLDS,
    ap,
    ap_10_90,
    dsb_map,
    instance_metrics,
    instance_scores,
    match_counts,
    mean_instance_scores,
)

from .helpers import hand_groundtruth, hand_prediction


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


def test_both_images_empty_score_one() -> None:
    empty = np.zeros((10, 10), dtype=np.uint8)
    assert instance_scores(empty, empty) == {"ap": 1.0, "recall": 1.0, "f1": 1.0, "s_dsb": 1.0}


# ---------------------------------------------------- ACTIS AP, AP.10:.90 and DSB 2018 mean AP
# The hand pair (tests/evaluation/helpers.py): 4 predicted, 2 true objects; one-to-one IoUs of
# the best matches p1-A 0.75, p2-B 0.625 (p3-B 0.375 is the split-off part, p4 a false positive).
#   IoU t <= 0.625:       TP 2, FP 2, FN 0 -> AP 2/4 = 0.5,  TP/(TP+FP+FN) 2/4 = 0.5
#   0.625 < t <= 0.75:    TP 1, FP 3, FN 1 -> AP 1/4 = 0.25, TP/(TP+FP+FN) 1/5 = 0.2
#   t > 0.75:             TP 0             -> 0


def test_ap_at_thresholds_on_hand_pair() -> None:
    pred, gt = hand_prediction(), hand_groundtruth()
    assert ap(pred, gt) == 0.5
    assert ap(pred, gt, iou_threshold=0.7) == 0.25
    assert ap(pred, gt, iou_threshold=0.75) == 0.25  # IoU >= threshold matches
    assert ap(pred, gt, iou_threshold=0.76) == 0.0


def test_ap_10_90_uses_actis_nine_thresholds() -> None:
    assert AP_10_90_THRESHOLDS == (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    # t = .1 ... .6: 0.5 each (6 x 0.5 = 3.0); t = .7: 0.25; t = .8, .9: 0 -> 3.25 / 9
    assert ap_10_90(hand_prediction(), hand_groundtruth()) == pytest.approx(3.25 / 9)


def test_dsb_map_on_hand_pair() -> None:
    assert DSB_THRESHOLDS == (0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
    # t = .50, .55, .60: 0.5 each; t = .65, .70, .75: 0.2 each; t = .80 ... .95: 0 -> 2.1 / 10
    assert dsb_map(hand_prediction(), hand_groundtruth()) == pytest.approx(0.21)


def test_dsb_map_equals_elf_mean_segmentation_accuracy_when_not_tied() -> None:
    pred, gt = _prediction(), _groundtruth()
    assert dsb_map(pred, gt) == pytest.approx(mean_segmentation_accuracy(pred, gt))


def test_exact_iou_at_a_grid_threshold_matches() -> None:
    # IoU 6/10 = 0.6 exactly: np.arange(0.5, 1, 0.05) has 0.6000000000000001 and would miss it.
    gt = np.zeros((2, 5), dtype=np.uint8)
    gt[:, :] = 1
    pred = np.zeros_like(gt)
    pred[:, :3] = 1
    (_, _, at_60, at_65, *_) = match_counts(pred, gt, DSB_THRESHOLDS)
    assert (at_60.tp, at_65.tp) == (1, 0)
    assert dsb_map(pred, gt) == pytest.approx(0.3)  # t = .50, .55, .60 score 1


def test_instance_metrics_on_hand_pair() -> None:
    scores = instance_metrics(hand_prediction(), hand_groundtruth())
    assert list(scores) == ["ap50", "ap_10_90", "f1", "s_dsb", "dsb_map"]
    assert scores == pytest.approx(
        {
            "ap50": 0.5,
            "ap_10_90": 3.25 / 9,
            "f1": 4 / 6,  # 2TP / (2TP + FP + FN) = 4 / (4 + 2 + 0)
            "s_dsb": 0.5,
            "dsb_map": 0.21,
        }
    )
    assert all(type(value) is float for value in scores.values())


def test_instance_metrics_of_perfect_and_empty_predictions() -> None:
    gt = hand_groundtruth()
    relabelled = np.where(gt > 0, gt.astype(np.int64) + 40, 0)
    assert instance_metrics(relabelled, gt) == dict.fromkeys(
        ["ap50", "ap_10_90", "f1", "s_dsb", "dsb_map"], 1.0
    )
    assert set(instance_metrics(np.zeros_like(gt), gt).values()) == {0.0}
    empty = np.zeros_like(gt)
    assert set(instance_metrics(empty, empty).values()) == {1.0}
