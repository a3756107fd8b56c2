"""Synthetic top-view rosette plants (leaves around a centre) with leaf instance labels."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.draw import ellipse


def synthetic_rosette(
    shape: tuple[int, int] = (256, 256),
    *,
    n_leaves: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw green elliptic leaves radiating from the image centre on brown, textured soil.

    Later leaves are drawn over earlier ones, so leaves overlap and touch as in CVPPP images.

    Parameters
    ----------
    shape:
        ``(Y, X)`` of the image, both sides at least 64.
    n_leaves:
        Number of leaves (default: random, 6 to 12).
    seed:
        Seed of the random generator.

    Returns
    -------
    image : np.ndarray
        uint8 RGB ``(Y, X, 3)``.
    labels : np.ndarray
        uint16 ``(Y, X)`` leaf labels (0 = soil), consecutive ids from 1.

    Examples
    --------
    >>> image, labels = synthetic_rosette((96, 96), n_leaves=5, seed=1)
    >>> image.shape, int(labels.max())
    ((96, 96, 3), 5)
    """
    if len(shape) != 2 or min(shape) < 64:
        raise ValueError(f"`shape` must be (Y, X) with both sides >= 64, got {shape}")
    rng = np.random.default_rng(seed)
    n_leaves = int(rng.integers(6, 13)) if n_leaves is None else n_leaves
    centre = np.array(shape, dtype=float) / 2
    size = min(shape) / 2
    labels = np.zeros(shape, dtype=np.uint16)
    green = np.zeros(shape, dtype=np.float32)
    for leaf, angle in enumerate(np.sort(rng.uniform(0, 2 * np.pi, n_leaves)), start=1):
        length = rng.uniform(0.25, 0.42) * size
        width = rng.uniform(0.35, 0.55) * length
        direction = np.array([np.sin(angle), np.cos(angle)])
        middle = centre + direction * (0.15 * size + length)
        rows, cols = ellipse(
            middle[0], middle[1], length, width, shape=shape, rotation=-angle + np.pi / 2
        )
        labels[rows, cols] = leaf
        green[rows, cols] = rng.uniform(0.55, 0.85)
    # Relabel consecutively: a leaf may be hidden entirely by later ones.
    ids = np.unique(labels[labels > 0])
    lookup = np.zeros(n_leaves + 1, dtype=np.uint16)
    lookup[ids] = np.arange(1, len(ids) + 1)
    labels = lookup[labels]
    soil = 0.3 + gaussian_filter(rng.normal(0, 0.15, shape), 1.5)
    plant = gaussian_filter(green, 0.8)
    veins = (labels > 0) & (gaussian_filter(rng.normal(0, 1, shape), 2) > 0.4)
    plant = plant - 0.1 * veins
    image = np.stack(
        [
            np.where(labels > 0, 0.25 * plant, 0.45 * soil),
            np.where(labels > 0, plant, 0.3 * soil),
            np.where(labels > 0, 0.2 * plant, 0.2 * soil),
        ],
        axis=-1,
    )
    image = image + rng.normal(0, 0.02, image.shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), labels
