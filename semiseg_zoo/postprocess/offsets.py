"""Checks of the pixel offsets and strides that describe affinity graphs.

An offset ``o`` pairs pixel ``i`` with pixel ``i + o``; the first ``ndim`` offsets of a graph
are the direct neighbours (one axis ``±1``), the others long-range edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def check_mws_offsets(offsets: Sequence[Sequence[int]], ndim: int) -> list[list[int]]:
    """Validate the offsets of a mutex-watershed graph.

    Parameters
    ----------
    offsets:
        ``(K, ndim)`` integer offsets: the ``ndim`` direct neighbours first, then at least
        one long-range offset (the repulsive edges).
    ndim:
        Number of spatial axes, 2 or 3.

    Returns
    -------
    list[list[int]]
        The offsets as nested lists of ints.

    Raises
    ------
    ValueError
        For a wrong shape, fewer than ``ndim + 1`` offsets, non-integers, first offsets that
        are not direct neighbours, or a zero offset.

    Examples
    --------
    >>> check_mws_offsets([[-1, 0], [0, -1], [-3, 0]], 2)
    [[-1, 0], [0, -1], [-3, 0]]
    """
    array = np.asarray(offsets)
    if array.ndim != 2 or array.shape[1] != ndim or len(array) <= ndim:
        raise ValueError(
            f"`offsets` has shape {array.shape}; expected (K, {ndim}) with K > {ndim}: the "
            f"{ndim} direct neighbours first, then at least one long-range offset"
        )
    return _check_values(array, offsets, ndim)


def check_neighbour_offsets(offsets: Sequence[Sequence[int]], ndim: int) -> list[list[int]]:
    """Validate offsets whose first ``ndim`` entries are the direct neighbours, one per axis.

    Parameters
    ----------
    offsets:
        ``(K, ndim)`` integer offsets with ``K >= ndim``: one direct neighbour (``±1``) per
        spatial axis first, in any order, then any long-range offsets.
    ndim:
        Number of spatial axes, 2 or 3.

    Returns
    -------
    list[list[int]]
        The offsets as nested lists of ints.

    Raises
    ------
    ValueError
        For a wrong shape, non-integers, first offsets that are not one direct neighbour per
        axis, or a zero offset.

    Examples
    --------
    >>> check_neighbour_offsets([[0, 1], [-1, 0]], 2)
    [[0, 1], [-1, 0]]
    """
    array = np.asarray(offsets)
    if array.ndim != 2 or array.shape[1] != ndim or len(array) < ndim:
        raise ValueError(
            f"`offsets` has shape {array.shape}; expected (K, {ndim}) with K >= {ndim}: the "
            f"{ndim} direct neighbours first, then any long-range offsets"
        )
    checked = _check_values(array, offsets, ndim)
    axes = np.flatnonzero(array[:ndim].T.any(axis=1))
    if len(axes) != ndim:
        raise ValueError(
            f"the first {ndim} `offsets` must be one direct neighbour per axis (e.g. "
            f"{_direct_neighbours(ndim)}), got {array[:ndim].tolist()}"
        )
    return checked


def check_strides(strides: Sequence[int], ndim: int) -> list[int]:
    """Validate the strides of the long-range edges: one positive integer per spatial axis.

    Parameters
    ----------
    strides:
        ``ndim`` positive integers.
    ndim:
        Number of spatial axes.

    Returns
    -------
    list[int]
        The strides as a list of ints.

    Raises
    ------
    ValueError
        For anything but ``ndim`` positive integers.

    Examples
    --------
    >>> check_strides((2, 4, 4), 3)
    [2, 4, 4]
    """
    array = np.asarray(strides)
    if array.shape != (ndim,) or not np.issubdtype(array.dtype, np.integer) or (array < 1).any():
        raise ValueError(
            f"`strides` must be {ndim} positive integers (one per spatial axis), got {strides}"
        )
    return array.tolist()


def _check_values(
    array: np.ndarray, offsets: Sequence[Sequence[int]], ndim: int
) -> list[list[int]]:
    """Integer offsets, direct neighbours first, no zero offset (shape already checked)."""
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"`offsets` must be integers, got {offsets}")
    neighbours = np.abs(array[:ndim])
    if not ((neighbours.sum(axis=1) == 1) & (neighbours.max(axis=1) == 1)).all():
        raise ValueError(
            f"the first {ndim} `offsets` must be direct neighbours (one axis ±1, e.g. "
            f"{_direct_neighbours(ndim)}), got {array[:ndim].tolist()}"
        )
    if not np.abs(array).sum(axis=1).all():
        raise ValueError(f"`offsets` must not contain the zero offset, got {array.tolist()}")
    return array.tolist()


def _direct_neighbours(ndim: int) -> list[list[int]]:
    return (-np.eye(ndim, dtype=int)).tolist()
