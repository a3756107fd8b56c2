"""Affinity targets and the annotated-pair mask R_a^L against a brute-force loop."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from semiseg_zoo.training.affinity.targets import UNANNOTATED, affinity_targets


def brute_force(labels: np.ndarray, offsets: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    targets = np.zeros((len(offsets), *labels.shape), dtype=np.float32)
    mask = np.zeros(targets.shape, dtype=bool)
    for n, offset in enumerate(offsets):
        for index in itertools.product(*(range(s) for s in labels.shape)):
            other = tuple(i + o for i, o in zip(index, offset, strict=True))
            if not all(0 <= j < s for j, s in zip(other, labels.shape, strict=True)):
                continue
            targets[(n, *index)] = labels[index] == labels[other]
            mask[(n, *index)] = labels[index] != UNANNOTATED or labels[other] != UNANNOTATED
    return targets, mask


@pytest.mark.parametrize(
    ("shape", "offsets"),
    [
        ((9, 11), [[-1, 0], [0, -1], [-3, 0], [0, -3], [2, 5], [-4, 4], [0, 12]]),
        ((4, 6, 7), [[-1, 0, 0], [0, -1, 0], [0, 0, -1], [-2, 0, 0], [0, -3, 0], [1, 2, -3]]),
    ],
)
def test_targets_and_mask_match_a_brute_force_loop(shape, offsets):
    rng = np.random.default_rng(3)
    labels = rng.integers(-1, 4, size=shape)
    targets, mask = affinity_targets(labels, offsets)
    expected_targets, expected_mask = brute_force(labels, offsets)
    np.testing.assert_array_equal(targets, expected_targets)
    np.testing.assert_array_equal(mask, expected_mask)
    assert mask.any() and not mask.all()


def test_unannotated_region_counts_as_one_id():
    labels = np.array([[5, 5, -1, -1, 0, 0]])
    targets, mask = affinity_targets(labels, [[0, 1]])
    # 5|5 same, 5|-1 different (annotated), -1|-1 same but unannotated, -1|0 different
    # (annotated background), 0|0 same, last pair leaves the image.
    assert targets[0, 0].tolist() == [1, 0, 1, 0, 1, 0]
    assert mask[0, 0].tolist() == [True, True, False, True, True, False]


def test_dense_labels_annotate_every_pair_inside_the_image():
    labels = np.arange(12).reshape(3, 4) // 2
    _, mask = affinity_targets(labels, [[0, -1], [-2, 0]])
    assert mask[0].sum() == 3 * 3 and mask[1].sum() == 1 * 4


def test_offsets_beyond_the_image_give_an_empty_mask():
    _, mask = affinity_targets(np.zeros((3, 3), dtype=int), [[0, -5]])
    assert not mask.any()


@pytest.mark.parametrize(
    ("offsets", "message"),
    [([[0, 0]], "zero offset"), ([[1, 0, 0]], "expected"), ([[0.5, 1]], "integers")],
)
def test_bad_offsets_get_a_clear_error(offsets, message):
    with pytest.raises(ValueError, match=message):
        affinity_targets(np.zeros((4, 4), dtype=int), offsets)


def test_float_labels_are_refused():
    with pytest.raises(ValueError, match="integer"):
        affinity_targets(np.zeros((4, 4)), [[0, 1]])
