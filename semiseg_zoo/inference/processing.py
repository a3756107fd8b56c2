"""Pre- and post-processing steps of a package, applied as bioimageio.core applies them.

Statistics are per sample: computed on the whole image before it is tiled, so that tiles are
normalised alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .package import PackageError


def _reduce_axes(kwargs: Any, axes: str) -> tuple[int, ...]:
    names = getattr(kwargs, "axes", None)
    if names is None:
        return tuple(range(len(axes)))
    return tuple(axes.index(_letter(str(name))) for name in names)


def _letter(axis_id: str) -> str:
    return {"batch": "b", "channel": "c"}.get(axis_id, axis_id)


def _along(values: Any, axis: str | None, axes: str) -> np.ndarray:
    """A per-axis parameter list broadcast against a tensor with ``axes``."""
    array = np.asarray(values, dtype=np.float32)
    if axis is None or array.ndim == 0:
        return array
    shape = [1] * len(axes)
    shape[axes.index(_letter(axis))] = array.size
    return array.reshape(shape)


def apply_step(tensor: np.ndarray, step: Any, axes: str) -> np.ndarray:
    """Apply one processing step (a bioimage.io 0.5 processing description)."""
    name, kwargs = step.id, step.kwargs
    if name == "ensure_dtype":
        return tensor.astype(kwargs.dtype, copy=False)
    if name == "scale_range":
        if kwargs.reference_tensor is not None:
            raise PackageError("scale_range with a reference_tensor is not supported")
        reduce = _reduce_axes(kwargs, axes)
        low, high = np.percentile(
            tensor, [kwargs.min_percentile, kwargs.max_percentile], axis=reduce, keepdims=True
        ).astype(np.float32)
        result = np.subtract(tensor, low, dtype=np.float32)
        result /= high - low + np.float32(kwargs.eps)
        return result
    if name == "zero_mean_unit_variance":
        reduce = _reduce_axes(kwargs, axes)
        mean = tensor.mean(axis=reduce, keepdims=True)
        std = tensor.std(axis=reduce, keepdims=True)
        return ((tensor - mean) / (std + kwargs.eps)).astype(np.float32)
    if name == "fixed_zero_mean_unit_variance":
        axis = getattr(kwargs, "axis", None)
        mean = _along(kwargs.mean, axis, axes)
        std = _along(kwargs.std, axis, axes)
        return ((tensor - mean) / (std + kwargs.eps)).astype(np.float32)
    if name == "scale_linear":
        axis = getattr(kwargs, "axis", None)
        gain = _along(kwargs.gain, axis, axes)
        offset = _along(kwargs.offset, axis, axes)
        return (tensor * gain + offset).astype(np.float32)
    if name == "clip":
        return np.clip(tensor, kwargs.min, kwargs.max)
    if name == "sigmoid":
        return (1.0 / (1.0 + np.exp(-tensor))).astype(np.float32)
    if name == "binarize":
        return (tensor > kwargs.threshold).astype(np.float32)
    raise PackageError(f"processing step {name!r} is not supported by semiseg-zoo")


def apply_steps(tensor: np.ndarray, steps: Sequence[Any], axes: str) -> np.ndarray:
    """Apply processing steps in order to ``tensor`` with axis letters ``axes`` (e.g. ``bcyx``)."""
    for step in steps:
        tensor = apply_step(tensor, step, axes)
    return tensor
