"""Instances from affinities (1 = same object): mutex watershed and agglomerated watershed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.ndimage import distance_transform_edt
from skimage.measure import label

from semiseg_zoo.evaluation import adapted_rand_error
from semiseg_zoo.postprocess import (
    affinities_to_boundaries,
    agglomerated_watershed_from_affinities,
    apply_postprocessing,
    mutex_watershed_from_affinities,
)
from semiseg_zoo.training.affinity.targets import affinity_targets

from .helpers import assert_valid_labels

OFFSETS_2D = [[-1, 0], [0, -1], [-3, 0], [0, -3], [-9, 0], [0, -9]]
OFFSETS_3D = [
    [-1, 0, 0],
    [0, -1, 0],
    [0, 0, -1],
    [-2, 0, 0],
    [0, -3, 0],
    [0, 0, -3],
    [0, -9, 0],
    [0, 0, -9],
]
METHODS: dict[str, Callable[..., np.ndarray]] = {
    "mutex_watershed": mutex_watershed_from_affinities,
    "agglomerated_watershed": agglomerated_watershed_from_affinities,
}


def nearest_point(points: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """int labels of ``shape``: the id (from 1) of the nearest of ``points`` (a Voronoi map)."""
    markers = np.zeros(shape, dtype=np.int32)
    markers[tuple(np.round(points).astype(int).T)] = np.arange(1, len(points) + 1)
    _, nearest = distance_transform_edt(markers == 0, return_indices=True)
    return markers[tuple(nearest)]


def jittered_grid(shape: tuple[int, ...], spacing: int, rng: np.random.Generator) -> np.ndarray:
    """One point per ``spacing``-sized cell of a grid over ``shape``, moved by up to a quarter."""
    axes = [np.arange(spacing / 2, size, spacing) for size in shape]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(shape))
    points = grid + rng.uniform(-spacing / 4, spacing / 4, grid.shape)
    return np.clip(points, 0, np.array(shape) - 1)


def neurites(shape: tuple[int, int, int], spacing: int, seed: int) -> np.ndarray:
    """Dense ``(Z, Y, X)`` labels: 2D Voronoi cells whose centres drift from slice to slice."""
    rng = np.random.default_rng(seed)
    points = jittered_grid(shape[1:], spacing, rng)
    planes = []
    for _ in range(shape[0]):
        planes.append(nearest_point(points, shape[1:]))
        points = np.clip(points + rng.normal(0.0, 0.7, points.shape), 0, np.array(shape[1:]) - 1)
    return np.stack(planes)


def perfect(truth: np.ndarray, offsets: list[list[int]]) -> np.ndarray:
    return affinity_targets(truth, offsets)[0]


def noisy(affinities: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, affinities.shape)
    return np.clip(affinities + noise, 0.0, 1.0).astype(np.float32)


def assert_same_partition(result: np.ndarray, truth: np.ndarray) -> None:
    """Equal up to renumbering, background 0 included."""
    assert_valid_labels(result)
    assert result.shape == truth.shape
    np.testing.assert_array_equal(result == 0, truth == 0)
    pairs = np.unique(np.stack([truth.ravel(), result.ravel()]), axis=1)
    assert pairs.shape[1] == len(np.unique(truth)) == len(np.unique(result))


@pytest.fixture(scope="module")
def cells() -> np.ndarray:
    """Dense 64x64 labels: 16 touching Voronoi cells of 214-356 pixels, no background."""
    truth = nearest_point(jittered_grid((64, 64), 16, np.random.default_rng(0)), (64, 64))
    assert truth.max() == 16 and label(truth, connectivity=1).max() == 16
    return truth


@pytest.fixture(scope="module")
def stack() -> np.ndarray:
    """Dense 12x48x48 neurite-like labels: 16 tubes along z, each face-connected."""
    truth = neurites((12, 48, 48), 12, seed=0)
    assert truth.max() == 16 and label(truth, connectivity=1).max() == 16
    return truth


@pytest.fixture(scope="module")
def islands() -> np.ndarray:
    """64x64: 9 touching cells (111-200 pixels) near the centre on a background of 0."""
    points = jittered_grid((64, 64), 12, np.random.default_rng(1))
    truth = nearest_point(points, (64, 64))
    far = np.hypot(*(points - 31.5).T) > 20
    truth = label(np.where(far[truth - 1], 0, truth), connectivity=1)
    sizes = np.bincount(truth.ravel())
    assert truth.max() == 9 and sizes[0] > 2 * sizes[1:].sum()
    return truth


def test_affinities_to_boundaries_is_one_minus_the_affinity() -> None:
    affinities = np.array([[0.0, 0.25], [0.9, 1.0]], dtype=np.float64)
    boundaries = affinities_to_boundaries(affinities)
    assert boundaries.dtype == np.float32
    np.testing.assert_allclose(boundaries, [[1.0, 0.75], [0.1, 0.0]], atol=1e-7)
    np.testing.assert_array_equal(affinities, [[0.0, 0.25], [0.9, 1.0]])


def test_affinities_to_boundaries_rejects_non_numbers() -> None:
    with pytest.raises(TypeError, match="`affinities` must hold real numbers, got dtype <U1"):
        affinities_to_boundaries(np.array(["a"]))


@pytest.mark.parametrize("strides", [None, [1, 1, 1]])
def test_mutex_watershed_reproduces_perfect_3d_affinities(
    stack: np.ndarray, strides: list[int] | None
) -> None:
    result = mutex_watershed_from_affinities(
        perfect(stack, OFFSETS_3D), offsets=OFFSETS_3D, strides=strides
    )
    assert_same_partition(result, stack)


def test_mutex_watershed_reproduces_perfect_2d_affinities(cells: np.ndarray) -> None:
    affinities = perfect(cells, OFFSETS_2D)
    assert_same_partition(
        mutex_watershed_from_affinities(affinities, offsets=OFFSETS_2D, strides=[1, 1]), cells
    )


def test_mutex_watershed_strides_can_miss_small_contacts(cells: np.ndarray) -> None:
    # Cells touching over one or two pixels get no repulsive edge on a (4, 4) grid and merge.
    result = mutex_watershed_from_affinities(perfect(cells, OFFSETS_2D), offsets=OFFSETS_2D)
    assert result.max() == 14


@pytest.mark.parametrize("stacked", [False, True])
def test_agglomerated_watershed_reproduces_perfect_3d_affinities(
    stack: np.ndarray, stacked: bool
) -> None:
    affinities = perfect(stack, OFFSETS_3D)
    result = agglomerated_watershed_from_affinities(affinities, offsets=OFFSETS_3D, stacked=stacked)
    assert_same_partition(result, stack)


def test_agglomerated_watershed_reproduces_perfect_2d_affinities(cells: np.ndarray) -> None:
    result = agglomerated_watershed_from_affinities(perfect(cells, OFFSETS_2D), offsets=OFFSETS_2D)
    assert_same_partition(result, cells)


def test_agglomerated_watershed_needs_only_the_nearest_neighbours(stack: np.ndarray) -> None:
    # Positive offsets in another order: the same pairs, the channels shifted by one pixel.
    offsets = [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    result = agglomerated_watershed_from_affinities(perfect(stack, offsets), offsets=offsets)
    assert_same_partition(result, stack)


@pytest.mark.parametrize("method", METHODS)
def test_large_background_becomes_zero(islands: np.ndarray, method: str) -> None:
    affinities = perfect(islands, OFFSETS_2D)
    kwargs = {"strides": [1, 1]} if method == "mutex_watershed" else {}
    result = METHODS[method](affinities, offsets=OFFSETS_2D, background="largest", **kwargs)
    assert_same_partition(result, islands)


@pytest.mark.parametrize("method", METHODS)
def test_without_background_the_background_is_a_segment(islands: np.ndarray, method: str) -> None:
    affinities = perfect(islands, OFFSETS_2D)
    kwargs = {"strides": [1, 1]} if method == "mutex_watershed" else {}
    result = METHODS[method](affinities, offsets=OFFSETS_2D, **kwargs)
    assert_same_partition(result, islands + 1)


@pytest.mark.parametrize("method", METHODS)
def test_min_size_removes_small_segments(cells: np.ndarray, method: str) -> None:
    sizes = np.bincount(cells.ravel())
    min_size = 245  # the cells have 214-356 pixels: 8 of them are at least this large
    kwargs = {"strides": [1, 1]} if method == "mutex_watershed" else {}
    result = METHODS[method](
        perfect(cells, OFFSETS_2D), offsets=OFFSETS_2D, min_size=min_size, **kwargs
    )
    expected = np.where(sizes[cells] < min_size, 0, cells)
    assert result.max() == int((sizes[1:] >= min_size).sum()) == 8
    assert_same_partition(result, expected)


@pytest.mark.parametrize(
    ("method", "kwargs"),
    [
        ("mutex_watershed", {"strides": [1, 1, 1]}),
        ("mutex_watershed", {}),
        ("agglomerated_watershed", {}),
        ("agglomerated_watershed", {"stacked": True}),
    ],
)
def test_noisy_affinities_give_a_low_error_and_the_convention_matters(
    stack: np.ndarray, method: str, kwargs: dict
) -> None:
    affinities = perfect(stack, OFFSETS_3D)
    result = METHODS[method](noisy(affinities, 0.1), offsets=OFFSETS_3D, **kwargs)
    assert adapted_rand_error(result, stack) < 0.01
    # Boundaries (1 = cut) passed as affinities: the convention is pinned.
    wrong = METHODS[method](1.0 - affinities, offsets=OFFSETS_3D, **kwargs)
    assert adapted_rand_error(wrong, stack) > 0.5


def test_noisy_2d_affinities_give_a_low_error(cells: np.ndarray) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.1, seed=1)
    mws = mutex_watershed_from_affinities(affinities, offsets=OFFSETS_2D, strides=[1, 1])
    agglomerated = agglomerated_watershed_from_affinities(affinities, offsets=OFFSETS_2D)
    assert adapted_rand_error(mws, cells) < 0.01
    assert adapted_rand_error(agglomerated, cells) < 0.01


def test_a_positive_bias_splits_more(cells: np.ndarray) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.3, seed=2)
    counts = [
        int(mutex_watershed_from_affinities(affinities, offsets=OFFSETS_2D, bias=bias).max())
        for bias in (-0.3, 0.0, 0.3)
    ]
    assert counts[0] <= counts[1] <= counts[2]
    assert counts[0] < counts[2]


def test_a_lower_agglomeration_threshold_merges_more(cells: np.ndarray) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.1, seed=3)
    counts = [
        int(
            agglomerated_watershed_from_affinities(
                affinities, offsets=OFFSETS_2D, threshold=t
            ).max()
        )
        for t in (0.05, 0.5, 0.95)
    ]
    assert counts[0] < counts[1] == 16 < counts[2]


def _membrane_example() -> tuple[np.ndarray, list[list[int]]]:
    """5x7: objects left (columns 0-2) and right (4-6) of a membrane column 3 that every pixel
    is cut from; pixel (2, 1) keeps only the pair with (2, 2), through (2, 2)'s channel."""
    ids = np.array([[1, 1, 1, 10, 2, 2, 2]] * 5)
    ids[:, 3] += np.arange(5)  # each membrane pixel its own id: cut from all its neighbours
    offsets = [[-1, 0], [0, -1], [-2, 0], [0, -2]]
    affinities = perfect(ids, offsets)
    affinities[:, 2, 1] = 0.0  # (2, 1)'s own channels
    affinities[0, 3, 1] = 0.0  # (3, 1) -> (2, 1)
    return affinities, offsets


