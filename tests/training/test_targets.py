"""Background / interior / boundary targets from instance labels."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.training import three_class_targets
from semiseg_zoo.training.targets import BACKGROUND, BOUNDARY, INTERIOR


def test_class_ids() -> None:
    assert (BACKGROUND, INTERIOR, BOUNDARY) == (0, 1, 2)


def test_two_touching_objects() -> None:
    labels = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 1, 1, 1, 2, 2],
            [0, 1, 1, 1, 2, 2],
            [0, 1, 1, 1, 2, 2],
            [0, 1, 1, 1, 2, 2],
            [0, 0, 0, 0, 0, 0],
        ],
        dtype=np.uint16,
    )
    # Object 1 has one interior column; object 2 touches the right image border, which is not a
    # boundary, so its right column stays interior where it does not touch background.
    expected = np.array(
        [
            [0, 0, 0, 0, 0, 0],
            [0, 2, 2, 2, 2, 2],
            [0, 2, 1, 2, 2, 1],
            [0, 2, 1, 2, 2, 1],
            [0, 2, 2, 2, 2, 2],
            [0, 0, 0, 0, 0, 0],
        ],
        dtype=np.uint8,
    )
    before = labels.copy()
    targets = three_class_targets(labels)
    np.testing.assert_array_equal(targets, expected)
    assert targets.dtype == np.uint8
    np.testing.assert_array_equal(labels, before)


def test_objects_touching_image_border() -> None:
    labels = np.zeros((6, 6), dtype=np.int64)
    labels[0:4, 0:3] = 1
    labels[0:4, 3:6] = 2
    expected = np.array(
        [
            [1, 1, 2, 2, 1, 1],
            [1, 1, 2, 2, 1, 1],
            [1, 1, 2, 2, 1, 1],
            [2, 2, 2, 2, 2, 2],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
        ],
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(three_class_targets(labels), expected)


def test_single_object_ring() -> None:
    labels = np.zeros((6, 6), dtype=np.int32)
    labels[1:5, 1:5] = 5
    expected = np.zeros((6, 6), dtype=np.uint8)
    expected[1:5, 1:5] = 2
    expected[2:4, 2:4] = 1
    np.testing.assert_array_equal(three_class_targets(labels), expected)


def test_diagonal_contact_is_not_a_boundary() -> None:
    # Objects touching only at a corner: the boundary uses face neighbours.
    labels = np.zeros((4, 4), dtype=np.uint8)
    labels[0:2, 0:2] = 1
    labels[2:4, 2:4] = 2
    expected = np.array(
        [
            [1, 2, 0, 0],
            [2, 2, 0, 0],
            [0, 0, 2, 2],
            [0, 0, 2, 1],
        ],
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(three_class_targets(labels), expected)


def test_empty_and_full() -> None:
    np.testing.assert_array_equal(
        three_class_targets(np.zeros((3, 4), dtype=np.uint32)), np.zeros((3, 4), dtype=np.uint8)
    )
    np.testing.assert_array_equal(
        three_class_targets(np.full((3, 4), 7, dtype=np.uint32)), np.ones((3, 4), dtype=np.uint8)
    )


def test_3d() -> None:
    labels = np.zeros((5, 5, 5), dtype=np.uint32)
    labels[1:4, 1:4, 1:4] = 1
    targets = three_class_targets(labels)
    assert targets.shape == (5, 5, 5)
    expected = np.zeros((5, 5, 5), dtype=np.uint8)
    expected[1:4, 1:4, 1:4] = 2
    expected[2, 2, 2] = 1
    np.testing.assert_array_equal(targets, expected)


@pytest.mark.parametrize("dtype", ["float32", "float64", "bool"])
def test_non_integer_labels_raise(dtype: str) -> None:
    with pytest.raises(
        TypeError, match=rf"`labels` must be an integer label image, got dtype {dtype}"
    ):
        three_class_targets(np.zeros((4, 4), dtype=dtype))
