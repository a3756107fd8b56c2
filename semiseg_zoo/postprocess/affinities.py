"""Instances from predicted affinities: mutex watershed and agglomerated watershed (2D, 3D).

Affinities are float ``(N, [Z,] Y, X)`` in [0, 1], one channel per pixel offset: channel ``c``
at pixel ``i`` is the probability that ``i`` and ``i + offsets[c]`` belong to the same object
(1 = same object, the convention of the training targets). elf treats every channel as
boundary evidence (1 = cut); :func:`affinities_to_boundaries` converts between the two and is
the only place that does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from bioimage_cpp.segmentation import watershed_from_affinities
from elf.segmentation.clustering import mala_clustering
from elf.segmentation.features import (
    compute_affinity_features,
    compute_rag,
    project_node_labels_to_pixels,
)
from elf.segmentation.mutex_watershed import mutex_watershed
from elf.segmentation.watershed import distance_transform_watershed, stacked_watershed
from scipy.ndimage import generate_binary_structure, label
from skimage.segmentation import join_segmentations

from .labels import remove_small_objects
from .offsets import check_mws_offsets, check_neighbour_offsets, check_strides
from .registry import register_postprocessing

Background = Literal["largest", "none"]
Convention = Literal["affinity", "boundary"]

# Long-range (repulsive) edges kept on a regular grid: one per block of this shape. Every
# z-slice keeps its own, which matters for anisotropic stacks with few slices.
DEFAULT_STRIDES = {2: (4, 4), 3: (1, 4, 4)}

# Affinities may leave [0, 1] by this much (float rounding of a sigmoid); they are clipped.
_RANGE_TOLERANCE = 1e-3


def affinities_to_boundaries(affinities: np.ndarray) -> np.ndarray:
    """Boundary evidence ``1 - a`` from affinities ``a`` (1 = same object), as float32.

    elf's mutex watershed and graph features expect every channel as boundary evidence
    (1 = the two pixels are cut); our networks predict affinities (1 = same object).

    Parameters
    ----------
    affinities:
        Real array of any shape, values in [0, 1].

    Returns
    -------
    np.ndarray
        float32 array of the same shape, a new array (the input is not modified).

    Raises
    ------
    TypeError
        If ``affinities`` does not hold real numbers.

    Examples
    --------
    >>> affinities_to_boundaries(np.array([[1.0, 0.25, 0.0]]))
    array([[0.  , 0.75, 1.  ]], dtype=float32)
    """
    affinities = np.asarray(affinities)
    _check_real(affinities)
    return np.subtract(1.0, affinities, dtype=np.float32)


@register_postprocessing("mutex_watershed")
def mutex_watershed_from_affinities(
    affinities: np.ndarray,
    *,
    offsets: Sequence[Sequence[int]],
    strides: Sequence[int] | None = None,
    bias: float = 0.0,
    randomize_strides: bool = False,
    seed: int = 0,
    mask_threshold: float | None = None,
    background: Background = "none",
    min_size: int = 0,
    convention: Convention = "affinity",
    foreground_channel: bool = False,
) -> np.ndarray:
    """Instances by the mutex watershed of predicted affinities.

    Direct neighbours attract with weight ``a``; the long-range offsets repel with weight
    ``1 - a + bias``. Edges are processed from the strongest down: an attractive edge merges
    its two clusters unless a repulsive edge already processed joins them (a mutex).

    Parameters
    ----------
    affinities:
        float ``(N, [Z,] Y, X)`` in [0, 1], 1 = same object; ``N == len(offsets)``.
    offsets:
        ``(N, ndim)`` pixel offsets of the channels: the ``ndim`` direct neighbours first (one
        per axis, e.g. ``[-1, 0], [0, -1]``), then the long-range offsets (repulsive edges).
    strides:
        One positive integer per axis: one repulsive edge is kept per block of this shape.
        Default :data:`DEFAULT_STRIDES`, ``(4, 4)`` / ``(1, 4, 4)``. Attractive edges are all
        kept; segments of a few pixels need smaller strides to be kept apart.
    bias:
        Added to the repulsive weights: positive values split more, negative ones less.
    randomize_strides:
        Keep each repulsive edge with probability ``1 / prod(strides)`` instead of on a
        regular grid (elf's option).
    seed:
        Seed of the random choice of ``randomize_strides``; unused otherwise. (elf draws it
        from numpy's global generator, which is seeded for the call and then restored: not
        safe to call from several threads at once with ``randomize_strides``.)
    mask_threshold:
        If given, in (0, 1]: pixels whose affinity to every direct neighbour (its own
        nearest-neighbour channels and its neighbours' channels pointing back at it) is below
        it are cut from everything (membrane, background); they are left out of the graph,
        which speeds it up, and labelled 0. None: every pixel is segmented.
    background:
        ``"largest"``: the largest segment becomes background 0 (data with a large
        unsegmented background, e.g. chloroplasts in EM). ``"none"``: every segment is kept.
    min_size:
        Segments with fewer pixels become background 0.
    convention:
        ``"affinity"``: 1 = same object (semiseg-zoo's networks). ``"boundary"``: 1 = cut
        (torch-em's networks), converted here.
    foreground_channel:
        Channel 0 is a foreground probability that comes before the affinities (torch-em's
        affinity networks with a foreground output): pixels below 0.5 are background 0 and
        left out of the graph.

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 = background, consecutive ids from 1.

    Raises
    ------
    ValueError
        For invalid shapes, offsets, strides, affinity values or parameters.
    TypeError
        If ``affinities`` does not hold real numbers.

    References
    ----------
    Wolf et al., "The Mutex Watershed and its Objective: Efficient, Parameter-Free Graph
    Partitioning", TPAMI 2021 (bioimage-cpp's implementation through elf).

    Examples
    --------
    >>> truth = np.array([[1, 1, 2, 2, 2]] * 3)
    >>> affinities = np.zeros((4, 3, 5), dtype="float32")
    >>> affinities[0, 1:] = truth[1:] == truth[:-1]
    >>> affinities[1, :, 1:] = truth[:, 1:] == truth[:, :-1]
    >>> affinities[2, 2:] = truth[2:] == truth[:-2]
    >>> affinities[3, :, 2:] = truth[:, 2:] == truth[:, :-2]
    >>> offsets = [[-1, 0], [0, -1], [-2, 0], [0, -2]]
    >>> mutex_watershed_from_affinities(affinities, offsets=offsets, strides=[1, 1])
    array([[1, 1, 2, 2, 2],
           [1, 1, 2, 2, 2],
           [1, 1, 2, 2, 2]], dtype=uint32)
    """
    affinities, ndim = _read_affinities(affinities)
    foreground = None
    if foreground_channel:
        if len(affinities) < 2:
            raise ValueError("`foreground_channel` needs a foreground channel and affinities")
        foreground, affinities = affinities[0] >= 0.5, affinities[1:]
    if convention == "boundary":
        affinities = affinities_to_boundaries(affinities)  # 1 - x converts both ways
    elif convention != "affinity":
        raise ValueError(f"`convention` must be 'affinity' or 'boundary', got {convention!r}")
    offsets = check_mws_offsets(check_neighbour_offsets(offsets, ndim), ndim)
    _check_channels(affinities, offsets)
    strides = check_strides(DEFAULT_STRIDES[ndim] if strides is None else strides, ndim)
    if not np.isfinite(bias):
        raise ValueError(f"`bias` must be a finite number, got {bias}")
    if mask_threshold is not None and not 0.0 < mask_threshold <= 1.0:
        raise ValueError(f"`mask_threshold` must be in (0, 1] or None, got {mask_threshold}")
    _check_background_and_size(background, min_size)
    mask = None
    if mask_threshold is not None:
        neighbours = _nearest_neighbour_affinities(affinities, offsets)
        mask = _reduce_over_neighbours(neighbours, range(ndim), np.maximum) >= mask_threshold
    if foreground is not None:
        mask = foreground if mask is None else mask & foreground
    if mask is not None and not mask.any():
        return np.zeros(affinities.shape[1:], dtype=np.uint32)
    boundaries = affinities_to_boundaries(affinities)
    boundaries[ndim:] += bias
    # bioimage-cpp draws the random strides from numpy's legacy global generator, the only
    # way to make them reproducible: seed it for the call and give the caller's state back.
    state = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        labels = mutex_watershed(boundaries, offsets, strides, randomize_strides, mask=mask)
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return _finish_labels(labels, background, min_size)


@register_postprocessing("agglomerated_watershed")
def agglomerated_watershed_from_affinities(
    affinities: np.ndarray,
    *,
    offsets: Sequence[Sequence[int]],
    threshold: float = 0.5,
    stacked: bool = False,
    sigma_seeds: float = 2.0,
    background: Background = "none",
    min_size: int = 0,
) -> np.ndarray:
    """Instances by a watershed into fragments and their agglomeration (waterz-style).

    Only the nearest-neighbour affinities (the first ``ndim`` channels) are used:

    1. Interior pixels are those whose affinity to every direct neighbour is at least
       ``threshold``; fragments are seeded in each connected interior region, split further
       at the maxima of its distance to the non-interior pixels (elf's distance-transform
       watershed, slice by slice with ``stacked``), and grown over the affinity graph along
       the strongest paths (bioimage-cpp's watershed on affinities), so that a fragment never
       crosses a cut of perfect affinities.
    2. A region adjacency graph of the fragments is weighted with the mean boundary
       ``1 - a`` of the nearest-neighbour pairs across each contact.
    3. Fragments are merged from the weakest boundary on while the median boundary across
       the merged contacts (a 40-bin histogram of the contacts' means, MALA) is below
       ``1 - threshold``, i.e. while the affinity across it is above ``threshold``.

    Parameters
    ----------
    affinities:
        float ``(N, [Z,] Y, X)`` in [0, 1], 1 = same object; ``N == len(offsets)``.
    offsets:
        ``(N, ndim)`` pixel offsets of the channels: the ``ndim`` direct neighbours first, one
        per axis; long-range channels may follow and are ignored.
    threshold:
        In (0, 1): affinity above which pixels (for the interior) and fragments (for merging)
        belong together.
    stacked:
        For 3D: fragments are 2D, made slice by slice from the in-plane affinities
        (anisotropic EM); the agglomeration then merges them across slices too.
    sigma_seeds:
        Gaussian smoothing (pixels, >= 0) of the distance map whose maxima split the
        interior regions: larger values give fewer fragments.
    background:
        ``"largest"``: the largest segment becomes background 0. ``"none"``: all are kept.
    min_size:
        Segments with fewer pixels become background 0.

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 = background, consecutive ids from 1. All zeros if
        no pixel is interior (every pixel is cut from a neighbour); with ``stacked``, the
        slices without an interior pixel are background.

    Raises
    ------
    ValueError
        For invalid shapes, offsets, affinity values or parameters.
    TypeError
        If ``affinities`` does not hold real numbers.

    References
    ----------
    Funke et al., "Large Scale Image Segmentation with Structured Loss based Deep Learning for
    Connectome Reconstruction", TPAMI 2019 (waterz: watershed fragments, threshold-stopped
    agglomeration); Beier et al., Nat Methods 2017 (distance-transform seeds, elf); Liu et
    al. 2024 (CRAC) post-process their 3D affinities with waterz.

    Examples
    --------
    >>> truth = np.array([[1, 1, 1, 2, 2, 2]] * 4)
    >>> affinities = np.zeros((2, 4, 6), dtype="float32")
    >>> affinities[0, 1:] = truth[1:] == truth[:-1]
    >>> affinities[1, :, 1:] = truth[:, 1:] == truth[:, :-1]
    >>> agglomerated_watershed_from_affinities(affinities, offsets=[[-1, 0], [0, -1]])
    array([[1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2],
           [1, 1, 1, 2, 2, 2]], dtype=uint32)
    """
    affinities, ndim = _read_affinities(affinities)
    offsets = check_neighbour_offsets(offsets, ndim)
    _check_channels(affinities, offsets)
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must be in (0, 1), got {threshold}")
    if stacked and ndim != 3:
        raise ValueError("`stacked=True` needs 3D affinities (N, Z, Y, X), got 2D ones")
    if not np.isfinite(sigma_seeds) or sigma_seeds < 0:
        raise ValueError(f"`sigma_seeds` must be a number >= 0, got {sigma_seeds}")
    _check_background_and_size(background, min_size)
    neighbours = _nearest_neighbour_affinities(affinities, offsets)
    axes = range(1, 3) if stacked else range(ndim)
    markers = _fragment_markers(neighbours, axes, threshold=threshold, sigma_seeds=sigma_seeds)
    if not markers.any():
        return np.zeros(affinities.shape[1:], dtype=np.uint32)
    fragments = _grow_fragments(neighbours, markers, stacked=stacked)
    labels = _agglomerate(fragments, affinities_to_boundaries(neighbours), threshold=threshold)
    return _finish_labels(labels, background, min_size)


def _read_affinities(affinities: np.ndarray) -> tuple[np.ndarray, int]:
    """float32 C-contiguous affinities clipped to [0, 1] and the number of spatial axes."""
    affinities = np.asarray(affinities)
    if affinities.ndim not in (3, 4) or 0 in affinities.shape:
        raise ValueError(
            f"`affinities` has shape {affinities.shape}; expected (N, Y, X) or (N, Z, Y, X): "
            "one channel per offset first, then 2 or 3 non-empty spatial axes"
        )
    _check_real(affinities)
    affinities = np.ascontiguousarray(affinities, dtype=np.float32)
    if not np.isfinite(affinities).all():
        raise ValueError("`affinities` contains NaN or infinite values")
    low, high = float(affinities.min()), float(affinities.max())
    if low < -_RANGE_TOLERANCE or high > 1.0 + _RANGE_TOLERANCE:
        raise ValueError(
            f"`affinities` must lie in [0, 1] (1 = same object), got values in [{low}, {high}]; "
            "pass probabilities (after the sigmoid), not logits"
        )
    if low < 0.0 or high > 1.0:
        affinities = np.clip(affinities, 0.0, 1.0)
    return affinities, affinities.ndim - 1


def _check_real(array: np.ndarray) -> None:
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == bool) or np.iscomplexobj(array):
        raise TypeError(f"`affinities` must hold real numbers, got dtype {array.dtype}")


def _check_channels(affinities: np.ndarray, offsets: list[list[int]]) -> None:
    if len(affinities) != len(offsets):
        raise ValueError(
            f"`affinities` has {len(affinities)} channels but {len(offsets)} `offsets` were "
            "given; pass one offset per channel, in channel order"
        )


def _check_background_and_size(background: str, min_size: int) -> None:
    if background not in ("largest", "none"):
        raise ValueError(f"`background` must be 'largest' or 'none', got {background!r}")
    if min_size < 0:
        raise ValueError(f"`min_size` must be >= 0, got {min_size}")


def _nearest_neighbour_affinities(affinities: np.ndarray, offsets: list[list[int]]) -> np.ndarray:
    """float32 ``(ndim, *spatial)``: channel ``k`` pairs pixel ``i`` with ``i - e_k`` (0 where
    that leaves the image), whatever the order and signs of the first ``ndim`` offsets."""
    ndim = affinities.ndim - 1
    neighbours = np.zeros((ndim, *affinities.shape[1:]), dtype=np.float32)
    for channel, offset in zip(affinities[:ndim], offsets[:ndim], strict=True):
        axis = int(np.flatnonzero(offset)[0])
        if offset[axis] < 0:
            neighbours[axis] = channel
        else:  # a[i] pairs i with i + e_k, which is the pair of i + e_k with its - e_k
            target = np.moveaxis(neighbours[axis], axis, 0)
            target[1:] = np.moveaxis(channel, axis, 0)[:-1]
    return neighbours


def _reduce_over_neighbours(
    neighbours: np.ndarray, axes: Sequence[int], reduce: Callable[..., np.ndarray]
) -> np.ndarray:
    """Maximum or minimum of each pixel's affinities to its direct neighbours along ``axes``
    (both directions): ``reduce`` is ``np.maximum`` or ``np.minimum``."""
    start = -np.inf if reduce is np.maximum else np.inf
    result = np.full(neighbours.shape[1:], start, dtype=np.float32)
    for axis in axes:
        pairs = np.moveaxis(neighbours[axis], axis, 0)[1:]
        view = np.moveaxis(result, axis, 0)
        reduce(view[1:], pairs, out=view[1:])
        reduce(view[:-1], pairs, out=view[:-1])
    return result


def _fragment_markers(
    neighbours: np.ndarray, axes: Sequence[int], *, threshold: float, sigma_seeds: float
) -> np.ndarray:
    """Markers inside the interior: its connected regions, split by a distance watershed."""
    ndim = len(neighbours)
    boundaries = 1.0 - _reduce_over_neighbours(neighbours, axes, np.minimum)
    interior = boundaries <= 1.0 - threshold
    structure = generate_binary_structure(ndim, 1)
    if len(axes) < ndim:  # slice by slice: no connection along z
        structure[[0, 2]] = False
    regions, _ = label(interior, structure=structure)
    # The distance watershed's fragments may reach across a thin cut from a region without a
    # seed of its own; joining them with the regions keeps each marker on one side of a cut.
    watershed_kwargs = {"threshold": 1.0 - threshold, "sigma_seeds": sigma_seeds, "min_size": 0}
    if len(axes) < ndim:
        split, _ = stacked_watershed(boundaries, mask=interior, **watershed_kwargs)
    else:
        split, _ = distance_transform_watershed(boundaries, mask=interior, **watershed_kwargs)
    return join_segmentations(regions.astype(np.int64), split.astype(np.int64))


def _grow_fragments(neighbours: np.ndarray, markers: np.ndarray, *, stacked: bool) -> np.ndarray:
    """Every pixel joins the marker it reaches along the path of highest minimal affinity."""
    markers = markers.astype(np.uint64)
    if not stacked:
        offsets = (-np.eye(len(neighbours), dtype=int)).tolist()
        return watershed_from_affinities(neighbours, offsets, markers)
    in_plane = [[-1, 0], [0, -1]]
    return np.stack(
        [
            watershed_from_affinities(np.ascontiguousarray(neighbours[1:, z]), in_plane, plane)
            for z, plane in enumerate(markers)
        ]
    )


def _agglomerate(fragments: np.ndarray, boundaries: np.ndarray, *, threshold: float) -> np.ndarray:
    """MALA agglomeration of the fragments on the mean boundary across their contacts."""
    offsets = (-np.eye(len(boundaries), dtype=int)).tolist()
    graph = compute_rag(fragments)
    features = compute_affinity_features(graph, fragments, boundaries, offsets)
    mean, size = features[:, 0], features[:, -1]
    node_labels = mala_clustering(graph, mean, size, 1.0 - threshold)
    labels = project_node_labels_to_pixels(graph, fragments, node_labels.astype(np.uint64) + 1)
    return np.where(fragments == 0, 0, labels)


def _finish_labels(labels: np.ndarray, background: Background, min_size: int) -> np.ndarray:
    """Largest segment to background if asked, small segments removed, ids 1..K (uint32)."""
    labels = np.asarray(labels)
    if background == "largest" and labels.max() > 0:
        sizes = np.bincount(labels.ravel())
        sizes[0] = 0
        labels = np.where(labels == np.argmax(sizes), 0, labels)
    return remove_small_objects(labels, min_size)