def test_mask_threshold_excludes_pixels_cut_from_every_neighbour() -> None:
    affinities, offsets = _membrane_example()
    result = mutex_watershed_from_affinities(
        affinities, offsets=offsets, strides=[1, 1], mask_threshold=0.5
    )
    expected = np.array([[1, 1, 1, 0, 2, 2, 2]] * 5, dtype=np.uint32)
    np.testing.assert_array_equal(result, expected)
    without_mask = mutex_watershed_from_affinities(affinities, offsets=offsets, strides=[1, 1])
    assert without_mask.min() == 1 and without_mask.max() > 2


def test_mask_threshold_of_one_excludes_everything_short_of_certainty() -> None:
    affinities, offsets = _membrane_example()
    affinities = affinities * 0.99
    result = mutex_watershed_from_affinities(affinities, offsets=offsets, mask_threshold=1.0)
    assert result.dtype == np.uint32 and result.shape == (5, 7) and not result.any()


def test_mask_threshold_keeps_perfect_dense_labels_whole(stack: np.ndarray) -> None:
    result = mutex_watershed_from_affinities(
        perfect(stack, OFFSETS_3D), offsets=OFFSETS_3D, mask_threshold=0.5
    )
    assert_same_partition(result, stack)


def test_randomized_strides_are_reproducible_with_a_seed(stack: np.ndarray) -> None:
    affinities = noisy(perfect(stack, OFFSETS_3D), 0.2)
    state = np.random.get_state()  # noqa: NPY002 (elf uses the global generator)
    first, second = (
        mutex_watershed_from_affinities(
            affinities, offsets=OFFSETS_3D, randomize_strides=True, seed=7
        )
        for _ in range(2)
    )
    np.testing.assert_array_equal(first, second)
    assert_valid_labels(first)
    np.testing.assert_array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002


