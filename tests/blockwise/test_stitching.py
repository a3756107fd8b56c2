"""Merging provisional ids across block faces and the global relabelling."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.blockwise.grid import BlockGrid, aligned_read, grow, within
from semiseg_zoo.blockwise.stitching import overlap_merges, resolve_merges


def test_grid_ids_positions_and_neighbours_agree():
    grid = BlockGrid((10, 7, 5), (4, 3, 5))
    assert grid.counts == (3, 3, 1) and len(grid) == 9
    covered = np.zeros(grid.shape, int)
    for block_id in range(len(grid)):
        assert grid.block_id(grid.position(block_id)) == block_id
        covered[grid.region(block_id)] += 1
    assert (covered == 1).all()
    assert grid.upper_neighbour(0, 0) == 3 and grid.upper_neighbour(0, 1) == 1
    assert grid.upper_neighbour(8, 0) == -1 and grid.upper_neighbour(0, 2) == -1


def test_grid_rejects_a_block_shape_of_the_wrong_length():
    with pytest.raises(ValueError, match=r"needs 2 positive values"):
        BlockGrid((10, 10), (4, 4, 4))


def test_regions_grow_clip_and_align_to_the_network_grid():
    region = (slice(10, 20), slice(0, 8))
    assert grow(region, (3, 3), (22, 30)) == (slice(7, 22), slice(0, 11))
    assert within((slice(10, 20),), (slice(7, 22),)) == (slice(3, 13),)
    outer = aligned_read(region, halo=(3, 2), minimum=(16, 16), step=(4, 8), shape=(100, 100))
    assert outer == (slice(4, 23), slice(0, 16))  # start on the grid, at least the minimum


def test_a_few_differently_labelled_voxels_do_not_merge_two_large_objects():
    lower = np.array([1] * 20 + [2] * 20)
    upper = np.array([7] * 20 + [8] * 20)
    upper_disagrees = upper.copy()
    upper_disagrees[18:22] = 7  # the upper block draws the boundary 2 voxels further
    assert overlap_merges(lower, upper).tolist() == [[1, 7], [2, 8]]
    assert overlap_merges(lower, upper_disagrees).tolist() == [[1, 7], [2, 8]]


def test_an_object_split_by_one_block_is_joined_through_the_other():
    lower = np.array([1, 1, 2, 2, 0])
    upper = np.array([5, 5, 5, 5, 0])
    assert overlap_merges(lower, upper).tolist() == [[1, 5], [2, 5]]


def test_views_of_different_shapes_are_refused():
    with pytest.raises(ValueError, match="differ in shape"):
        overlap_merges(np.zeros((2, 3)), np.zeros((3, 2)))


def test_resolve_merges_joins_chains_filters_globally_and_numbers_consecutively():
    ids = np.array([10, 11, 20, 21, 30], dtype=np.uint64)
    sizes = np.array([5, 50, 6, 3, 1])
    merges = [np.array([[10, 20]], "u8"), np.array([[20, 30]], "u8")]
    relabelling = resolve_merges(ids, sizes, merges, min_size=4)
    # {10, 20, 30} has 12 voxels, 11 has 50, 21 has 3 (< min_size): dropped
    assert relabelling.final.tolist() == [1, 2, 1, 0, 1]
    background = resolve_merges(ids, sizes, merges, largest_is_background=True)
    assert background.final.tolist() == [1, 0, 1, 2, 1]
    labels = np.array([[0, 10, 21], [30, 11, 11]], dtype=np.uint64)
    np.testing.assert_array_equal(relabelling.apply(labels), [[0, 1, 0], [1, 2, 2]])


def test_an_unknown_provisional_id_is_an_error_not_a_silent_zero():
    relabelling = resolve_merges(np.array([1, 2], "u8"), np.array([1, 1]), [])
    with pytest.raises(ValueError, match="never recorded"):
        relabelling.apply(np.array([3], dtype=np.uint64))
