"""Out-of-core prediction: a volume (zarr, h5, memory-mapped tif, any array-like) is predicted
block by block, each block read with the model's halo, and written into a chunked zarr array.

Memory is bounded by a block and its halo, not by the volume. Normalisation statistics are
computed once on a strided sample of the whole volume so that blocks agree. Finished blocks are
recorded beside the output, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from semiseg_zoo.inference import Model, ShapeRule, fixed_preprocessing

DONE_FOLDER = ".blocks_done"
DEFAULT_SAMPLE_VOXELS = 1 << 24


def block_grid(
    shape: Sequence[int], block_shape: Sequence[int]
) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """Yield ``(block index, block slices)`` of a regular grid covering ``shape``.

    Examples
    --------
    >>> [index for index, _ in block_grid((5, 3), (4, 4))]
    [(0, 0), (1, 0)]
    """
    counts = [math.ceil(s / b) for s, b in zip(shape, block_shape, strict=True)]
    for index in itertools.product(*(range(c) for c in counts)):
        yield (
            index,
            tuple(
                slice(i * b, min((i + 1) * b, s))
                for i, b, s in zip(index, block_shape, shape, strict=True)
            ),
        )


def _with_halo(block: tuple[slice, ...], rule: ShapeRule, shape: Sequence[int]):
    """The region read for a block, and the block within it.

    The block grows by the halo; its start moves down to the size grid (a multiple of the
    rule's step) and it grows further if it is shorter than the minimum. Then the network pads
    a region that ends at the volume's border exactly as it pads the whole volume, so blocks
    reproduce the whole-volume prediction there too.
    """
    outer = []
    for b, halo, low, step, size in zip(
        block, rule.halo, rule.minimum, rule.step, shape, strict=True
    ):
        grid = max(step, 1)
        start = max(b.start - halo, 0) // grid * grid
        stop = min(b.stop + halo, size)
        if stop - start < low:
            stop = min(start + low, size)
            start = max(stop - low, 0) // grid * grid
        outer.append(slice(start, stop))
    inner = tuple(
        slice(b.start - o.start, b.stop - o.start) for b, o in zip(block, outer, strict=True)
    )
    return tuple(outer), inner


def _sample(volume: Any, spatial_index: list[int], max_voxels: int) -> np.ndarray:
    """A strided sample of ``volume`` with at most ``max_voxels`` spatial voxels."""
    voxels = math.prod(volume.shape[i] for i in spatial_index)
    stride = max(1, math.ceil((voxels / max_voxels) ** (1 / len(spatial_index))))
    slices = [slice(None)] * volume.ndim
    for i in spatial_index:
        slices[i] = slice(None, None, stride)
    return np.asarray(volume[tuple(slices)])


def predict_blockwise(
    model: Model,
    volume: Any,
    output: str | os.PathLike[str],
    *,
    axes: str | None = None,
    block_shape: Sequence[int] | None = None,
    overwrite: bool = False,
    sample_voxels: int = DEFAULT_SAMPLE_VOXELS,
    progress: bool = False,
) -> zarr.Array:
    """Predict ``volume`` block by block into the zarr array ``output``.

    Parameters
    ----------
    model:
        A loaded model (:func:`~semiseg_zoo.inference.load_model`) whose output has the input's
        spatial size.
    volume:
        Array-like with ``shape``, ``ndim`` and numpy slicing (zarr array, h5py dataset,
        ``numpy.memmap``, array), axes as :meth:`Model.prepare` accepts them.
    output:
        A ``.zarr`` directory: float32 ``(C_out, *spatial)`` chunked by ``block_shape``.
    axes:
        Axis letters of ``volume`` when the guess would be wrong.
    block_shape:
        Spatial block shape (default: the model's tile).
    overwrite:
        Replace an existing output; without it an existing output of the same run is resumed
        (its finished blocks are kept) and any other existing path is an error.
    sample_voxels:
        At most this many voxels (a strided sample) give the normalisation statistics.
    progress:
        Show a progress bar.

    Returns
    -------
    zarr.Array
        The written output.

    Raises
    ------
    ValueError
        If the model's output is zoomed or ``block_shape`` does not fit the volume.
    FileExistsError
        If ``output`` exists, is not a resumable run of the same prediction, and ``overwrite``
        is False.
    """
    if model.rule.zoom:
        raise ValueError(
            f"{model.package.name}: blockwise prediction needs an output of the input's size; "
            "this model zooms it"
        )
    spatial_axes = model.spatial_axes
    if axes is None:
        axes = spatial_axes if volume.ndim == len(spatial_axes) else "c" + spatial_axes
    if len(axes) != volume.ndim or sorted(a for a in axes if a != "c") != sorted(spatial_axes):
        raise ValueError(
            f"volume has shape {volume.shape} and axes {axes!r}, but model "
            f"{model.package.name!r} takes axes {spatial_axes!r} (plus an optional channel)"
        )
    spatial_index = [axes.index(a) for a in spatial_axes]
    shape = tuple(volume.shape[i] for i in spatial_index)
    block = tuple(block_shape or model.default_tile)
    if len(block) != len(shape) or min(block) < 1:
        raise ValueError(f"`block_shape` {block} needs {len(shape)} positive values")

    sample = _sample(volume, spatial_index, sample_voxels)
    prepared = model.prepare(sample, axes)
    steps = model.package.description.inputs[0].preprocessing
    fixed = fixed_preprocessing(steps, prepared[None], "bc" + spatial_axes)

    path = Path(output)
    n_out = len(model.output_channel_names)
    run = {"model": model.package.name, "shape": list(shape), "block_shape": list(block)}
    target = _open_output(path, (n_out, *shape), (n_out, *block), run, overwrite)
    done = path / DONE_FOLDER
    done.mkdir(exist_ok=True)

    from tqdm import tqdm

    blocks = list(block_grid(shape, block))
    for index, inner_block in tqdm(blocks, disable=not progress, unit="block"):
        marker = done / "_".join(map(str, index))
        if marker.exists():
            continue
        outer, inner = _with_halo(inner_block, model.rule, shape)
        read = [slice(None)] * volume.ndim
        for axis, region in zip(spatial_index, outer, strict=True):
            read[axis] = region
        data = np.asarray(volume[tuple(read)])
        result = model.predict(data, axes=axes, tile=None, preprocessing=fixed)
        target[(slice(None), *inner_block)] = result[(slice(None), *inner)]
        marker.touch()  # only after the block's chunks are written
    return target


def _open_output(
    path: Path,
    shape: tuple[int, ...],
    chunks: tuple[int, ...],
    run: dict[str, Any],
    overwrite: bool,
) -> zarr.Array:
    if path.exists() and not overwrite:
        try:
            existing = zarr.open_array(path, mode="r+")
            same = existing.attrs.get("semiseg_run") == run and existing.shape == shape
        except Exception:  # not a zarr array: not ours to resume
            same = False
        if not same:
            raise FileExistsError(
                f"{path} exists and is not an unfinished run of this prediction; pass "
                "overwrite=True (--overwrite) to replace it"
            )
        return existing
    array = zarr.create_array(
        path, shape=shape, chunks=chunks, dtype="float32", overwrite=True, fill_value=0.0
    )
    array.attrs["semiseg_run"] = json.loads(json.dumps(run))
    return array
