"""Input normalisation identical to the packages' ``scale_range`` preprocessing."""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def scale_range(
    image: np.ndarray, *, min_percentile: float = 1.0, max_percentile: float = 99.8
) -> np.ndarray:
    """Per-image percentile normalisation: ``(x - p_min) / (p_max - p_min + eps)`` as float32."""
    image = image.astype(np.float32)
    low, high = np.percentile(image, [min_percentile, max_percentile])
    return ((image - low) / (high - low + EPS)).astype(np.float32)


def scale_range_per_channel(
    image: np.ndarray, min_percentile: float = 1.0, max_percentile: float = 99.8
) -> np.ndarray:
    """bioimage.io ``scale_range`` over the spatial axes of each channel, as packages apply it."""
    axes = tuple(range(1, image.ndim))
    low = np.percentile(image, min_percentile, axis=axes, keepdims=True)
    high = np.percentile(image, max_percentile, axis=axes, keepdims=True)
    return ((image - low) / (high - low + EPS)).astype(np.float32)
