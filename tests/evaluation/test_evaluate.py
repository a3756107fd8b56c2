"""evaluate_pair / evaluate_pairs: metric selection, all metrics at once, means over images."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.evaluation import (
    METRIC_GROUPS,
    METRICS,
    evaluate_pair,
    evaluate_pairs,
    mean_scores,
    resolve_metrics,
)

from .helpers import entropy_bits, hand_groundtruth, hand_prediction

# All metrics of the hand pair, computed by hand in test_instances, test_cvppp, test_partitions.
HAND_SCORES = {
    "ap50": 0.5,
    "ap_10_90": 3.25 / 9,
    "f1": 4 / 6,
    "s_dsb": 0.5,
    "dsb_map": 0.21,
    "sbd": (6 / 7 + 10 / 13 + 6 / 11) / 4,
    "abs_dic": 2.0,
    "vi_split": (12 * entropy_bits(9, 3) + 16 * entropy_bits(10, 6)) / 28,
    "vi_merge": 0.0,
    "are": 174 / 626,
}
PERFECT = {
    **dict.fromkeys(METRIC_GROUPS["instance"], 1.0),
    "sbd": 1.0,
    **dict.fromkeys(["abs_dic", *METRIC_GROUPS["em"]], 0.0),
}


def test_all_metrics_of_hand_pair() -> None:
    scores = evaluate_pair(hand_prediction(), hand_groundtruth())
    assert list(scores) == list(METRICS)
    assert scores == pytest.approx(HAND_SCORES, abs=1e-6)
    assert all(type(value) is float for value in scores.values())


def test_perfect_3d_prediction() -> None:
    gt = np.zeros((3, 6, 6), dtype=np.uint32)
    gt[0:2, 0:3, 0:3] = 1
    gt[1:3, 3:6, 2:6] = 2
    scores = evaluate_pair(np.where(gt > 0, gt + 5, 0), gt)
    assert scores == pytest.approx(PERFECT, abs=1e-6)


def test_both_images_empty() -> None:
    empty = np.zeros((6, 6), dtype=np.uint16)
    assert evaluate_pair(empty, empty) == PERFECT


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        ("em", ("vi_split", "vi_merge", "are")),
        (["are", "cvppp", "are"], ("sbd", "abs_dic", "are")),
        (["dsb_map", "ap50"], ("ap50", "dsb_map")),
        ("all", METRICS),
        (["instance", "all"], METRICS),
    ],
)
def test_metric_selection(metrics, expected) -> None:
    assert resolve_metrics(metrics) == expected
    scores = evaluate_pair(hand_prediction(), hand_groundtruth(), metrics=metrics)
    assert tuple(scores) == expected
    assert scores == pytest.approx({k: HAND_SCORES[k] for k in expected}, abs=1e-6)


def test_unknown_metric_raises() -> None:
    with pytest.raises(ValueError, match=r"unknown metric 'ap75'; choose from all, instance, "):
        evaluate_pair(hand_groundtruth(), hand_groundtruth(), metrics=["ap75"])


def test_no_metric_raises() -> None:
    with pytest.raises(ValueError, match="`metrics` is empty"):
        resolve_metrics([])


def test_evaluate_pair_checks_inputs() -> None:
    gt = hand_groundtruth()
    with pytest.raises(ValueError, match=r"`prediction` has shape \(4, 8\) but `groundtruth` has"):
        evaluate_pair(gt[:, :8], gt)
    with pytest.raises(TypeError, match="`prediction` has dtype float64"):
        evaluate_pair(gt.astype(float), gt)


def test_inputs_not_mutated() -> None:
    pred, gt = hand_prediction(), hand_groundtruth()
    evaluate_pair(pred, gt)
    np.testing.assert_array_equal(pred, hand_prediction())
    np.testing.assert_array_equal(gt, hand_groundtruth())


def test_evaluate_pairs_rows_and_mean() -> None:
    gt = hand_groundtruth()
    pairs = ((p, gt) for p in [hand_prediction(), gt.copy()])  # any iterable
    result = evaluate_pairs(pairs, metrics=["ap50", "abs_dic", "are"])
    assert result.rows == [
        pytest.approx({"ap50": 0.5, "abs_dic": 2.0, "are": 174 / 626}),
        {"ap50": 1.0, "abs_dic": 0.0, "are": 0.0},
    ]
    assert result.mean == pytest.approx({"ap50": 0.75, "abs_dic": 1.0, "are": 87 / 626})


def test_evaluate_pairs_without_pairs_raises() -> None:
    with pytest.raises(ValueError, match=r"no \(prediction, groundtruth\) pairs to evaluate"):
        evaluate_pairs([])


def test_mean_scores_needs_matching_rows() -> None:
    with pytest.raises(ValueError, match=r"row 1 has metrics \['ap50'\] but row 0 has"):
        mean_scores([{"ap50": 1.0, "f1": 1.0}, {"ap50": 1.0}])
    with pytest.raises(ValueError, match="no rows to average"):
        mean_scores([])
