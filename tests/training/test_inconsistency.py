"""Inconsistency Masks: Algorithms 1 and 2, erosion/dilation with class refill, training pairs."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.training import (
    IGNORE_INDEX,
    inconsistency_mask_binary,
    inconsistency_mask_multiclass,
    masked_training_pair,
    refine_inconsistency_mask,
)


def test_algorithm_1_binary() -> None:
    a = np.array([[1, 1, 0], [0, 1, 0]])
    b = np.array([[1, 0, 0], [1, 1, 0]])
    c = np.array([[1, 1, 0], [0, 1, 1]])
    final, mask = inconsistency_mask_binary([a, b, c])
    # Vote sums [[3, 2, 0], [1, 3, 1]]: F where 3, I where 1 or 2.
    assert final.tolist() == [[1, 0, 0], [0, 1, 0]]
    assert mask.tolist() == [[0, 1, 0], [1, 0, 1]]
    assert final.dtype == mask.dtype == np.uint8


def test_algorithm_1_needs_two_binary_predictions() -> None:
    with pytest.raises(ValueError, match=">= 2"):
        inconsistency_mask_binary([np.zeros((2, 2))])
    with pytest.raises(ValueError, match="only 0 and 1"):
        inconsistency_mask_binary([np.zeros((2, 2)), np.full((2, 2), 0.7)])
    with pytest.raises(ValueError, match="same shape"):
        inconsistency_mask_binary([np.zeros((2, 2)), np.zeros((2, 3))])


def test_algorithm_2_multiclass() -> None:
    a = np.array([[0, 1, 2], [2, 2, 1]])
    b = np.array([[0, 1, 1], [2, 0, 1]])
    final, mask = inconsistency_mask_multiclass([a, b])
    assert final.tolist() == [[0, 1, 0], [2, 0, 1]]
    assert mask.tolist() == [[0, 0, 1], [0, 1, 0]]


def test_erosion_refills_classes_then_dilation_grows_the_mask() -> None:
    final = np.zeros((7, 7), np.uint8)
    final[:, :2] = 1  # class 1 on the left
    final[:, 5:] = 2  # class 2 on the right
    mask = np.zeros((7, 7), np.uint8)
    mask[:, 2:5] = 1  # disagreement band of width 3 between them
    # Erosion with a 3-box keeps only the band's centre column; the two removed columns are
    # refilled by the dilated class masks (each reaches one pixel into the band).
    refined, eroded = refine_inconsistency_mask(final, mask, erosion=3)
    expected_mask = np.zeros((7, 7), np.uint8)
    expected_mask[:, 3] = 1
    assert eroded.tolist() == expected_mask.tolist()
    assert (refined[:, 2] == 1).all() and (refined[:, 4] == 2).all()
    assert (refined[:, 3] == 0).all()
    # Dilation with a 3-box afterwards grows the mask back to the band (classes stay).
    refined2, dilated = refine_inconsistency_mask(final, mask, erosion=3, dilation=3)
    assert dilated.tolist() == mask.tolist()
    assert np.array_equal(refined2, refined)
    # Erosion with no class nearby leaves removed pixels as background.
    lonely = np.zeros((5, 5), np.uint8)
    lonely[1:4, 1:4] = 1
    refined3, eroded3 = refine_inconsistency_mask(np.zeros((5, 5), np.uint8), lonely, erosion=3)
    assert eroded3.sum() == 1 and eroded3[2, 2] == 1 and refined3.max() == 0


def test_no_refinement_is_the_identity() -> None:
    final = np.array([[0, 1], [2, 0]], np.uint8)
    mask = np.array([[1, 0], [0, 1]], np.uint8)
    refined, same = refine_inconsistency_mask(final, mask)
    assert np.array_equal(refined, final) and np.array_equal(same, mask)


def test_training_pair_blacks_out_and_ignores_masked_pixels() -> None:
    image = np.full((1, 2, 3), 0.8, np.float32)
    final = np.array([[1, 1, 2], [0, 0, 0]], np.uint8)
    mask = np.array([[0, 0, 0], [1, 1, 0]], np.uint8)
    blacked, target = masked_training_pair(image, final, mask)
    np.testing.assert_allclose(blacked[0], [[0.8, 0.8, 0.8], [0.0, 0.0, 0.8]])
    assert target.tolist() == [[1, 1, 2], [IGNORE_INDEX, IGNORE_INDEX, 0]]


def test_training_pair_is_rejected_unless_foreground_outnumbers_the_mask() -> None:
    image = np.zeros((1, 2, 3), np.float32)
    final = np.array([[1, 1, 0], [0, 0, 0]], np.uint8)
    mask = np.array([[0, 0, 0], [1, 1, 0]], np.uint8)
    assert masked_training_pair(image, final, mask) is None  # 2 foreground vs 2 masked
    final[0, 2] = 2
    assert masked_training_pair(image, final, mask) is not None  # 3 vs 2
    with pytest.raises(ValueError, match="same spatial shape"):
        masked_training_pair(np.zeros((1, 3, 3)), final, mask)
