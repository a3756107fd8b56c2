"""Affinity targets from (sparse) instance labels (CRAC, Liu et al. 2024, Eq. 1 and Sec. 3).

For an offset ``n`` the affinity of pixel ``i`` pairs it with pixel ``i + n``: 1 if both carry
the same id, 0 otherwise (the convention of the paper and of the exported packages; the mutex
watershed converts it to boundary evidence at one place, see
:func:`semiseg_zoo.postprocess.affinities.affinities_to_boundaries`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

UNANNOTATED = -1


def check_offsets(offsets: Sequence[Sequence[int]], ndim: int) -> np.ndarray:
    """``offsets`` as an ``(N, ndim)`` integer array; a clear error for anything else."""
    array = np.asarray(offsets)
    if array.ndim != 2 or array.shape[1] != ndim or len(array) == 0:
        raise ValueError(
            f"`offsets` has shape {array.shape}; expected (N, {ndim}): one {ndim}D pixel offset "
            "per affinity channel"
        )
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`offsets` must be integers, got {array.tolist()}")
    if not np.abs(array).sum(axis=1).all():
        raise ValueError(f"`offsets` must not contain the zero offset, got {array.tolist()}")
    return array


def pair_slices(
    offset: Sequence[int], shape: Sequence[int]
) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Slices ``(source, target)`` so that ``array[target]`` holds, at each position of
    ``array[source]``, the pixel ``offset`` away; pairs leaving the image are not included."""
    source, target = [], []
    for step, size in zip(offset, shape, strict=True):
        step = int(step)
        if abs(step) >= size:
            return (tuple(slice(0, 0) for _ in shape),) * 2
        if step >= 0:
            source.append(slice(0, size - step))
            target.append(slice(step, size))
        else:
            source.append(slice(-step, size))
            target.append(slice(0, size + step))
    return tuple(source), tuple(target)


def inside_mask(shape: Sequence[int], offsets: Sequence[Sequence[int]]) -> np.ndarray:
    """bool ``(N, *shape)``: the pair of each pixel and the pixel ``offsets[n]`` away lies inside
    the image."""
    offsets_array = check_offsets(offsets, len(shape))
    mask = np.zeros((len(offsets_array), *shape), dtype=bool)
    for channel, offset in enumerate(offsets_array):
        mask[channel][pair_slices(offset, shape)[0]] = True
    return mask


def affinity_targets(
    labels: np.ndarray, offsets: Sequence[Sequence[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Affinity targets and the annotated-pair mask R_a^L for every offset.

    Parameters
    ----------
    labels:
        Integer ids ``([Z,] Y, X)``. ``-1`` marks the unannotated region R^U, which counts as
        one id of its own (the paper's convention); every other value, 0 included, is
        annotated. Dense instance labels (no ``-1``) annotate every pixel.
    offsets:
        ``(N, ndim)`` pixel offsets, e.g. ``[[-1, 0], [0, -1], [-3, 0], [0, -3]]``.

    Returns
    -------
    targets:
        float32 ``(N, [Z,] Y, X)``: 1 where ``labels[i] == labels[i + n]``, else 0 (also 0 where
        the pair leaves the image).
    mask:
        bool ``(N, [Z,] Y, X)``: the pair lies inside the image and at least one of its two
        pixels is annotated.

    Examples
    --------
    >>> targets, mask = affinity_targets(np.array([[1, 1, -1, -1]]), [[0, 1]])
    >>> targets[0].tolist(), mask[0].tolist()
    ([[1.0, 0.0, 1.0, 0.0]], [[True, True, False, False]])
    """
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`labels` must be integer ids, got dtype {labels.dtype}")
    offsets_array = check_offsets(offsets, labels.ndim)
    targets = np.zeros((len(offsets_array), *labels.shape), dtype=np.float32)
    mask = np.zeros(targets.shape, dtype=bool)
    annotated = labels != UNANNOTATED
    for channel, offset in enumerate(offsets_array):
        source, target = pair_slices(offset, labels.shape)
        targets[channel][source] = labels[source] == labels[target]
        mask[channel][source] = annotated[source] | annotated[target]
    return targets, mask
