"""Helpers shared by the post-processing tests."""

from __future__ import annotations

import numpy as np

# Per-pixel (background, interior, boundary) probabilities, one letter per kind of pixel.
PIXELS = {
    "B": (1.0, 0.0, 0.0),  # background
    "I": (0.05, 0.9, 0.05),  # confident interior: a seed
    "b": (0.1, 0.1, 0.8),  # boundary: foreground, not a seed
    "W": (0.6, 0.3, 0.1),  # weak foreground: 1 - p(bg) = 0.4
    "L": (0.3, 0.4, 0.3),  # foreground with a low interior probability
}


def probabilities(*rows: str, dtype: str = "float32") -> np.ndarray:
    """``(3, Y, X)`` probabilities from a picture drawn with the letters of ``PIXELS``."""
    table = np.array([[PIXELS[c] for c in row] for row in rows], dtype=dtype)
    return np.ascontiguousarray(table.transpose(2, 0, 1))


def labels(*rows: str) -> np.ndarray:
    """A uint32 label image from rows of digits (``.`` or ``0`` = background)."""
    return np.array([[0 if c == "." else int(c) for c in row] for row in rows], dtype=np.uint32)


def assert_valid_labels(result: np.ndarray) -> None:
    """uint32, 0 = background, ids 1..n all present."""
    assert result.dtype == np.uint32
    ids = np.unique(result)
    n = int(result.max())
    expected = np.arange(0 if (result == 0).any() else 1, n + 1)
    np.testing.assert_array_equal(ids, expected)
