"""Seeded watershed on (background, interior, boundary) probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.postprocess import watershed_from_probabilities
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import three_class_targets

from .helpers import assert_valid_labels, labels, probabilities

TOUCHING = probabilities(
    "BBBBBBBB",
    "BIIbbIIB",
    "BIIbbIIB",
    "BIIbbIIB",
    "BIIbbIIB",
    "BBBBBBBB",
)


def test_two_touching_objects_separated_by_boundary() -> None:
    result = watershed_from_probabilities(TOUCHING)
    expected = labels(
        "........",
        ".111222.",
        ".111222.",
        ".111222.",
        ".111222.",
        "........",
    )
    np.testing.assert_array_equal(result, expected)
    assert_valid_labels(result)


def test_boundary_seen_as_interior_merges_objects() -> None:
    # With a seed threshold below p(interior) of the boundary pixels the seeds join up.
    result = watershed_from_probabilities(TOUCHING, seed_threshold=0.05)
    assert result.max() == 1
    np.testing.assert_array_equal(result, labels(*["........"] + [".111111."] * 4 + ["........"]))


def test_seeds_below_threshold_give_no_objects() -> None:
    p = probabilities("BBBBB", "BLLLB", "BLLLB", "BBBBB")
    result = watershed_from_probabilities(p, seed_threshold=0.5)
    np.testing.assert_array_equal(result, np.zeros((4, 5), dtype=np.uint32))
    assert result.dtype == np.uint32
    # Lowering the seed threshold below p(interior) = 0.4 finds the object.
    np.testing.assert_array_equal(
        watershed_from_probabilities(p, seed_threshold=0.35),
        labels(".....", ".111.", ".111.", "....."),
    )


def test_seed_equal_to_threshold_is_not_a_seed() -> None:
    p = np.zeros((3, 3, 4), dtype=np.float32)
    p[0] = 1.0
    p[:, 1, 1:3] = np.array([0.25, 0.5, 0.25], dtype=np.float32)[:, None]
    assert watershed_from_probabilities(p, seed_threshold=0.5).max() == 0
    np.testing.assert_array_equal(
        watershed_from_probabilities(p, seed_threshold=0.49), labels("....", ".11.", "....")
    )


def test_foreground_threshold_restricts_growth() -> None:
    p = probabilities(
        "BBBBBBB",
        "BWWWWWB",
        "BWIIIWB",
        "BWIIIWB",
        "BWWWWWB",
        "BBBBBBB",
    )
    # 1 - p(bg) of the W ring is 0.4: outside the foreground at 0.5 ...
    np.testing.assert_array_equal(
        watershed_from_probabilities(p, seed_threshold=0.5, foreground_threshold=0.5),
        labels(
            ".......",
            ".......",
            "..111..",
            "..111..",
            ".......",
            ".......",
        ),
    )
    # ... and inside it at 0.3.
    np.testing.assert_array_equal(
        watershed_from_probabilities(p, seed_threshold=0.5, foreground_threshold=0.3),
        labels(
            ".......",
            ".11111.",
            ".11111.",
            ".11111.",
            ".11111.",
            ".......",
        ),
    )


def test_seed_outside_foreground_is_ignored() -> None:
    # p(interior) = 0.6 > seed threshold, but 1 - p(bg) = 0.3 is not foreground.
    p = np.zeros((3, 4, 4), dtype=np.float32)
    p[0] = 1.0
    p[:, 1:3, 1:3] = np.array([0.7, 0.6, 0.0], dtype=np.float32)[:, None, None]
    assert watershed_from_probabilities(p, seed_threshold=0.5).max() == 0
    expected = labels("....", ".11.", ".11.", "....")
    np.testing.assert_array_equal(
        watershed_from_probabilities(p, seed_threshold=0.5, foreground_threshold=0.2), expected
    )


MIXED_SIZES = probabilities(
    "BBBBBBBBB",
    "BIIBIBIIB",
    "BIIBBBIIB",
    "BBBBBBIIB",
    "BBBBBBBBB",
)


@pytest.mark.parametrize(
    ("min_size", "expected"),
    [
        (0, labels(".........", ".11.2.33.", ".11...33.", "......33.", ".........")),
        (1, labels(".........", ".11.2.33.", ".11...33.", "......33.", ".........")),
        (2, labels(".........", ".11...22.", ".11...22.", "......22.", ".........")),
        (4, labels(".........", ".11...22.", ".11...22.", "......22.", ".........")),
        (5, labels(".........", "......11.", "......11.", "......11.", ".........")),
        (7, labels(".........", ".........", ".........", ".........", ".........")),
    ],
)
def test_min_size_removes_and_relabels(min_size: int, expected: np.ndarray) -> None:
    result = watershed_from_probabilities(MIXED_SIZES, min_size=min_size)
    np.testing.assert_array_equal(result, expected)
    assert_valid_labels(result)


def test_3d_input() -> None:
    p = np.zeros((3, 3, 4, 4), dtype=np.float32)
    p[0] = 1.0
    # Object A spans z = 0, 1; object B is in z = 2 only, below A's empty corner.
    p[:, 0:2, 0:2, 0:2] = np.array([0.0, 1.0, 0.0], dtype=np.float32)[:, None, None, None]
    p[:, 2, 2:4, 2:4] = np.array([0.0, 1.0, 0.0], dtype=np.float32)[:, None, None]
    # A one-voxel boundary rim of A at z = 1, x = 2.
    p[:, 1, 0:2, 2] = np.array([0.1, 0.1, 0.8], dtype=np.float32)[:, None]
    result = watershed_from_probabilities(p)
    assert result.shape == (3, 4, 4)
    assert_valid_labels(result)
    expected = np.zeros((3, 4, 4), dtype=np.uint32)
    expected[0:2, 0:2, 0:2] = 1
    expected[1, 0:2, 2] = 1
    expected[2, 2:4, 2:4] = 2
    np.testing.assert_array_equal(result, expected)


def test_recovers_labels_from_their_own_targets() -> None:
    """One-hot probabilities of the 3-class targets of non-touching objects give the labels back."""
    _, truth = synthetic_nuclei((64, 64), n_objects=8, seed=3)
    assert truth.max() >= 3
    one_hot = np.eye(3, dtype=np.float32)[three_class_targets(truth)].transpose(2, 0, 1)
    result = watershed_from_probabilities(one_hot, seed_threshold=0.5, foreground_threshold=0.5)
    assert_valid_labels(result)
    # The same partition (ids may be numbered in a different order).
    np.testing.assert_array_equal(result == 0, truth == 0)
    pairs = np.unique(np.stack([truth.ravel(), result.ravel()]), axis=1)
    assert pairs.shape[1] == truth.max() + 1 == result.max() + 1


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtypes_and_no_mutation(dtype: str) -> None:
    p = TOUCHING.astype(dtype)
    before = p.copy()
    p.setflags(write=False)
    result = watershed_from_probabilities(p, seed_threshold=0.5, foreground_threshold=0.5)
    np.testing.assert_array_equal(p, before)
    assert result.dtype == np.uint32
    assert result.max() == 2


def test_non_contiguous_and_list_input() -> None:
    expected = watershed_from_probabilities(TOUCHING)
    transposed = np.ascontiguousarray(TOUCHING.transpose(0, 2, 1)).transpose(0, 2, 1)
    assert not transposed.flags.c_contiguous
    np.testing.assert_array_equal(watershed_from_probabilities(transposed), expected)
    np.testing.assert_array_equal(watershed_from_probabilities(TOUCHING.tolist()), expected)


def test_all_background() -> None:
    p = probabilities("BBB", "BBB")
    result = watershed_from_probabilities(p)
    np.testing.assert_array_equal(result, np.zeros((2, 3), dtype=np.uint32))
    assert result.dtype == np.uint32


@pytest.mark.parametrize("shape", [(2, 5, 5), (4, 5, 5), (5, 5), (3,), (3, 1, 1, 5, 5), (1, 5, 5)])
def test_bad_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(
        ValueError,
        match=rf"`probabilities` has shape {re_shape(shape)}; expected \(3, \[Z,\] Y, X\)",
    ):
        watershed_from_probabilities(np.zeros(shape, dtype=np.float32))


def re_shape(shape: tuple[int, ...]) -> str:
    return str(shape).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("name", ["seed_threshold", "foreground_threshold"])
@pytest.mark.parametrize("value", [0.0, 1.0, -0.2, 1.5, float("nan")])
def test_bad_threshold_raises(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=rf"`{name}` must be in \(0, 1\), got {value}"):
        watershed_from_probabilities(TOUCHING, **{name: value})
