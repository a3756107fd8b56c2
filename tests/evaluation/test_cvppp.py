"""Symmetric best Dice and |DiC| against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.evaluation import abs_difference_in_count, symmetric_best_dice

from .helpers import hand_groundtruth, hand_prediction

# elf adds 1e-7 to each Dice denominator.
TOLERANCE = 1e-6


def test_sbd_on_hand_pair() -> None:
    # Best Dice 2|X∩Y| / (|X| + |Y|) of each predicted object with any true object:
    #   p1 (9 px) in A (12): 18/21 = 6/7;  p2 (10) in B (16): 20/26 = 10/13;
    #   p3 (6) in B: 12/22 = 6/11;         p4: no overlap, 0
    # BD(pred, gt) = (6/7 + 10/13 + 6/11 + 0) / 4 = 0.54296
    # BD(gt, pred) = (6/7 + 10/13) / 2 = 0.81319 (A's best is p1, B's best is p2)
    # SBD = min = 0.54296
    expected = (6 / 7 + 10 / 13 + 6 / 11 + 0) / 4
    sbd = symmetric_best_dice(hand_prediction(), hand_groundtruth())
    assert sbd == pytest.approx(expected, abs=TOLERANCE)
    assert type(sbd) is float


def test_sbd_is_symmetric() -> None:
    pred, gt = hand_prediction(), hand_groundtruth()
    assert symmetric_best_dice(gt, pred) == pytest.approx(symmetric_best_dice(pred, gt))


def test_sbd_ignores_background() -> None:
    # One 4-pixel object predicted exactly; the rest of a large image is background in both.
    gt = np.zeros((50, 50), dtype=np.uint8)
    gt[10:12, 10:12] = 3
    pred = np.where(gt > 0, 9, 0)
    assert symmetric_best_dice(pred, gt) == pytest.approx(1.0, abs=TOLERANCE)


def test_sbd_empty_images() -> None:
    gt = hand_groundtruth()
    empty = np.zeros_like(gt)
    assert symmetric_best_dice(empty, empty) == 1.0
    assert symmetric_best_dice(empty, gt) == 0.0
    assert symmetric_best_dice(gt, empty) == 0.0


def test_abs_dic() -> None:
    gt = hand_groundtruth()  # 2 objects
    assert abs_difference_in_count(hand_prediction(), gt) == 2  # |4 - 2|
    assert abs_difference_in_count(gt, hand_prediction()) == 2
    assert abs_difference_in_count(np.zeros_like(gt), gt) == 2  # |0 - 2|
    assert abs_difference_in_count(gt * 7, gt) == 0  # ids need not agree


def test_cvppp_metrics_check_inputs() -> None:
    gt = hand_groundtruth()
    with pytest.raises(ValueError, match=r"`prediction` has shape \(4, 5\)"):
        symmetric_best_dice(gt[:, :5], gt)
    with pytest.raises(TypeError, match="has dtype float32"):
        abs_difference_in_count(gt, gt.astype(np.float32))
