"""Tiled prediction with halo: any image size, seamless stitching.

Windows are placed on a grid aligned to the package's size ``step`` (which for a U-Net is its
pooling factor), never extend past the image, and keep at least ``halo`` pixels of context on
every side that is not an image border. With a halo that covers the receptive field the result
equals one pass over the whole image.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ShapeRule:
    """Valid spatial input sizes ``minimum + n * step`` per axis, the halo to crop (in input
    pixels) and the output's size relative to the input (``zoom``; empty: 1 on every axis)."""

    minimum: tuple[int, ...]
    step: tuple[int, ...]
    halo: tuple[int, ...]
    zoom: tuple[float, ...] = ()

    def output_size(self, size: int, axis: int) -> int:
        """Output pixels for ``size`` input pixels along ``axis``."""
        return round(size * self.zoom[axis]) if self.zoom else size

    def valid_at_least(self, size: int, axis: int) -> int:
        """The smallest valid size >= ``size``."""
        low, step = self.minimum[axis], self.step[axis]
        if size <= low or step == 0:
            return low
        return low + math.ceil((size - low) / step) * step

    def valid_at_most(self, size: int, axis: int) -> int:
        """The largest valid size <= ``size`` (the minimum if ``size`` is smaller)."""
        low, step = self.minimum[axis], self.step[axis]
        if size <= low or step == 0:
            return low
        return low + (size - low) // step * step


def pad_to_valid(image: np.ndarray, rule: ShapeRule) -> tuple[np.ndarray, tuple[int, ...]]:
    """Reflect-pad ``image (C, *spatial)`` at the end of each axis to a valid shape.

    Returns the padded image and the original spatial shape.
    """
    shape = image.shape[1:]
    # A fixed-size axis (step 0) larger than its size is not padded: it is tiled instead.
    target = [max(rule.valid_at_least(s, axis), s) for axis, s in enumerate(shape)]
    pads = [(0, 0)] + [(0, t - s) for t, s in zip(target, shape, strict=True)]
    if all(p == (0, 0) for p in pads):
        return image, shape
    # reflect needs pad < size; symmetric covers tiny images
    mode = "reflect" if all(t - s < s for t, s in zip(target, shape, strict=True)) else "symmetric"
    return np.pad(image, pads, mode=mode), shape


def _axis_windows(size: int, tile: int, halo: int) -> Iterator[tuple[int, int, int]]:
    """Yield (window_start, inner_start, inner_stop) along one axis.

    Window ``i`` starts at ``i * inner`` (clamped to the image) and contributes the pixels from
    ``halo`` after its start to ``halo`` before its end; the first and last windows also
    contribute up to the image border, where no context is missing.
    """
    if tile >= size:
        yield 0, 0, size
        return
    inner = tile - 2 * halo
    count = math.ceil((size - 2 * halo) / inner)
    for index in range(count):
        window_start = min(index * inner, size - tile)
        inner_start = 0 if index == 0 else index * inner + halo
        inner_stop = size if index == count - 1 else (index + 1) * inner + halo
        yield window_start, inner_start, inner_stop


def _balanced_tile(size: int, tile: int, halo: int, rule: ShapeRule, axis: int) -> int:
    """The smallest valid tile that needs as few windows as ``tile`` does: less overlap."""
    if tile >= size:
        return tile
    count = math.ceil((size - 2 * halo) / (tile - 2 * halo))
    balanced = rule.valid_at_least(math.ceil((size - 2 * halo) / count) + 2 * halo, axis)
    return min(balanced, tile)


