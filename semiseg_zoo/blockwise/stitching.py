"""Stitch per-block segmentations into one with global ids.

Each block is segmented together with a halo around it; its own voxels get ids unique to the
block (provisional ids). Around every face between two blocks, both blocks segmented a slab
of voxels on both sides (each its own side and its halo across the face); their two views of
the slab, in provisional ids, are compared and ids that mostly overlap are merged. Merges are
resolved globally (connected components of the merge graph); then global rules apply (drop
small objects, the largest object as background) and ids become consecutive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def overlap_merges(
    lower_view: np.ndarray, upper_view: np.ndarray, threshold: float = 0.5
) -> np.ndarray:
    """Pairs of provisional ids ``(k, 2)`` to merge across the face between two blocks.

    Both views cover the same slab of voxels around the face: ``lower_view`` is the
    segmentation of the block before the face, ``upper_view`` that of the block after it, each
    from its own segmentation with halo and written in its own provisional ids (0 where it
    has no id: background, or an object it sees only in its halo). Ids ``a`` and ``b`` are
    merged when they share more than ``threshold`` of the smaller of their two areas in the
    slab: a few voxels that one block labels differently never join two large objects.

    Examples
    --------
    >>> lower = np.array([[1, 1, 1, 2]])
    >>> upper = np.array([[7, 7, 8, 8]])
    >>> overlap_merges(lower, upper).tolist()
    [[1, 7], [2, 8]]
    """
    if lower_view.shape != upper_view.shape:
        raise ValueError(
            f"the two views of a face differ in shape: {lower_view.shape}, {upper_view.shape}"
        )
    a, b = lower_view.ravel(), upper_view.ravel()
    both = (a != 0) & (b != 0)
    if not both.any():
        return np.zeros((0, 2), dtype=np.uint64)
    pairs, overlap = np.unique(np.stack([a[both], b[both]], axis=1), axis=0, return_counts=True)
    ids_a, area_a = np.unique(a[a != 0], return_counts=True)
    ids_b, area_b = np.unique(b[b != 0], return_counts=True)
    smaller = np.minimum(
        area_a[np.searchsorted(ids_a, pairs[:, 0])], area_b[np.searchsorted(ids_b, pairs[:, 1])]
    )
    return pairs[overlap > threshold * smaller].astype(np.uint64)


@dataclass(frozen=True)
class Relabelling:
    """Provisional ids (sorted) and the final id of each (0 = background)."""

    provisional: np.ndarray
    final: np.ndarray

    @property
    def n_objects(self) -> int:
        return int(self.final.max(initial=0))

    def apply(self, provisional_labels: np.ndarray) -> np.ndarray:
        """Final labels of an array of provisional ids (0 stays 0)."""
        flat = provisional_labels.ravel()
        index = np.searchsorted(self.provisional, flat)
        index = np.minimum(index, max(len(self.provisional) - 1, 0))
        if len(self.provisional):
            found = self.provisional[index] == flat
        else:
            found = np.zeros(flat.shape, dtype=bool)
        known = found | (flat == 0)
        if not known.all():
            missing = np.unique(flat[~known])[:5].tolist()
            raise ValueError(
                f"provisional ids {missing} were never recorded: the run is inconsistent"
            )
        out = np.where(found, self.final[index] if len(self.final) else 0, 0)
        return out.astype(self.final.dtype, copy=False).reshape(provisional_labels.shape)


def resolve_merges(
    ids: np.ndarray,
    sizes: np.ndarray,
    merges: Iterable[np.ndarray],
    *,
    min_size: int = 0,
    largest_is_background: bool = False,
) -> Relabelling:
    """Final ids of all provisional ids after merging, global filtering and relabelling.

    Parameters
    ----------
    ids:
        All provisional ids (unique, any order), uint64.
    sizes:
        Voxel count of each id.
    merges:
        Arrays of id pairs ``(k, 2)`` to merge.
    min_size:
        Merged objects with fewer voxels become background 0.
    largest_is_background:
        The largest merged object becomes background 0.

    Returns
    -------
    Relabelling
        Final ids ``1..K`` numbered in the order of each object's smallest provisional id.

    Examples
    --------
    >>> r = resolve_merges(np.array([1, 2, 5], "u8"), np.array([3, 4, 9]), [np.array([[1, 5]])])
    >>> r.final.tolist()
    [1, 2, 1]
    """
    order = np.argsort(ids, kind="stable")
    ids, sizes = np.asarray(ids, dtype=np.uint64)[order], np.asarray(sizes)[order]
    pairs = [np.asarray(m, dtype=np.uint64).reshape(-1, 2) for m in merges]
    edges = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.uint64)
    n = len(ids)
    nodes = np.searchsorted(ids, edges)
    if edges.size and (nodes.max() >= n or not (ids[np.minimum(nodes, n - 1)] == edges).all()):
        raise ValueError("a merge names an id that no block recorded: the run is inconsistent")
    graph = coo_matrix(
        (np.ones(len(nodes), dtype=np.int8), (nodes[:, 0], nodes[:, 1])), shape=(n, n)
    )
    _, component = connected_components(graph, directed=False)
    total = np.bincount(component, weights=sizes, minlength=component.max(initial=-1) + 1)
    keep = total >= min_size
    if largest_is_background and total.size:
        keep[np.argmax(total)] = False
    # Components are numbered by their smallest node, i.e. their smallest provisional id.
    final_of_component = np.cumsum(keep) * keep
    dtype = np.uint32 if final_of_component.max(initial=0) < 2**32 else np.uint64
    return Relabelling(ids, final_of_component[component].astype(dtype))
