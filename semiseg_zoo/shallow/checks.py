"""Input checks shared by the shallow modules (label and feature arrays)."""

from __future__ import annotations

import numpy as np


def check_labels(labels: np.ndarray, name: str = "labels") -> None:
    """Raise unless ``labels`` is a 2D or 3D array of integer (or bool) class ids."""
    if not isinstance(labels, np.ndarray):
        raise TypeError(f"`{name}` must be a numpy array, got {type(labels).__name__}")
    if labels.dtype != bool and not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"`{name}` has dtype {labels.dtype}; pass integer class ids (e.g. `labels.astype(int)`)"
        )
    if labels.ndim not in (2, 3):
        raise ValueError(
            f"`{name}` has shape {labels.shape}; expected 2D (Y, X) or 3D (Z, Y, X) spatial axes"
        )


def check_features(features: np.ndarray, spatial_shape: tuple[int, ...] | None = None) -> None:
    """Raise unless ``features`` is a real ``(*spatial, C)`` array with 2 or 3 spatial axes
    (equal to ``spatial_shape`` when given)."""
    if not isinstance(features, np.ndarray):
        raise TypeError(f"`features` must be a numpy array, got {type(features).__name__}")
    if not (
        np.issubdtype(features.dtype, np.floating) or np.issubdtype(features.dtype, np.integer)
    ):
        raise TypeError(f"`features` has dtype {features.dtype}; pass real numbers (float32)")
    if features.ndim not in (3, 4) or features.shape[-1] < 1:
        raise ValueError(
            f"`features` has shape {features.shape}; expected (Y, X, C) or (Z, Y, X, C) with "
            "the feature channels last"
        )
    if spatial_shape is not None and features.shape[:-1] != tuple(spatial_shape):
        raise ValueError(
            f"`features` has spatial shape {features.shape[:-1]} but `labels` has shape "
            f"{tuple(spatial_shape)}; compute the features on the labeled image"
        )
