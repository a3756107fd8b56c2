"""Instances from pixel embeddings: mean shift, HDBSCAN, mutex watershed, merging close clusters."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from semiseg_zoo.postprocess import (
    apply_postprocessing,
    available_methods,
    embedding_clustering,
    hdbscan_from_embeddings,
    mean_shift_from_embeddings,
    merge_close_clusters,
    mutex_watershed_from_embeddings,
)
from semiseg_zoo.synthetic import synthetic_nuclei

from .helpers import assert_valid_labels, labels

METHODS: dict[str, Callable[..., np.ndarray]] = {
    "mean_shift": mean_shift_from_embeddings,
    "hdbscan": hdbscan_from_embeddings,
    "embedding_mws": mutex_watershed_from_embeddings,
}
# Small objects and images: MWS with every repulsive edge, HDBSCAN clusters of >= 4 pixels.
SMALL = {
    "mean_shift": {},
    "hdbscan": {"min_cluster_size": 4},
    "embedding_mws": {"strides": [1, 1]},
}


def random_means(n: int, *, dim: int = 16, min_distance: float = 4.5, seed: int = 0) -> np.ndarray:
    """``n`` points in ``dim`` dimensions, pairwise farther apart than ``min_distance``."""
    rng = np.random.default_rng(seed)
    means: list[np.ndarray] = []
    while len(means) < n:
        point = rng.normal(0.0, 1.5, dim)
        if all(np.linalg.norm(point - other) > min_distance for other in means):
            means.append(point)
    return np.array(means)


def embed(truth: np.ndarray, *, noise: float = 0.05, dim: int = 16, seed: int = 0) -> np.ndarray:
    """float32 ``(dim, *truth.shape)``: each label's mean plus Gaussian noise per pixel."""
    rng = np.random.default_rng(seed)
    means = random_means(int(truth.max()) + 1, dim=dim, seed=seed)
    pixels = means[truth] + rng.normal(0.0, noise, (*truth.shape, dim))
    return np.ascontiguousarray(np.moveaxis(pixels, -1, 0), dtype=np.float32)


def assert_same_partition(result: np.ndarray, truth: np.ndarray) -> None:
    """Equal up to renumbering, background 0 included."""
    assert_valid_labels(result)
    assert result.shape == truth.shape
    np.testing.assert_array_equal(result == 0, truth == 0)
    pairs = np.unique(np.stack([truth.ravel(), result.ravel()]), axis=1)
    assert pairs.shape[1] == len(np.unique(truth)) == len(np.unique(result))


@pytest.fixture(scope="module")
def nuclei() -> tuple[np.ndarray, np.ndarray]:
    """Four nuclei (153-257 pixels) on 64x64, and their 16-D embeddings."""
    _, truth = synthetic_nuclei((64, 64), n_objects=8, seed=3)
    assert truth.max() == 4
    return embed(truth), truth.astype(np.uint32)


@pytest.fixture(scope="module")
def boxes() -> tuple[np.ndarray, np.ndarray]:
    """Three boxes in an 8x32x32 volume, and their 16-D embeddings."""
    truth = np.zeros((8, 32, 32), dtype=np.uint32)
    truth[1:5, 2:10, 2:12] = 1
    truth[2:7, 14:26, 4:14] = 2
    truth[0:8, 6:20, 18:30] = 3
    return embed(truth, seed=1), truth


# A picture of three objects; 2 is 4 pixels, 3 touches 1 diagonally.
PICTURE = labels(
    "..........",
    ".111......",
    ".111...22.",
    ".111...22.",
    "....3333..",
    "....3333..",
    "....3333..",
    "..........",
)


