"""Mean shift and HDBSCAN of pixel embeddings, fitted on a subsample and applied to every pixel."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.cluster import HDBSCAN, MeanShift
from sklearn.metrics import pairwise_distances_argmin_min
from threadpoolctl import threadpool_limits

from .embeddings import Background, check_common, check_positive, finish_labels, read_embeddings
from .registry import register_postprocessing

# Rounds of clustering the pixels that no centre explains (see _cluster_subsampled).
_MAX_ROUNDS = 4

# centres (K, D) from the sampled pixels (N, D) and the number of pixels they were drawn from
Fit = Callable[[np.ndarray, int], np.ndarray]


def _cluster_subsampled(
    pixels: np.ndarray, fit: Fit, *, max_samples: int, seed: int, delta_d: float
) -> np.ndarray:
    """Cluster ids ``>= 1`` of every pixel: fit centres on a random subsample, give each pixel
    its nearest centre.

    An object with no pixel in the subsample would join the object with the nearest mean. So
    the pixels farther than ``delta_d`` from every centre (by the push margin, closer to an
    unseen object's mean than to any found one) are subsampled and clustered again, for at
    most ``_MAX_ROUNDS`` rounds or until a round finds nothing new.
    """
    rng = np.random.default_rng(seed)
    centres = np.empty((0, pixels.shape[1]), dtype=pixels.dtype)
    ids = np.zeros(len(pixels), dtype=np.intp)
    distances = np.full(len(pixels), np.inf, dtype=pixels.dtype)
    pending = np.arange(len(pixels))
    for _ in range(_MAX_ROUNDS):
        sample = pending
        if len(pending) > max_samples:
            sample = np.sort(rng.choice(pending, size=max_samples, replace=False))
        new = fit(pixels[sample], len(pending)).astype(pixels.dtype, copy=False)
        if len(new) == 0:
            break
        nearest, distance = pairwise_distances_argmin_min(pixels[pending], new)
        closer = distance < distances[pending]
        ids[pending[closer]] = nearest[closer] + len(centres)
        distances[pending[closer]] = distance[closer]
        centres = np.concatenate([centres, new])
        pending = pending[distances[pending] > delta_d]
        if len(pending) == 0:
            break
    if len(centres) == 0:
        return ids  # nothing found: every pixel is background
    return ids + 1


def _segment_subsampled(
    embeddings: np.ndarray,
    fit: Fit,
    *,
    max_samples: int,
    seed: int,
    delta_d: float,
    merge_close: bool,
    background: Background,
    foreground: np.ndarray | None,
    foreground_channel: int | None,
    foreground_threshold: float,
    min_size: int,
) -> np.ndarray:
    """The pipeline mean shift and HDBSCAN share: checks, foreground, subsampled fit with
    nearest-centre assignment (:func:`_cluster_subsampled`), then :func:`finish_labels`."""
    _check_sampling(max_samples)
    check_common(delta_d=delta_d, background=background, min_size=min_size)
    data = read_embeddings(
        embeddings,
        foreground=foreground,
        foreground_channel=foreground_channel,
        foreground_threshold=foreground_threshold,
    )
    pixels = data.pixels()
    ids = np.zeros(0, dtype=np.intp)
    if len(pixels):
        ids = _cluster_subsampled(pixels, fit, max_samples=max_samples, seed=seed, delta_d=delta_d)
    return finish_labels(
        data.to_image(ids),
        data,
        merge_close=merge_close,
        delta_d=delta_d,
        background=background,
        min_size=min_size,
    )


def _bin_seeds(pixels: np.ndarray, bandwidth: float) -> np.ndarray:
    """One sampled pixel per occupied cell of a grid of spacing ``bandwidth``.

    Like scikit-learn's ``bin_seeding``, one seed per occupied cell, but on a pixel rather than
    on the grid point itself: in D dimensions a point is on average ``bandwidth * sqrt(D / 12)``
    from its nearest grid point (1.15 bandwidths for D = 16), so a grid-point seed often has no
    pixel within the bandwidth and its cluster is lost (scikit-learn's seeding found 19 of 72
    tight 16-D clusters with a bandwidth of 1).
    """
    cells = np.floor(pixels / bandwidth).astype(np.int64)
    _, first = np.unique(cells, axis=0, return_index=True)
    return pixels[np.sort(first)]


@register_postprocessing("mean_shift")
def mean_shift_from_embeddings(
    embeddings: np.ndarray,
    *,
    bandwidth: float | None = None,
    delta_v: float = 0.5,
    delta_d: float = 2.0,
    max_samples: int = 10_000,
    seed: int = 0,
    merge_close: bool = False,
    background: Background = "largest",
    foreground: np.ndarray | None = None,
    foreground_channel: int | None = None,
    foreground_threshold: float = 0.5,
    min_size: int = 0,
) -> np.ndarray:
    """Instances by mean-shift clustering of pixel embeddings.

    Mean shift (flat kernel) runs on a random subsample of at most ``max_samples`` pixels,
    seeded from one sampled pixel per occupied cell of a grid of spacing ``bandwidth``; every
    pixel then joins its nearest cluster centre. Pixels farther than ``delta_d`` from every
    centre (an object missed by the subsample) are clustered again in up to 3 more rounds.

    Parameters
    ----------
    embeddings:
        float ``(D, [Z,] Y, X)`` pixel embeddings (plus a foreground channel, see
        ``foreground_channel``).
    bandwidth:
        Radius of the flat kernel; default ``2 * delta_v``. A cluster whose pixels lie within
        ``delta_v`` of its mean lies within ``2 * delta_v`` of each of its pixels. With a
        bandwidth of ``delta_v`` itself, 16-dimensional clusters of radius ~0.4 already break
        into many modes: in high dimensions the pixels sit on a shell around the mean, and a
        kernel centred on one of them covers few others.
    delta_v, delta_d:
        Pull and push margins of the discriminative loss the network was trained with.
        ``delta_d`` is also the merge distance of ``merge_close`` and the distance beyond
        which a pixel is clustered again.
    max_samples:
        Pixels drawn (without replacement, seeded by ``seed``) to fit each round; all of
        them when there are no more.
    seed:
        Seed of the subsampling.
    merge_close:
        Merge clusters whose mean embeddings are closer than ``delta_d``
        (:func:`merge_close_clusters`).
    background:
        ``"largest"``: the largest cluster becomes background 0; ``"none"``: every cluster is
        an object. Ignored with a foreground mask, which defines the background.
    foreground:
        ``([Z,] Y, X)`` bool mask, or probabilities foreground where ``> foreground_threshold``;
        only its pixels are clustered, the rest is 0.
    foreground_channel:
        Channel of ``embeddings`` that is the foreground probability; used as the mask and
        removed from the embeddings. Exclusive with ``foreground``.
    foreground_threshold:
        In (0, 1).
    min_size:
        Objects with fewer pixels are removed (set to 0).

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 = background, consecutive ids.

    Raises
    ------
    ValueError
        For invalid shapes or parameter values (see :func:`read_embeddings`).

    References
    ----------
    Comaniciu & Meer, "Mean shift: a robust approach toward feature space analysis", TPAMI
    2002 (scikit-learn's ``MeanShift``); De Brabandere et al. 2017 and Wolny et al., CVPR 2022,
    Sec. 3.3, cluster discriminative-loss embeddings with it.

    Examples
    --------
    >>> embeddings = np.zeros((2, 6, 6), dtype="float32")
    >>> embeddings[0, 1:3, 1:3] = 5.0
    >>> embeddings[1, 4:6, 3:6] = 5.0
    >>> mean_shift_from_embeddings(embeddings).max()
    np.uint32(2)
    """
    check_positive("delta_v", delta_v)
    bandwidth = 2.0 * delta_v if bandwidth is None else bandwidth
    check_positive("bandwidth", bandwidth)

    def fit(sample: np.ndarray, _: int) -> np.ndarray:
        seeds = _bin_seeds(sample, bandwidth)
        # Mean shift asks one radius query per seed and step; scikit-learn's OpenMP
        # reduction over a single query point only adds overhead, 100x when the cores
        # are busy with other work.
        with threadpool_limits(limits=1):
            return MeanShift(bandwidth=bandwidth, seeds=seeds).fit(sample).cluster_centers_

    return _segment_subsampled(
        embeddings,
        fit,
        max_samples=max_samples,
        seed=seed,
        delta_d=delta_d,
        merge_close=merge_close,
        background=background,
        foreground=foreground,
        foreground_channel=foreground_channel,
        foreground_threshold=foreground_threshold,
        min_size=min_size,
    )


@register_postprocessing("hdbscan")
def hdbscan_from_embeddings(
    embeddings: np.ndarray,
    *,
    min_cluster_size: int = 50,
    min_samples: int | None = None,
    delta_d: float = 2.0,
    max_samples: int = 10_000,
    seed: int = 0,
    merge_close: bool = False,
    background: Background = "largest",
    foreground: np.ndarray | None = None,
    foreground_channel: int | None = None,
    foreground_threshold: float = 0.5,
    min_size: int = 0,
) -> np.ndarray:
    """Instances by HDBSCAN clustering of pixel embeddings.

    HDBSCAN runs on a random subsample of at most ``max_samples`` pixels; every pixel, noise
    included, then joins the cluster with the nearest mean embedding. Pixels farther than
    ``delta_d`` from every mean (an object missed by the subsample) are clustered again in up
    to 3 more rounds.

    Parameters
    ----------
    embeddings:
        float ``(D, [Z,] Y, X)`` pixel embeddings (plus a foreground channel, see
        ``foreground_channel``).
    min_cluster_size:
        Smallest cluster in pixels of the full image (>= 2): objects smaller than this are
        noise to HDBSCAN and join their nearest cluster. Scaled by the sampled fraction of
        the pixels for each fit (at least 2). Wolny et al. use 200 on CVPPP leaves; the
        default 50 suits nuclei of radius >= 4 px.
    min_samples:
        HDBSCAN's neighbourhood size in pixels of the full image, scaled like
        ``min_cluster_size`` (at least 1); default: the scaled ``min_cluster_size``.
    delta_d:
        Push margin of the discriminative loss; the merge distance of ``merge_close`` and the
        distance beyond which a pixel is clustered again.
    max_samples:
        Pixels drawn (without replacement, seeded by ``seed``) to fit each round.
    seed:
        Seed of the subsampling.
    merge_close, background, foreground, foreground_channel, foreground_threshold, min_size:
        As in :func:`mean_shift_from_embeddings`.

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 = background, consecutive ids; all 0 if HDBSCAN
        finds no cluster.

    Raises
    ------
    ValueError
        For invalid shapes or parameter values.

    References
    ----------
    Campello, Moulavi & Sander, "Density-based clustering based on hierarchical density
    estimates", PAKDD 2013 (scikit-learn's ``HDBSCAN``); Wolny et al., CVPR 2022, Sec. 3.3.

    Examples
    --------
    >>> embeddings = np.zeros((2, 10, 10), dtype="float32")
    >>> embeddings[0, 1:5, 1:5] = 5.0
    >>> embeddings[1, 5:10, 4:9] = 5.0
    >>> hdbscan_from_embeddings(embeddings, min_cluster_size=5).max()
    np.uint32(2)
    """
    if min_cluster_size < 2:
        raise ValueError(f"`min_cluster_size` must be >= 2, got {min_cluster_size}")
    if min_samples is not None and min_samples < 1:
        raise ValueError(f"`min_samples` must be >= 1 or None, got {min_samples}")

    def fit(sample: np.ndarray, n_pixels: int) -> np.ndarray:
        fraction = len(sample) / n_pixels
        size = max(2, round(min_cluster_size * fraction))
        neighbours = None
        if min_samples is not None:
            neighbours = min(len(sample), max(1, round(min_samples * fraction)))
        if len(sample) < size:
            return sample[:0]
        clusters = HDBSCAN(min_cluster_size=size, min_samples=neighbours, copy=True)
        return _cluster_means(sample, clusters.fit(sample).labels_)

    return _segment_subsampled(
        embeddings,
        fit,
        max_samples=max_samples,
        seed=seed,
        delta_d=delta_d,
        merge_close=merge_close,
        background=background,
        foreground=foreground,
        foreground_channel=foreground_channel,
        foreground_threshold=foreground_threshold,
        min_size=min_size,
    )


def _cluster_means(sample: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Mean embedding ``(K, D)`` of each cluster id ``0 .. K-1`` in ``found`` (-1: noise)."""
    clustered = found >= 0
    n_clusters = int(found.max()) + 1
    counts = np.bincount(found[clustered], minlength=n_clusters)
    sums = np.zeros((n_clusters, sample.shape[1]))
    np.add.at(sums, found[clustered], sample[clustered])
    return sums / counts[:, None]


def _check_sampling(max_samples: int) -> None:
    if max_samples < 2:
        raise ValueError(f"`max_samples` must be >= 2, got {max_samples}")
