"""Synthetic EM-like images of tightly packed cells separated by dark membranes (made here,
shippable)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt, gaussian_filter
from skimage.segmentation import find_boundaries


def synthetic_cells(
    shape: tuple[int, int] = (256, 256),
    *,
    n_cells: int | None = None,
    membrane_width: int = 2,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A Voronoi tessellation of random seeds: cells are the regions, membranes their borders.

    Parameters
    ----------
    shape:
        ``(Y, X)`` of the image.
    n_cells:
        Voronoi seeds (default: one per 32² pixels).
    membrane_width:
        Width of the dark membranes in pixels (≥ 1).
    seed:
        Seed of the random generator.

    Returns
    -------
    image : np.ndarray
        uint8 ``(Y, X)``: bright, textured cytoplasm and dark membranes, with noise.
    labels : np.ndarray
        uint16 ``(Y, X)``: cell ids from 1; membrane pixels are 0.

    Examples
    --------
    >>> image, labels = synthetic_cells((64, 64), seed=1)
    >>> image.dtype, int(labels.max()) > 1
    (dtype('uint8'), True)
    """
    if len(shape) != 2 or min(shape) < 16:
        raise ValueError(f"`shape` must be (Y, X) with both sides >= 16, got {shape}")
    if membrane_width < 1:
        raise ValueError(f"`membrane_width` must be >= 1, got {membrane_width}")
    rng = np.random.default_rng(seed)
    n_cells = n_cells or max(2, shape[0] * shape[1] // 1024)
    markers = np.zeros(shape, dtype=np.int32)
    rows, cols = rng.integers(0, shape[0], n_cells), rng.integers(0, shape[1], n_cells)
    markers[rows, cols] = np.arange(1, n_cells + 1)
    _, (near_r, near_c) = distance_transform_edt(markers == 0, return_indices=True)
    cells = markers[near_r, near_c]
    membranes = find_boundaries(cells, mode="thick")
    if membrane_width > 2:
        membranes = distance_transform_edt(~membranes) < membrane_width / 2
    labels = np.where(membranes, 0, cells).astype(np.uint16)
    texture = gaussian_filter(rng.normal(0, 1, shape), 3)
    image = 0.65 + 0.08 * texture / (texture.std() + 1e-6)
    image = np.where(membranes, 0.2, image)
    image = gaussian_filter(image, 1.0) + rng.normal(0, 0.05, shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), labels