@pytest.mark.parametrize("method", METHODS)
def test_recovers_nuclei_exactly(method: str, nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, truth = nuclei
    assert_same_partition(METHODS[method](embeddings), truth)


@pytest.mark.parametrize("method", METHODS)
def test_small_picture(method: str) -> None:
    result = METHODS[method](embed(PICTURE), **SMALL[method])
    # The ids are numbered in the order of the first pixel of each cluster.
    np.testing.assert_array_equal(result, PICTURE)


@pytest.mark.parametrize("method", METHODS)
def test_recovers_boxes_in_3d(method: str, boxes: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, truth = boxes
    assert_same_partition(METHODS[method](embeddings), truth)


@pytest.mark.parametrize("method", ["mean_shift", "hdbscan"])
def test_subsampling_still_finds_every_object(
    method: str, nuclei: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40 of 4096 pixels, about 2 per nucleus: the first draw misses nuclei, which are found
    # again among the pixels farther than delta_d from every centre.
    embeddings, truth = nuclei
    first = METHODS[method](embeddings, max_samples=40, seed=1)
    assert_same_partition(first, truth)
    np.testing.assert_array_equal(METHODS[method](embeddings, max_samples=40, seed=1), first)
    monkeypatch.setattr(embedding_clustering, "_MAX_ROUNDS", 1)
    assert METHODS[method](embeddings, max_samples=40, seed=1).max() < truth.max()


def test_noisy_embeddings_need_the_mws_bias(nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    _, truth = nuclei
    noisy = embed(truth, noise=0.2)
    assert_same_partition(mutex_watershed_from_embeddings(noisy), truth)
    # Without the bias, repulsive edges within noisy nuclei split them into fragments.
    assert mutex_watershed_from_embeddings(noisy, bias=0.0).max() > 4 * truth.max()


def test_default_bandwidth_is_twice_delta_v(nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    _, truth = nuclei
    noisy = embed(truth, noise=0.15)  # pixels ~0.6 from their mean in 16-D
    assert_same_partition(mean_shift_from_embeddings(noisy), truth)
    small = embed(PICTURE, noise=0.15)
    narrow = mean_shift_from_embeddings(small, bandwidth=0.5)
    np.testing.assert_array_equal(mean_shift_from_embeddings(small, delta_v=0.25), narrow)
    # A kernel of delta_v = 0.5 breaks the objects into many modes.
    assert narrow.max() > 3 * PICTURE.max()


# ---------------------------------------------------------------------------------------------
# merge_close_clusters
# ---------------------------------------------------------------------------------------------


def embeddings_of(means: dict[int, list[float]], picture: np.ndarray) -> np.ndarray:
    """``(D, Y, X)`` with every pixel of label ``k`` at ``means[k]``."""
    table = np.array([means[k] for k in range(max(means) + 1)], dtype=np.float32)
    return np.ascontiguousarray(np.moveaxis(table[picture], -1, 0))


def test_merge_close_clusters_by_mean_distance() -> None:
    picture = labels("1122", "1133", "0044")
    means = {0: [9.0, 9.0], 1: [0.0, 0.0], 2: [1.0, 0.0], 3: [5.0, 0.0], 4: [1.0, 5.0]}
    result = merge_close_clusters(picture, embeddings_of(means, picture), distance=2.0)
    # 1 and 2 are 1.0 apart and merge; 3 is 4.0 from 2 and 4 is 5.0 from 2: both stay; 0 stays 0.
    np.testing.assert_array_equal(result, labels("1111", "1122", "0033"))
    assert result.dtype == np.uint32


def test_merge_close_clusters_is_transitive_and_strict() -> None:
    picture = labels("123", "444")
    means = {0: [0.0], 1: [0.0], 2: [1.5], 3: [3.0], 4: [5.0]}
    embeddings = embeddings_of(means, picture)
    # 1 ~ 2 ~ 3 (1.5 apart each) merge although 1 and 3 are 3.0 apart; 4 is exactly 2.0 from 3.
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=2.0), labels("111", "222")
    )
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=2.001), labels("111", "111")
    )
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=1.0), labels("123", "444")
    )


