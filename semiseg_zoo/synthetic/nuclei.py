"""Synthetic fluorescence-nuclei images with their instance labels (made here, shippable)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.draw import ellipse


def synthetic_nuclei(
    shape: tuple[int, int] = (256, 256),
    *,
    n_objects: int | None = None,
    radius: tuple[float, float] = (6.0, 12.0),
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw non-overlapping bright ellipses on a dark, noisy background.

    Parameters
    ----------
    shape:
        ``(Y, X)`` of the image.
    n_objects:
        Objects to try to place (default: one per 40² pixels); ellipses that would overlap an
        earlier one are skipped, so the result may hold fewer.
    radius:
        Range of the semi-axes in pixels.
    seed:
        Seed of the random generator.

    Returns
    -------
    image : np.ndarray
        uint8 ``(Y, X)``.
    labels : np.ndarray
        uint16 ``(Y, X)`` instance labels, consecutive ids from 1.

    Examples
    --------
    >>> image, labels = synthetic_nuclei((64, 64), n_objects=3, seed=1)
    >>> image.dtype, labels.shape
    (dtype('uint8'), (64, 64))
    """
    if len(shape) != 2 or min(shape) <= 2 * radius[1]:
        raise ValueError(
            f"`shape` must be (Y, X) with both sides > 2 * radius[1] = {2 * radius[1]}, got {shape}"
        )
    rng = np.random.default_rng(seed)
    if n_objects is None:
        n_objects = max(1, shape[0] * shape[1] // 1600)
    labels = np.zeros(shape, dtype=np.uint16)
    signal = np.zeros(shape, dtype=np.float32)
    next_id = 1
    for _ in range(n_objects):
        r_major, r_minor = sorted(rng.uniform(*radius, size=2), reverse=True)
        centre = rng.uniform(r_major, np.array(shape) - r_major)
        rows, cols = ellipse(
            centre[0], centre[1], r_major, r_minor, shape=shape, rotation=rng.uniform(0, np.pi)
        )
        # Keep a one-pixel gap so that objects touch at most diagonally.
        if labels[rows, cols].any() or _touches(labels, rows, cols):
            continue
        labels[rows, cols] = next_id
        signal[rows, cols] = rng.uniform(0.5, 1.0)
        next_id += 1
    image = 0.08 + gaussian_filter(signal, 1.0) + gaussian_filter(rng.normal(0, 0.03, shape), 2)
    image = image + rng.normal(0.0, 0.02, size=shape)
    return (np.clip(image, 0, 1) * 255).astype(np.uint8), labels


def _touches(labels: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> bool:
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        r = np.clip(rows + dy, 0, labels.shape[0] - 1)
        c = np.clip(cols + dx, 0, labels.shape[1] - 1)
        if labels[r, c].any():
            return True
    return False