def test_an_image_without_interior_is_all_background() -> None:
    result = agglomerated_watershed_from_affinities(
        np.zeros((2, 6, 6), dtype=np.float32), offsets=[[-1, 0], [0, -1]]
    )
    assert result.dtype == np.uint32 and result.shape == (6, 6) and not result.any()


@pytest.mark.parametrize("method", METHODS)
def test_inputs_are_not_modified(cells: np.ndarray, method: str) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.1)
    copy = affinities.copy()
    METHODS[method](affinities, offsets=OFFSETS_2D)
    np.testing.assert_array_equal(affinities, copy)


@pytest.mark.parametrize(
    "recipe",
    [
        {"method": "mutex_watershed", "offsets": OFFSETS_2D, "strides": [2, 2], "min_size": 5},
        {"method": "agglomerated_watershed", "offsets": OFFSETS_2D, "threshold": 0.6},
    ],
)
def test_apply_postprocessing_goes_through_the_registry(cells: np.ndarray, recipe: dict) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.1)
    params = {key: value for key, value in recipe.items() if key != "method"}
    expected = METHODS[recipe["method"]](affinities, **params)
    np.testing.assert_array_equal(apply_postprocessing(affinities, recipe), expected)


A2 = np.full((6, 16, 16), 0.5, dtype=np.float32)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("affinities", "kwargs", "message"),
    [
        (A2[:5], {}, "`affinities` has 5 channels but 6 `offsets` were given"),
        (A2[0], {}, r"`affinities` has shape \(16, 16\); expected \(N, Y, X\) or \(N, Z, Y, X\)"),
        (A2[:, None, None], {}, r"has shape \(6, 1, 1, 16, 16\)"),
        (A2[:, :0], {}, "non-empty spatial axes"),
        (A2 + 0.6, {}, r"must lie in \[0, 1\] \(1 = same object\), got values in \[1.1"),
        (A2 - 0.6, {}, "pass probabilities"),
        (np.where(np.eye(16, dtype=bool), np.nan, A2), {}, "contains NaN or infinite"),
        (A2, {"offsets": [[-1, 0, 0]] * 6}, r"expected \(K, 2\)"),
        (A2, {"offsets": [[-2, 0], [0, -1]] + OFFSETS_2D[2:]}, "must be direct neighbours"),
        (A2, {"offsets": [[-1, 0], [1, 0]] + OFFSETS_2D[2:]}, "one direct neighbour per axis"),
        (A2, {"offsets": OFFSETS_2D[:5] + [[0, 0]]}, "must not contain the zero offset"),
        (A2, {"offsets": OFFSETS_2D[:5] + [[0.5, 0]]}, "must be integers"),
        (A2, {"background": "smallest"}, "`background` must be 'largest' or 'none'"),
        (A2, {"min_size": -1}, "`min_size` must be >= 0, got -1"),
    ],
)
def test_bad_inputs_raise(method: str, affinities: np.ndarray, kwargs: dict, message: str) -> None:
    kwargs = {"offsets": OFFSETS_2D, **kwargs}
    with pytest.raises(ValueError, match=message):
        METHODS[method](affinities, **kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_non_numeric_affinities_raise(method: str) -> None:
    with pytest.raises(TypeError, match="`affinities` must hold real numbers, got dtype complex"):
        METHODS[method](A2.astype(np.complex64), offsets=OFFSETS_2D)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"offsets": OFFSETS_2D[:2]},
            r"`offsets` has shape \(2, 2\); expected \(K, 2\) with K > 2",
        ),
        ({"strides": [4]}, "`strides` must be 2 positive integers"),
        ({"strides": [4, 0]}, "`strides` must be 2 positive integers"),
        ({"bias": float("nan")}, "`bias` must be a finite number, got nan"),
        ({"mask_threshold": 0.0}, r"`mask_threshold` must be in \(0, 1\] or None, got 0.0"),
    ],
)
def test_bad_mutex_watershed_parameters_raise(kwargs: dict, message: str) -> None:
    kwargs = {"offsets": OFFSETS_2D, **kwargs}
    with pytest.raises(ValueError, match=message):
        mutex_watershed_from_affinities(A2[: len(kwargs["offsets"])], **kwargs)