def test_merge_close_clusters_uses_the_mean_of_each_cluster() -> None:
    picture = labels("1122")
    embeddings = np.array([[[0.0, 2.0, 3.0, 3.0]]], dtype=np.float32)  # means 1.0 and 3.0
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=2.5), [[1] * 4]
    )
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=1.5), labels("1122")
    )


def test_merge_close_clusters_relabels_and_keeps_inputs() -> None:
    picture = labels("0507", "0000").astype(np.int64)
    embeddings = np.zeros((3, 2, 4), dtype=np.float32)
    embeddings[0, 0, 3] = 10.0
    before = picture.copy()
    np.testing.assert_array_equal(
        merge_close_clusters(picture, embeddings, distance=1.0), labels("0102", "0000")
    )
    np.testing.assert_array_equal(picture, before)
    empty = merge_close_clusters(
        np.zeros((2, 2), dtype=np.uint8), embeddings[:, :2, :2], distance=1.0
    )
    np.testing.assert_array_equal(empty, np.zeros((2, 2), dtype=np.uint32))


def test_merge_close_in_the_methods_joins_an_oversegmented_object() -> None:
    # Object 1 has two halves whose means are 1.0 apart: a kernel of 0.4 sees two clusters.
    # merge_close merges clusters whose means are closer than delta_d (default 2.0).
    picture = labels("..........", ".11112222.", ".11112222.", "..........", "...3333...")
    means = random_means(4)
    split = means[picture].copy()
    split[picture == 2] = means[1] + np.eye(16)[0]
    rng = np.random.default_rng(0)
    embeddings = np.moveaxis(split + rng.normal(0, 0.02, split.shape), -1, 0).astype(np.float32)
    expected = labels("..........", ".11111111.", ".11111111.", "..........", "...2222...")
    assert mean_shift_from_embeddings(embeddings, bandwidth=0.4).max() == 3
    np.testing.assert_array_equal(
        mean_shift_from_embeddings(embeddings, bandwidth=0.4, merge_close=True), expected
    )
    # delta_d 1.5: between the halves attraction 0.44 < repulsion 0.56, but they merge (< 1.5).
    mws = {"strides": [1, 1], "bias": 0.0, "delta_d": 1.5}
    assert mutex_watershed_from_embeddings(embeddings, **mws).max() == 3
    np.testing.assert_array_equal(
        mutex_watershed_from_embeddings(embeddings, **mws, merge_close=True), expected
    )


