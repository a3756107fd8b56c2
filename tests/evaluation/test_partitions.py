"""Variation of information (split/merge direction) and adapted Rand error by hand."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.evaluation import adapted_rand_error, variation_of_information

from .helpers import entropy_bits, hand_groundtruth, hand_prediction


def _one_object() -> np.ndarray:
    return np.ones((2, 4), dtype=np.uint8)  # 8 pixels, one object


def _two_halves() -> np.ndarray:
    labels = np.ones((2, 4), dtype=np.uint8)
    labels[:, 2:] = 2
    return labels


def test_split_object_is_split_error() -> None:
    # GT: one object; prediction: its two halves. H(pred | gt) = H(1/2, 1/2) = 1 bit,
    # H(gt | pred) = 0.
    vi = variation_of_information(_two_halves(), _one_object())
    assert vi == (1.0, 0.0)
    assert (vi.split, vi.merge) == (1.0, 0.0)


def test_merged_objects_are_merge_error() -> None:
    # GT: two halves; prediction: one object over both. H(gt | pred) = 1 bit.
    vi = variation_of_information(_one_object(), _two_halves())
    assert (vi.split, vi.merge) == (0.0, 1.0)


def test_vi_on_hand_pair() -> None:
    # Only the 28 pixels of GT objects count. A (12 px) holds p1 9 + predicted background 3;
    # B (16 px) holds p2 10 + p3 6. Every predicted label lies in one GT object, so merge = 0;
    # split = sum over GT objects of |object| / 28 * H(labels inside it).
    split = (12 * entropy_bits(9, 3) + 16 * entropy_bits(10, 6)) / 28  # 0.89308
    vi = variation_of_information(hand_prediction(), hand_groundtruth())
    assert vi.split == pytest.approx(split)
    assert vi.split == pytest.approx(0.893081, abs=1e-6)
    assert vi.merge == 0.0


def test_vi_and_are_of_perfect_match_are_zero() -> None:
    gt = hand_groundtruth()
    relabelled = np.where(gt > 0, 10 - gt.astype(np.int64), 0)
    assert variation_of_information(relabelled, gt) == (0.0, 0.0)
    assert adapted_rand_error(relabelled, gt) == 0.0


def test_are_of_split_object() -> None:
    # Pair counts: sum n_ij^2 = 4^2 + 4^2 = 32, prediction sum 4^2 + 4^2 = 32, GT 8^2 = 64.
    # precision 32/32 = 1, recall 32/64 = 1/2, F = 2 * 1/2 / (3/2) = 2/3, ARE = 1/3.
    assert adapted_rand_error(_two_halves(), _one_object()) == pytest.approx(1 / 3)
    # Merging is the mirror image: precision 1/2, recall 1, same ARE.
    assert adapted_rand_error(_one_object(), _two_halves()) == pytest.approx(1 / 3)


def test_are_on_hand_pair() -> None:
    # n_ij: (A, p1) 9, (A, 0) 3, (B, p2) 10, (B, p3) 6 -> sum n_ij^2 = 81 + 9 + 100 + 36 = 226.
    # Prediction segments (on GT pixels) 9, 3, 10, 6 -> 226; GT 12^2 + 16^2 = 400.
    # precision 1, recall 226/400; F = 2 * 226 / (400 + 226) = 452/626; ARE = 174/626.
    assert adapted_rand_error(hand_prediction(), hand_groundtruth()) == pytest.approx(174 / 626)


def test_background_of_groundtruth_is_ignored() -> None:
    gt = hand_groundtruth()
    pred = gt.copy()
    pred[gt == 0] = 99  # a false positive covering all GT background changes nothing
    assert variation_of_information(pred, gt) == (0.0, 0.0)
    assert adapted_rand_error(pred, gt) == 0.0


def test_predicted_background_inside_objects_is_one_segment() -> None:
    # Empty prediction: the 28 GT pixels form one predicted segment (0) that merges A and B.
    gt = hand_groundtruth()
    vi = variation_of_information(np.zeros_like(gt), gt)
    assert vi.split == 0.0
    assert vi.merge == pytest.approx(entropy_bits(12, 16))  # 0.98523
    # sum n_ij^2 = 400, prediction 28^2 = 784: precision 400/784, recall 1 -> ARE = 384/1184
    assert adapted_rand_error(np.zeros_like(gt), gt) == pytest.approx(384 / 1184)


def test_groundtruth_without_objects_scores_zero_error() -> None:
    gt = hand_groundtruth()
    empty = np.zeros_like(gt)
    assert variation_of_information(gt, empty) == (0.0, 0.0)
    assert adapted_rand_error(gt, empty) == 0.0
    assert adapted_rand_error(empty, empty) == 0.0


def test_partition_metrics_check_inputs() -> None:
    gt = hand_groundtruth()
    with pytest.raises(ValueError, match=r"but `groundtruth` has \(4, 10\)"):
        variation_of_information(gt[:2], gt)
    with pytest.raises(TypeError, match="boolean mask"):
        adapted_rand_error(gt > 0, gt)
