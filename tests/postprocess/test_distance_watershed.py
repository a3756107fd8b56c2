"""Distance-transform watershed of boundary maps (2D and slice by slice)."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.postprocess import apply_postprocessing, distance_watershed_from_boundaries


def _three_cells() -> np.ndarray:
    boundaries = np.zeros((40, 60), dtype=np.float32)
    boundaries[:, 29:31] = 1  # vertical wall
    boundaries[19:21, :30] = 1  # horizontal wall on the left half
    return boundaries


def test_three_cells_are_three_segments_covering_the_image() -> None:
    labels = distance_watershed_from_boundaries(_three_cells(), sigma_seeds=1.0, min_size=10)
    assert labels.dtype == np.uint32 and labels.shape == (40, 60)
    assert labels.max() == 3 and labels.min() == 1
    top_left, bottom_left, right = labels[5, 5], labels[35, 5], labels[20, 50]
    assert len({top_left, bottom_left, right}) == 3
    assert (labels[:18, :28] == top_left).all() and (labels[22:, :28] == bottom_left).all()
    assert (labels[:, 32:] == right).all()


def test_a_stack_is_segmented_per_slice_with_unique_ids() -> None:
    stack = np.stack([_three_cells(), _three_cells()[:, ::-1]])
    labels = apply_postprocessing(stack[None], {"method": "distance_watershed", "sigma_seeds": 1.0})
    assert labels.shape == (2, 40, 60) and labels.max() == 6
    assert not set(np.unique(labels[0])) & set(np.unique(labels[1]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"threshold": 1.0}, "`threshold` must be in"), ({"alpha": 2.0}, "`alpha` must be in")],
)
def test_bad_parameters_are_named(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        distance_watershed_from_boundaries(_three_cells(), **kwargs)


def test_wrong_shape_is_explained() -> None:
    with pytest.raises(ValueError, match="expected \\(1, \\[Z,\\] Y, X\\)"):
        distance_watershed_from_boundaries(np.zeros((2, 3, 8, 8)))
