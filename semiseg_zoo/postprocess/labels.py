"""Small helpers on label images shared by the post-processing methods."""

from __future__ import annotations

import numpy as np
from skimage.segmentation import relabel_sequential


def remove_small_objects(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Return a copy of ``labels`` without objects smaller than ``min_size`` pixels, relabelled
    to consecutive ids starting at 1 (uint32)."""
    labels = np.asarray(labels)
    if min_size > 0 and labels.max() > 0:
        sizes = np.bincount(labels.ravel())
        small = sizes < min_size
        small[0] = False
        labels = np.where(small[labels], 0, labels)
    relabelled, _, _ = relabel_sequential(labels)
    return relabelled.astype(np.uint32, copy=False)
