"""Steps shared by the pixel-embedding clustering methods: inputs, foreground, merging, background.

Pixel embeddings are ``(D, [Z,] Y, X)`` float arrays from a network trained with the
discriminative (pull-push) loss: pixels within ``delta_v`` of their object's mean embedding,
object means at least ``2 * delta_d`` apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from skimage.segmentation import relabel_sequential

from .labels import remove_small_objects

Background = Literal["largest", "none"]


@dataclass(frozen=True)
class EmbeddingInput:
    """Validated embeddings and the pixels to cluster.

    Attributes
    ----------
    embeddings:
        float32 ``(D, [Z,] Y, X)``, without the foreground channel.
    mask:
        bool ``([Z,] Y, X)`` foreground, or None when every pixel is clustered.
    """

    embeddings: np.ndarray
    mask: np.ndarray | None

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        return self.embeddings.shape[1:]

    def pixels(self) -> np.ndarray:
        """The embeddings of the pixels to cluster, ``(N, D)`` in C order of the image."""
        flat = self.embeddings.reshape(self.embeddings.shape[0], -1)
        if self.mask is not None:
            flat = flat[:, self.mask.ravel()]
        return np.ascontiguousarray(flat.T)

    def to_image(self, cluster_ids: np.ndarray) -> np.ndarray:
        """uint32 labels ``([Z,] Y, X)`` from ids ``>= 1`` of :meth:`pixels`, 0 off the mask."""
        if self.mask is None:
            return cluster_ids.astype(np.uint32).reshape(self.spatial_shape)
        labels = np.zeros(self.spatial_shape, dtype=np.uint32)
        labels[self.mask] = cluster_ids
        return labels


def check_positive(name: str, value: float) -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"`{name}` must be a positive number, got {value}")


def read_embeddings(
    embeddings: np.ndarray,
    *,
    foreground: np.ndarray | None,
    foreground_channel: int | None,
    foreground_threshold: float,
) -> EmbeddingInput:
    """Validate the network output and split off the foreground.

    Parameters
    ----------
    embeddings:
        ``(C, [Z,] Y, X)``: pixel embeddings, plus the foreground probability in channel
        ``foreground_channel`` if that is given.
    foreground:
        ``([Z,] Y, X)`` bool mask, or numbers (probabilities, 0/1) that are foreground where
        ``> foreground_threshold``.
    foreground_channel:
        Channel of ``embeddings`` holding the foreground probability (negative indices count
        from the end); removed from the embeddings. Exclusive with ``foreground``.
    foreground_threshold:
        In (0, 1).

    Raises
    ------
    ValueError
        For a wrong number of axes, non-finite values, a foreground of another shape, a channel
        out of range, both foreground inputs at once, or a threshold outside (0, 1).
    """
    embeddings = np.asarray(embeddings)
    if embeddings.ndim not in (3, 4) or 0 in embeddings.shape:
        raise ValueError(
            f"`embeddings` has shape {embeddings.shape}; expected (D, [Z,] Y, X) pixel "
            "embeddings, the channel axis first"
        )
    if not np.issubdtype(embeddings.dtype, np.number) or np.iscomplexobj(embeddings):
        raise TypeError(f"`embeddings` must hold real numbers, got dtype {embeddings.dtype}")
    if not 0.0 < foreground_threshold < 1.0:
        raise ValueError(f"`foreground_threshold` must be in (0, 1), got {foreground_threshold}")
    if foreground is not None and foreground_channel is not None:
        raise ValueError(
            "pass either `foreground` (a mask) or `foreground_channel` (a channel of the "
            "embeddings), not both"
        )
    n_channels = embeddings.shape[0]
    mask = None
    if foreground_channel is not None:
        if not -n_channels <= foreground_channel < n_channels or n_channels < 2:
            raise ValueError(
                f"`foreground_channel` is {foreground_channel} but the embeddings have "
                f"{n_channels} channel(s); pass an index in [{-n_channels}, {n_channels - 1}] "
                "and keep at least one embedding channel"
            )
        channel = foreground_channel % n_channels
        mask = embeddings[channel] > foreground_threshold
        embeddings = np.delete(embeddings, channel, axis=0)
    elif foreground is not None:
        foreground = np.asarray(foreground)
        if foreground.shape != embeddings.shape[1:]:
            raise ValueError(
                f"`foreground` has shape {foreground.shape} but the embeddings' spatial shape "
                f"is {embeddings.shape[1:]}; pass a mask of shape ([Z,] Y, X)"
            )
        mask = foreground if foreground.dtype == bool else foreground > foreground_threshold
    embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
    if not np.isfinite(embeddings).all():
        raise ValueError("`embeddings` contains NaN or infinite values")
    return EmbeddingInput(embeddings, None if mask is None else np.ascontiguousarray(mask))


def merge_close_clusters(
    labels: np.ndarray, embeddings: np.ndarray, *, distance: float
) -> np.ndarray:
    """Merge the clusters whose mean embeddings are closer than ``distance``, transitively.

    With ``distance = delta_d`` this is SPOCO's refinement of an over-segmentation: the push
    term of the discriminative loss keeps the means of different objects at least
    ``2 * delta_d`` apart, so two means closer than ``delta_d`` belong to one object. Chains
    merge as a whole (a ~ b and b ~ c merge a, b and c).

    Parameters
    ----------
    labels:
        Non-negative integer labels ``([Z,] Y, X)``; 0 is background and is never merged.
    embeddings:
        float ``(D, [Z,] Y, X)`` pixel embeddings.
    distance:
        Positive; clusters with means at a Euclidean distance ``< distance`` merge.

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 where ``labels`` is 0, consecutive ids.

    Raises
    ------
    ValueError
        If the shapes do not match, ``labels`` has negative values or ``distance`` is not
        positive.

    References
    ----------
    Wolny et al., "Sparse Object-level Supervision for Instance Segmentation with Pixel
    Embeddings", CVPR 2022, Sec. 4 (Cityscapes): "we merge every pair of clusters if the mean
    cluster embeddings are closer than delta_d".

    Examples
    --------
    >>> labels = np.array([[1, 2, 3]])
    >>> embeddings = np.array([[[0.0, 1.0, 5.0]]])
    >>> merge_close_clusters(labels, embeddings, distance=2.0)
    array([[1, 1, 2]], dtype=uint32)
    """
    labels = np.asarray(labels)
    embeddings = np.asarray(embeddings)
    check_positive("distance", distance)
    if embeddings.ndim != labels.ndim + 1 or embeddings.shape[1:] != labels.shape:
        raise ValueError(
            f"`labels` has shape {labels.shape} but `embeddings` has {embeddings.shape}; "
            "expected labels ([Z,] Y, X) and embeddings (D, [Z,] Y, X) of the same image"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be integers, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"`labels` must be non-negative, got a minimum of {labels.min()}")
    compact, _, _ = relabel_sequential(labels)
    flat = compact.ravel().astype(np.intp)
    n_ids = int(flat.max()) + 1 if flat.size else 1
    if n_ids <= 2:
        return compact.astype(np.uint32)
    counts = np.bincount(flat, minlength=n_ids)[1:]
    sums = np.stack(
        [np.bincount(flat, weights=channel.ravel(), minlength=n_ids)[1:] for channel in embeddings]
    )
    means = (sums / counts).T
    pairs = cKDTree(means).query_pairs(distance, output_type="ndarray")
    if len(pairs):  # query_pairs includes distance == r; the merge criterion is strict
        gaps = np.linalg.norm(means[pairs[:, 0]] - means[pairs[:, 1]], axis=1)
        pairs = pairs[gaps < distance]
    n_clusters = len(means)
    graph = coo_matrix(
        (np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n_clusters, n_clusters)
    )
    _, component = connected_components(graph, directed=False)
    new_ids = np.concatenate([[0], component + 1]).astype(np.uint32)
    merged, _, _ = relabel_sequential(new_ids[compact])
    return merged.astype(np.uint32, copy=False)


def finish_labels(
    labels: np.ndarray,
    data: EmbeddingInput,
    *,
    merge_close: bool,
    delta_d: float,
    background: Background,
    min_size: int,
) -> np.ndarray:
    """Merge close clusters, turn the largest cluster into background (without a mask),
    remove small objects and number the objects in the order of their first pixel (C order),
    so that the result does not depend on the order in which a method finds its clusters."""
    if merge_close:
        labels = merge_close_clusters(labels, data.embeddings, distance=delta_d)
    if background == "largest" and data.mask is None and labels.max() > 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        labels = np.where(labels == np.argmax(sizes), 0, labels)
    labels = remove_small_objects(labels, min_size)
    ids, first = np.unique(labels, return_index=True)
    in_order = ids[np.argsort(first)]
    in_order = in_order[in_order != 0]
    new_ids = np.zeros(int(ids[-1]) + 1 if len(ids) else 1, dtype=np.uint32)
    new_ids[in_order] = np.arange(1, len(in_order) + 1, dtype=np.uint32)
    return new_ids[labels]


def check_common(*, delta_d: float, background: str, min_size: int) -> None:
    check_positive("delta_d", delta_d)
    if background not in ("largest", "none"):
        raise ValueError(f"`background` must be 'largest' or 'none', got {background!r}")
    if min_size < 0:
        raise ValueError(f"`min_size` must be >= 0, got {min_size}")