def tile_layout(
    shape: Sequence[int], tile: Sequence[int], rule: ShapeRule
) -> tuple[
    tuple[int, ...],
    tuple[int, ...],
    list[tuple[tuple[slice, ...], tuple[slice, ...], tuple[slice, ...]]],
]:
    """Windows covering a valid ``shape``.

    Returns the tile shape actually used, the effective halo, and for every window the input
    slices, the slices of the window's output to keep, and where they go in the full output.
    """
    tile_shape, halos = [], []
    for axis, (size, wanted) in enumerate(zip(shape, tile, strict=True)):
        step = max(rule.step[axis], 1)
        halo = math.ceil(rule.halo[axis] / step) * step  # keep windows on the step grid
        size_tile = rule.valid_at_most(max(wanted, 2 * halo + step), axis)
        if size_tile - 2 * halo < step:
            size_tile = rule.valid_at_least(2 * halo + step, axis)
        size_tile = min(size_tile, size)
        tile_shape.append(_balanced_tile(size, size_tile, halo, rule, axis))
        halos.append(halo)
    per_axis = [
        list(_axis_windows(s, t, h)) for s, t, h in zip(shape, tile_shape, halos, strict=True)
    ]
    windows = []
    for combination in itertools.product(*per_axis):
        source = tuple(
            slice(w, w + t) for (w, _, _), t in zip(combination, tile_shape, strict=True)
        )
        keep = tuple(slice(i0 - w, i1 - w) for w, i0, i1 in combination)
        target = tuple(slice(i0, i1) for _, i0, i1 in combination)
        windows.append((source, keep, target))
    return tuple(tile_shape), tuple(halos), windows


def predict_tiled(
    predict: Predict,
    image: np.ndarray,
    rule: ShapeRule,
    *,
    tile: Sequence[int] | None = None,
) -> np.ndarray:
    """Predict ``image (C, *spatial)`` (already normalised) window by window.

    Parameters
    ----------
    predict:
        Maps a batch ``(1, C, *tile)`` to ``(1, C_out, *tile * rule.zoom)``.
    image:
        float32 ``(C, *spatial)``.
    rule:
        Valid sizes and halo of the package.
    tile:
        Wanted spatial tile shape; ``None`` predicts the whole (padded) image in one pass.

    Returns
    -------
    np.ndarray
        float32 ``(C_out, *spatial * rule.zoom)`` cropped to the input's (zoomed) extent.
    """
    padded, shape = pad_to_valid(image, rule)
    crop = (slice(None),) + tuple(
        slice(0, rule.output_size(s, axis)) for axis, s in enumerate(shape)
    )
    if tile is None:
        tile = padded.shape[1:]
    # Fixed-size axes are always tiled at their size.
    tile = [rule.minimum[axis] if rule.step[axis] == 0 else size for axis, size in enumerate(tile)]
    if all(t >= s for t, s in zip(tile, padded.shape[1:], strict=True)):
        return predict(padded[None])[0][crop]
    _, _, windows = tile_layout(padded.shape[1:], tile, rule)
    output_shape = tuple(rule.output_size(s, axis) for axis, s in enumerate(padded.shape[1:]))
    output: np.ndarray | None = None
    for source, keep, target in windows:
        window = np.ascontiguousarray(padded[(slice(None), *source)])
        result = predict(window[None])[0]
        expected = tuple(rule.output_size(s, axis) for axis, s in enumerate(window.shape[1:]))
        if result.shape[1:] != expected:
            raise ValueError(
                f"the model mapped a tile of {window.shape[1:]} pixels to {result.shape[1:]}, "
                f"but its description says {expected}: run it without tiling (--no-tiling)"
            )
        if output is None:
            output = np.empty((result.shape[0], *output_shape), dtype=np.float32)
        out_target, out_keep = (target, keep) if not rule.zoom else _zoomed(source, target, rule)
        output[(slice(None), *out_target)] = result[(slice(None), *out_keep)]
    assert output is not None
    return output[crop]


def _zoomed(
    source: tuple[slice, ...], target: tuple[slice, ...], rule: ShapeRule
) -> tuple[tuple[slice, ...], tuple[slice, ...]]:
    """Where a window's kept part goes, and which part that is, in output pixels of a model
    whose output is zoomed relative to its input."""
    out_target, out_keep = [], []
    for axis, (window, inner) in enumerate(zip(source, target, strict=True)):
        start = window.start * rule.zoom[axis]
        if start != round(start):
            raise ValueError(
                f"a tile starting at pixel {window.start} does not start on a whole output "
                f"pixel of this model (zoom {rule.zoom[axis]}): run it without tiling"
            )
        first, last = rule.output_size(inner.start, axis), rule.output_size(inner.stop, axis)
        out_target.append(slice(first, last))
        out_keep.append(slice(first - round(start), last - round(start)))
    return tuple(out_target), tuple(out_keep)
