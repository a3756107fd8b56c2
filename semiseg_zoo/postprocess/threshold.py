"""Threshold + connected components for single-channel foreground probabilities."""

from __future__ import annotations

import bioimage_cpp as bic
import numpy as np

from .labels import remove_small_objects
from .registry import register_postprocessing


@register_postprocessing("threshold")
def connected_components_from_foreground(
    probabilities: np.ndarray, *, threshold: float = 0.5, min_size: int = 0
) -> np.ndarray:
    """Instances as connected components of ``p(foreground) > threshold``.

    Parameters
    ----------
    probabilities:
        float array ``(1, [Z,] Y, X)`` or ``([Z,] Y, X)``.
    threshold:
        In (0, 1).
    min_size:
        Objects with fewer pixels are removed.

    Returns
    -------
    np.ndarray
        uint32 labels ``([Z,] Y, X)``, 0 = background, consecutive ids (face connectivity).

    Examples
    --------
    >>> p = np.zeros((5, 5)); p[0, 0] = p[4, 4] = 0.9
    >>> connected_components_from_foreground(p).max()
    np.uint32(2)
    """
    probabilities = np.asarray(probabilities)
    if probabilities.ndim in (3, 4) and probabilities.shape[0] == 1:
        probabilities = probabilities[0]
    if probabilities.ndim not in (2, 3):
        raise ValueError(
            f"`probabilities` has shape {probabilities.shape}; expected (1, [Z,] Y, X) or "
            "([Z,] Y, X)"
        )
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"`threshold` must be in (0, 1), got {threshold}")
    labels = bic.segmentation.label(probabilities > threshold, background=0, connectivity=1)
    return remove_small_objects(labels, min_size)