# ---------------------------------------------------------------------------------------------
# foreground, background, small objects
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_foreground_mask_and_channel(method: str, nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, truth = nuclei
    function = METHODS[method]
    mask = truth > 0
    probability = np.where(mask, 0.9, 0.2).astype(np.float32)
    expected = function(embeddings, foreground=mask)
    assert_same_partition(expected, truth)
    np.testing.assert_array_equal(function(embeddings, foreground=probability), expected)
    # At a threshold of 0.1 every pixel (p = 0.2 or 0.9) is foreground.
    np.testing.assert_array_equal(
        function(embeddings, foreground=probability, foreground_threshold=0.1),
        function(embeddings, foreground=np.ones_like(mask)),
    )
    for channel, stacked in [
        (0, np.concatenate([probability[None], embeddings])),
        (-1, np.concatenate([embeddings, probability[None]])),
    ]:
        np.testing.assert_array_equal(function(stacked, foreground_channel=channel), expected)


@pytest.mark.parametrize("method", METHODS)
def test_with_a_mask_the_largest_cluster_is_an_object(
    method: str, nuclei: tuple[np.ndarray, np.ndarray]
) -> None:
    embeddings, truth = nuclei
    everything = np.ones(truth.shape, dtype=bool)
    result = METHODS[method](embeddings, foreground=everything)
    assert_same_partition(result, truth + 1)
    assert_same_partition(METHODS[method](embeddings, background="none"), truth + 1)


@pytest.mark.parametrize("method", METHODS)
def test_cut_by_the_mask(method: str, nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, truth = nuclei
    mask = truth > 0
    mask[:, 32:] = False
    # Some cut nuclei keep fewer pixels than HDBSCAN's default min_cluster_size.
    result = METHODS[method](embeddings, foreground=mask, **SMALL[method])
    assert not result[:, 32:].any()
    assert_same_partition(result, np.where(mask, truth, 0))


@pytest.mark.parametrize("method", METHODS)
def test_empty_foreground_gives_background(method: str) -> None:
    embeddings = embed(PICTURE)
    result = METHODS[method](embeddings, foreground=np.zeros(PICTURE.shape, dtype=bool))
    np.testing.assert_array_equal(result, np.zeros(PICTURE.shape, dtype=np.uint32))


@pytest.mark.parametrize("method", METHODS)
def test_min_size_removes_small_objects(method: str) -> None:
    result = METHODS[method](embed(PICTURE), **SMALL[method], min_size=5)
    expected = labels(
        "..........",
        ".111......",
        ".111......",
        ".111......",
        "....2222..",
        "....2222..",
        "....2222..",
        "..........",
    )
    np.testing.assert_array_equal(result, expected)


def test_hdbscan_min_cluster_size_in_full_image_pixels(
    nuclei: tuple[np.ndarray, np.ndarray],
) -> None:
    embeddings, truth = nuclei
    # Nuclei have 153, 194, 249 and 257 pixels: a minimum of 220 makes the two smaller ones
    # noise, which joins the nearest cluster; the same holds on a subsample of half the pixels.
    for max_samples in (10_000, 2048):
        result = hdbscan_from_embeddings(embeddings, min_cluster_size=220, max_samples=max_samples)
        assert result.max() == 2
        assert set(np.unique(truth[result > 0])) >= {3, 4}
    nothing = hdbscan_from_embeddings(embeddings, min_cluster_size=5000)
    np.testing.assert_array_equal(nothing, np.zeros_like(truth))


@pytest.mark.parametrize("method", METHODS)
def test_does_not_mutate_input(method: str, nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    embeddings, truth = nuclei
    frozen = embeddings.astype(np.float64)
    mask = truth > 0
    frozen.setflags(write=False)
    mask.setflags(write=False)
    before = frozen.copy()
    result = METHODS[method](frozen, foreground=mask)
    np.testing.assert_array_equal(frozen, before)
    assert result.dtype == np.uint32


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------


def test_registered_by_name(nuclei: tuple[np.ndarray, np.ndarray]) -> None:
    assert {"mean_shift", "hdbscan", "embedding_mws"} <= set(available_methods())
    embeddings, truth = nuclei
    recipe = {"method": "embedding_mws", "bias": -0.5, "delta_d": 2.0, "min_size": 10}
    result = apply_postprocessing(embeddings, recipe)
    np.testing.assert_array_equal(
        result, mutex_watershed_from_embeddings(embeddings, bias=-0.5, delta_d=2.0, min_size=10)
    )
    assert_same_partition(result, truth)
    stacked = np.concatenate([embeddings, (truth > 0)[None].astype(np.float32)])
    recipe = {"method": "mean_shift", "foreground_channel": 16, "merge_close": True}
    assert_same_partition(apply_postprocessing(stacked, recipe), truth)


# ---------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------

E2 = np.zeros((4, 6, 6), dtype=np.float32)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(6, 6), (6,), (2, 1, 3, 6, 6), (0, 6, 6), (4, 0, 6)])
def test_bad_ndim_raises(method: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"`embeddings` has shape .*; expected \(D, \[Z,\] Y, X\)"):
        METHODS[method](np.zeros(shape, dtype=np.float32))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"foreground": np.ones((6, 5), dtype=bool)}, r"`foreground` has shape \(6, 5\) but"),
        ({"foreground": np.ones((1, 6, 6))}, r"spatial shape is \(6, 6\); pass a mask"),
        ({"foreground_channel": 4}, r"`foreground_channel` is 4 but the embeddings have 4"),
        ({"foreground_channel": -5}, r"pass an index in \[-4, 3\]"),
        (
            {"foreground": np.ones((6, 6), dtype=bool), "foreground_channel": 0},
            "either `foreground`",
        ),
        ({"foreground_threshold": 1.0}, r"`foreground_threshold` must be in \(0, 1\), got 1.0"),
        ({"delta_d": 0.0}, "`delta_d` must be a positive number, got 0.0"),
        ({"delta_d": float("nan")}, "`delta_d` must be a positive number, got nan"),
        ({"background": "smallest"}, "`background` must be 'largest' or 'none', got 'smallest'"),
        ({"min_size": -1}, "`min_size` must be >= 0, got -1"),
    ],
)
def test_bad_common_parameters_raise(method: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        METHODS[method](E2, **kwargs)


def test_foreground_channel_needs_an_embedding_channel() -> None:
    with pytest.raises(ValueError, match="keep at least one embedding channel"):
        mutex_watershed_from_embeddings(E2[:1], foreground_channel=0)


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("mean_shift", {"bandwidth": 0.0}, "`bandwidth` must be a positive number, got 0.0"),
        ("mean_shift", {"delta_v": -0.5}, "`delta_v` must be a positive number, got -0.5"),
        ("mean_shift", {"max_samples": 1}, "`max_samples` must be >= 2, got 1"),
        ("hdbscan", {"max_samples": 0}, "`max_samples` must be >= 2, got 0"),
        ("hdbscan", {"min_cluster_size": 1}, "`min_cluster_size` must be >= 2, got 1"),
        ("hdbscan", {"min_samples": 0}, "`min_samples` must be >= 1 or None, got 0"),
        ("embedding_mws", {"bias": float("inf")}, "`bias` must be a finite number, got inf"),
        ("embedding_mws", {"offsets": [[-1, 0], [0, -1]]}, r"`offsets` has shape \(2, 2\)"),
        ("embedding_mws", {"offsets": [[-1, 0, 0], [0, -1, 0], [0, 0, -3]]}, r"expected \(K, 2\)"),
        ("embedding_mws", {"offsets": [[-2, 0], [0, -1], [-3, 0]]}, "must be direct neighbours"),
        ("embedding_mws", {"offsets": [[-1, 0], [0, -1], [0, 0]]}, "must not contain the zero"),
        ("embedding_mws", {"offsets": [[-1, 0], [0, -1], [0.5, 0]]}, "must be integers"),
        ("embedding_mws", {"strides": [4]}, "`strides` must be 2 positive integers"),
        ("embedding_mws", {"strides": [4, 0]}, "`strides` must be 2 positive integers"),
    ],
)
def test_bad_method_parameters_raise(method: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        METHODS[method](E2, **kwargs)


@pytest.mark.parametrize("method", METHODS)
def test_non_finite_or_non_numeric_embeddings_raise(method: str) -> None:
    broken = E2.copy()
    broken[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="`embeddings` contains NaN or infinite values"):
        METHODS[method](broken)
    with pytest.raises(TypeError, match="`embeddings` must hold real numbers, got dtype bool"):
        METHODS[method](E2 > 0)


@pytest.mark.parametrize(
    ("labels_", "distance", "error", "message"),
    [
        (np.zeros((6, 5), dtype=int), 1.0, ValueError, r"`labels` has shape \(6, 5\) but"),
        (np.zeros((6, 6), dtype=int), 0.0, ValueError, "`distance` must be a positive number"),
        (-np.ones((6, 6), dtype=int), 1.0, ValueError, "`labels` must be non-negative, got a"),
        (np.zeros((6, 6)), 1.0, TypeError, "`labels` must be integers, got dtype float64"),
    ],
)
def test_merge_close_clusters_bad_input(
    labels_: np.ndarray, distance: float, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        merge_close_clusters(labels_, E2, distance=distance)
