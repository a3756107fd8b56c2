"""Threshold + connected components, and the shared small-object removal."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.postprocess import connected_components_from_foreground, remove_small_objects

from .helpers import assert_valid_labels, labels

FOREGROUND = np.array(
    [
        [0.9, 0.9, 0.0, 0.0, 0.0, 0.0],
        [0.9, 0.0, 0.0, 0.0, 0.8, 0.0],
        [0.0, 0.0, 0.0, 0.7, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        [0.6, 0.6, 0.6, 0.0, 0.0, 0.51],
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.5],
    ]
)


def test_components_with_face_connectivity() -> None:
    # (1, 4) and (2, 3) touch diagonally only: two objects. 0.5 is not > 0.5.
    result = connected_components_from_foreground(FOREGROUND, threshold=0.5)
    expected = labels(
        "11....",
        "1...2.",
        "...3..",
        "......",
        "444..5",
        "......",
    )
    np.testing.assert_array_equal(result, expected)
    assert_valid_labels(result)


def test_higher_threshold() -> None:
    result = connected_components_from_foreground(FOREGROUND, threshold=0.65)
    expected = labels(
        "11....",
        "1...2.",
        "...3..",
        "......",
        "......",
        "......",
    )
    np.testing.assert_array_equal(result, expected)


@pytest.mark.parametrize(
    ("min_size", "expected"),
    [
        (2, labels("11....", "1.....", "......", "......", "222...", "......")),
        (3, labels("11....", "1.....", "......", "......", "222...", "......")),
        (4, np.zeros((6, 6), dtype=np.uint32)),
    ],
)
def test_min_size(min_size: int, expected: np.ndarray) -> None:
    result = connected_components_from_foreground(FOREGROUND, threshold=0.5, min_size=min_size)
    np.testing.assert_array_equal(result, expected)
    assert_valid_labels(result)


def test_channel_axis_is_optional() -> None:
    expected = connected_components_from_foreground(FOREGROUND)
    np.testing.assert_array_equal(connected_components_from_foreground(FOREGROUND[None]), expected)


def test_3d() -> None:
    volume = np.zeros((3, 4, 4))
    volume[0, 0, 0] = volume[1, 0, 0] = 0.9  # one object across z
    volume[2, 3, 3] = 0.9
    volume[0, 1, 1] = 0.9  # diagonal to (0, 0, 0): separate
    expected = np.zeros((3, 4, 4), dtype=np.uint32)
    expected[0, 0, 0] = expected[1, 0, 0] = 1
    expected[0, 1, 1] = 2
    expected[2, 3, 3] = 3
    result = connected_components_from_foreground(volume)
    np.testing.assert_array_equal(result, expected)
    np.testing.assert_array_equal(connected_components_from_foreground(volume[None]), expected)
    np.testing.assert_array_equal(
        connected_components_from_foreground(volume, min_size=2), (expected == 1).astype(np.uint32)
    )


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_no_mutation_and_dtype(dtype: str) -> None:
    p = FOREGROUND.astype(dtype)
    before = p.copy()
    p.setflags(write=False)
    result = connected_components_from_foreground(p, threshold=0.55, min_size=2)
    np.testing.assert_array_equal(p, before)
    assert result.dtype == np.uint32
    assert result.max() == 2


def test_empty() -> None:
    result = connected_components_from_foreground(np.zeros((4, 5)), min_size=3)
    np.testing.assert_array_equal(result, np.zeros((4, 5), dtype=np.uint32))
    assert result.dtype == np.uint32


@pytest.mark.parametrize("shape", [(5,), (2, 3, 5, 5), (1, 1, 1, 5, 5), (3, 1, 4, 4, 4)])
def test_bad_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"expected \(1, \[Z,\] Y, X\) or \(\[Z,\] Y, X\)"):
        connected_components_from_foreground(np.zeros(shape))


@pytest.mark.parametrize("threshold", [0.0, 1.0, -1.0, 2.0, float("nan")])
def test_bad_threshold_raises(threshold: float) -> None:
    with pytest.raises(ValueError, match=rf"`threshold` must be in \(0, 1\), got {threshold}"):
        connected_components_from_foreground(FOREGROUND, threshold=threshold)


# --------------------------------------------------------------------------- remove_small_objects


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "uint32", "uint64", "int32", "int64"])
def test_remove_small_objects(dtype: str) -> None:
    image = np.array(
        [
            [7, 7, 0, 3, 0],
            [7, 7, 0, 0, 0],
            [0, 0, 0, 9, 9],
            [5, 0, 0, 9, 9],
            [5, 0, 0, 9, 0],
        ],
        dtype=dtype,
    )
    before = image.copy()
    result = remove_small_objects(image, 2)
    np.testing.assert_array_equal(image, before)
    assert result.dtype == np.uint32
    # Sizes: 7 → 4, 3 → 1, 9 → 5, 5 → 2. Ids are renumbered in order of the old ids.
    expected = np.array(
        [
            [2, 2, 0, 0, 0],
            [2, 2, 0, 0, 0],
            [0, 0, 0, 3, 3],
            [1, 0, 0, 3, 3],
            [1, 0, 0, 3, 0],
        ],
        dtype=np.uint32,
    )
    np.testing.assert_array_equal(result, expected)


def test_remove_small_objects_zero_only_relabels() -> None:
    image = np.array([[0, 4], [10, 4]], dtype=np.uint16)
    result = remove_small_objects(image, 0)
    np.testing.assert_array_equal(result, np.array([[0, 1], [2, 1]], dtype=np.uint32))
    assert result.dtype == np.uint32
    assert result is not image


def test_remove_small_objects_returns_a_copy() -> None:
    image = np.array([[0, 1], [2, 2]], dtype=np.uint32)
    result = remove_small_objects(image, 0)
    result[0, 1] = 99
    assert image[0, 1] == 1


def test_remove_small_objects_all_removed() -> None:
    result = remove_small_objects(np.array([[1, 0], [0, 2]], dtype=np.uint32), 5)
    np.testing.assert_array_equal(result, np.zeros((2, 2), dtype=np.uint32))
