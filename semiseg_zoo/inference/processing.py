"""Pre- and post-processing steps of a package, applied as bioimageio.core applies them.

Statistics are per sample: computed on the whole image before it is tiled, so that tiles are
normalised alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import SimpleNamespace
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
    """A per-axis parameter list broadcast against a tensor with ``axes`` (an array that
    already has the tensor's number of dimensions is used as it is)."""
    array = np.asarray(values, dtype=np.float32)
    if axis is None or array.ndim == 0 or array.ndim == len(axes):
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


# Steps whose result depends on statistics of the tensor they are applied to.
PER_SAMPLE_STEPS = ("scale_range", "zero_mean_unit_variance")


@dataclass(frozen=True)
class FixedStep:
    """A processing step with its statistics fixed (``id`` + ``kwargs`` like a package step)."""

    id: str
    kwargs: Any


def fixed_preprocessing(steps: Sequence[Any], sample: np.ndarray, axes: str) -> list[Any]:
    """The package's steps with per-sample statistics computed once, on ``sample``.

    A large volume is predicted block by block; normalising each block by its own statistics
    would make blocks disagree. The statistics are computed on ``sample`` (the whole image, or a
    strided subsample of a volume) and frozen: ``scale_range`` becomes a ``scale_linear`` and
    ``zero_mean_unit_variance`` a ``fixed_zero_mean_unit_variance`` with the same values.

    Parameters
    ----------
    steps:
        The package's preprocessing steps.
    sample:
        A tensor with ``axes`` (e.g. ``bczyx``) on which the statistics are computed.
    axes:
        Its axis letters.

    Returns
    -------
    list
        Steps for :func:`apply_steps` (and ``Model.predict(preprocessing=...)``).
    """
    fixed: list[Any] = []
    tensor = np.asarray(sample)
    for step in steps:
        if step.id in PER_SAMPLE_STEPS:
            step = _freeze(step, tensor, axes)
        fixed.append(step)
        tensor = apply_step(tensor, step, axes)
    return fixed


def _freeze(step: Any, tensor: np.ndarray, axes: str) -> FixedStep:
    kwargs, reduce = step.kwargs, _reduce_axes(step.kwargs, axes)
    if step.id == "scale_range":
        if kwargs.reference_tensor is not None:
            raise PackageError("scale_range with a reference_tensor is not supported")
        low, high = np.percentile(
            tensor, [kwargs.min_percentile, kwargs.max_percentile], axis=reduce, keepdims=True
        ).astype(np.float32)
        gain = np.float32(1.0) / (high - low + np.float32(kwargs.eps))
        return FixedStep("scale_linear", SimpleNamespace(gain=gain, offset=-low * gain, axis=None))
    mean = tensor.mean(axis=reduce, keepdims=True)
    std = tensor.std(axis=reduce, keepdims=True)
    return FixedStep(
        "fixed_zero_mean_unit_variance",
        SimpleNamespace(mean=mean, std=std, eps=kwargs.eps, axis=None),
    )
