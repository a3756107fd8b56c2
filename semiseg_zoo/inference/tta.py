"""Test-time augmentation over the 8 flips / 90° rotations of the last two axes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


def _forward(array: np.ndarray, k: int, flip: bool) -> np.ndarray:
    if flip:
        array = array[..., ::-1]
    return np.rot90(array, k, axes=(-2, -1))


def _inverse(array: np.ndarray, k: int, flip: bool) -> np.ndarray:
    array = np.rot90(array, -k, axes=(-2, -1))
    if flip:
        array = array[..., ::-1]
    return array


def predict_with_tta(predict: Predict, image: np.ndarray) -> np.ndarray:
    """Average of ``predict`` over the 8 dihedral transforms of ``image``'s last two axes, each
    output transformed back (ACTIS Eq. 1). ``predict`` maps ``(C, ..., Y, X)`` to
    ``(C_out, ..., Y, X)``."""
    total: np.ndarray | None = None
    for k in range(4):
        for flip in (False, True):
            transformed = np.ascontiguousarray(_forward(image, k, flip))
            output = _inverse(predict(transformed), k, flip)
            total = output.astype(np.float32) if total is None else total + output
    assert total is not None
    return total / 8.0
