"""Training targets derived from instance labels."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import find_boundaries

BACKGROUND, INTERIOR, BOUNDARY = 0, 1, 2


def three_class_targets(labels: np.ndarray) -> np.ndarray:
    """Background (0), interior (1) and boundary (2) classes from an instance label image.

    The boundary is the one-pixel inner rim of every object, so touching objects are separated
    by boundary pixels on both sides of their contact.

    Parameters
    ----------
    labels:
        Integer instance labels ``([Z,] Y, X)``, 0 = background.

    Returns
    -------
    np.ndarray
        uint8 class map of the same shape.
    """
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"`labels` must be an integer label image, got dtype {labels.dtype}")
    classes = (labels > 0).astype(np.uint8)
    classes[find_boundaries(labels, mode="inner") & (labels > 0)] = BOUNDARY
    return classes