@pytest.mark.parametrize(
    ("affinities", "kwargs", "message"),
    [
        (A2, {"threshold": 1.0}, r"`threshold` must be in \(0, 1\), got 1.0"),
        (A2, {"stacked": True}, r"`stacked=True` needs 3D affinities \(N, Z, Y, X\)"),
        (A2, {"sigma_seeds": -1.0}, "`sigma_seeds` must be a number >= 0, got -1.0"),
        (
            A2[:1],
            {"offsets": [[-1, 0]]},
            r"`offsets` has shape \(1, 2\); expected \(K, 2\) with K >= 2",
        ),
    ],
)
def test_bad_agglomerated_watershed_parameters_raise(
    affinities: np.ndarray, kwargs: dict, message: str
) -> None:
    kwargs = {"offsets": OFFSETS_2D, **kwargs}
    with pytest.raises(ValueError, match=message):
        agglomerated_watershed_from_affinities(affinities, **kwargs)


# --- torch-em packages: boundary convention and a foreground channel first ----------------------


def test_boundary_convention_gives_the_same_partition_as_affinities(cells: np.ndarray) -> None:
    affinities = noisy(perfect(cells, OFFSETS_2D), 0.1)
    expected = mutex_watershed_from_affinities(affinities, offsets=OFFSETS_2D)
    result = mutex_watershed_from_affinities(
        1.0 - affinities, offsets=OFFSETS_2D, convention="boundary"
    )
    np.testing.assert_array_equal(result, expected)
    wrong = mutex_watershed_from_affinities(1.0 - affinities, offsets=OFFSETS_2D)
    assert adapted_rand_error(cells, wrong) > adapted_rand_error(cells, result) + 0.3


def test_foreground_channel_makes_background_and_is_not_an_affinity(islands: np.ndarray) -> None:
    foreground = (islands != np.bincount(islands.ravel()).argmax()).astype(np.float32)
    boundaries = 1.0 - perfect(islands, OFFSETS_2D)
    output = np.concatenate([foreground[None], boundaries])
    result = mutex_watershed_from_affinities(
        output, offsets=OFFSETS_2D, strides=[1, 1], convention="boundary", foreground_channel=True
    )
    assert result.shape == islands.shape
    assert_valid_labels(result)
    assert (result[foreground == 0] == 0).all()
    kept = foreground > 0
    assert len(np.unique(result[kept])) == len(np.unique(islands[kept]))


def test_unknown_convention_is_a_value_error(cells: np.ndarray) -> None:
    with pytest.raises(ValueError, match=r"`convention` must be 'affinity' or 'boundary'"):
        mutex_watershed_from_affinities(
            perfect(cells, OFFSETS_2D), offsets=OFFSETS_2D, convention="cut"
        )
