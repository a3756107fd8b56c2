"""Cover image for a package: the sample input beside the network's output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

# Colours for up to 6 output channels (background first is shown dark).
_PALETTE = np.array(
    [[20, 20, 20], [0, 200, 80], [255, 60, 60], [60, 120, 255], [255, 200, 0], [200, 0, 255]],
    dtype=np.float32,
)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    low, high = np.percentile(image, [1, 99.8])
    return (np.clip((image - low) / (high - low + 1e-6), 0, 1) * 255).astype(np.uint8)


def _principal_components(embeddings: np.ndarray, n: int) -> np.ndarray:
    """The first ``n`` principal components of pixel embeddings ``(D, Y, X)`` → ``(n, Y, X)``."""
    flat = embeddings.reshape(embeddings.shape[0], -1).T
    flat = flat - flat.mean(axis=0)
    _, _, components = np.linalg.svd(flat, full_matrices=False)
    projected = flat @ components[:n].T
    return projected.T.reshape((n, *embeddings.shape[1:]))


def write_cover(
    sample_input: np.ndarray, output: np.ndarray, path: Path, *, embeddings: bool = False
) -> Path:
    """Write a PNG: input ``(Y, X)`` (grey) | output ``(C, Y, X)`` (channels coloured).

    Output values are treated as probabilities in [0, 1]; with one channel it is shown grey.
    ``embeddings``: the output is pixel embeddings, shown as their first 3 principal components.
    """
    left = np.repeat(_to_uint8(sample_input)[..., None], 3, axis=-1)
    if embeddings:
        right = np.stack([_to_uint8(c) for c in _principal_components(output, 3)], axis=-1)
    elif output.shape[0] == 1:
        right = np.repeat(_to_uint8(output[0])[..., None], 3, axis=-1)
    else:
        weights = np.clip(output[: len(_PALETTE)], 0, 1)
        colour = np.tensordot(weights, _PALETTE[: weights.shape[0]], axes=(0, 0))
        right = np.clip(colour, 0, 255).astype(np.uint8)
    gap = np.full((left.shape[0], 4, 3), 255, dtype=np.uint8)
    Image.fromarray(np.concatenate([left, gap, right], axis=1)).save(path)
    return path
