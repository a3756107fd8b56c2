"""Out-of-core prediction: a volume (zarr, h5, memory-mapped tif, any array-like) is predicted
block by block, each block read with the model's halo, into a chunked zarr array.

Memory is bounded by a block and its halo, not by the volume. Normalisation statistics are
computed once on a strided sample of the whole volume so that blocks agree. Finished blocks are
recorded, so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from semiseg_zoo.inference import Model, fixed_preprocessing, load_model

from .executor import SYNCHRONOUS, DoneMarkers, check_scheduler, run_blocks
from .grid import BlockGrid, Region, aligned_read, within
from .output import finish, open_partial, partial_path, work_folder
from .sources import ModelSource, VolumeSource, as_array, as_model, is_picklable_volume

DEFAULT_SAMPLE_VOXELS = 1 << 24
# Shape of the regions read for the normalisation statistics of a large volume.
SAMPLE_REGION = (32, 256, 256)


@dataclass(frozen=True)
class PreparedInput:
    """A volume ready for blockwise prediction by one model.

    Attributes
    ----------
    volume:
        The array-like, or a :class:`VolumeSource` that workers open themselves.
    axes:
        Axis letters of the volume.
    shape:
        Its spatial shape, in the model's spatial axis order.
    voxel_size:
        Micrometres per spatial axis, if known.
    preprocessing:
        The model's preprocessing with statistics fixed on a sample of the whole volume.
    """

    volume: Any
    axes: str
    shape: tuple[int, ...]
    voxel_size: tuple[float, ...] | None
    preprocessing: tuple[Any, ...]


def prepare_input(
    model: Model,
    volume: Any,
    *,
    axes: str | None = None,
    key: str | None = None,
    sample_voxels: int = DEFAULT_SAMPLE_VOXELS,
) -> PreparedInput:
    """Open ``volume`` (if a path), check its axes against the model and fix normalisation.

    Raises
    ------
    ValueError
        If the volume's axes do not fit the model, or the model zooms its output.
    """
    if model.rule.zoom:
        raise ValueError(
            f"{model.package.name}: blockwise prediction needs an output of the input's size; "
            "this model zooms it"
        )
    voxel_size = None
    if isinstance(volume, (str, os.PathLike)):
        volume = VolumeSource(str(volume), key)
    if isinstance(volume, VolumeSource):
        opened = volume.open()
        axes, voxel_size = axes or opened.axes, opened.voxel_size
    array = as_array(volume)
    spatial_axes = model.spatial_axes
    if axes is None:
        axes = spatial_axes if array.ndim == len(spatial_axes) else "c" + spatial_axes
    if (
        len(axes) != array.ndim
        or sorted(a for a in axes if a != "c") != sorted(spatial_axes)
        or axes.count("c") > 1
    ):
        raise ValueError(
            f"the volume has shape {tuple(array.shape)} and axes {axes!r}, but model "
            f"{model.package.name!r} takes axes {spatial_axes!r} (plus an optional channel); "
            "pass the right axes (--axes) or a model for this dimensionality"
        )
    shape = tuple(int(array.shape[axes.index(a)]) for a in spatial_axes)
    sample = _sample(array, axes, spatial_axes, sample_voxels)
    prepared = model.prepare(sample, axes)
    steps = model.package.description.inputs[0].preprocessing
    fixed = fixed_preprocessing(steps, prepared[None], "bc" + spatial_axes)
    if voxel_size is not None:
        spatial_in_volume = [a for a in axes if a != "c"]
        voxel_size = tuple(voxel_size[spatial_in_volume.index(a)] for a in spatial_axes)
    return PreparedInput(volume, axes, shape, voxel_size, tuple(fixed))


def _sample(array: Any, axes: str, spatial_axes: str, max_voxels: int) -> np.ndarray:
    """The whole volume if it has at most ``max_voxels`` spatial voxels, else regions spread
    evenly over it, stacked along its first spatial axis.

    Whole regions are read rather than every n-th voxel: a strided read of a chunked volume
    would decompress all of it.
    """
    order = [axes.index(a) for a in spatial_axes]
    shape = [int(array.shape[i]) for i in order]
    if math.prod(shape) <= max_voxels:
        return np.asarray(array[...])
    region = [min(s, r) for s, r in zip(shape, SAMPLE_REGION[-len(shape) :], strict=True)]
    count = max(2, max_voxels // math.prod(region))
    grid = [s - r + 1 for s, r in zip(shape, region, strict=True)]  # possible region starts
    per_axis = math.ceil(count ** (1 / len(shape)))
    starts = [
        ((np.arange(min(per_axis, g)) + 0.5) * g / min(per_axis, g)).astype(int) for g in grid
    ]
    corners = list(itertools.product(*starts))
    if len(corners) > count:
        corners = [corners[i] for i in np.linspace(0, len(corners) - 1, count).round().astype(int)]
    pieces = []
    for corner in corners:
        index: list[slice] = [slice(None)] * array.ndim
        for axis, start, size in zip(order, corner, region, strict=True):
            index[axis] = slice(int(start), int(start) + size)
        pieces.append(np.asarray(array[tuple(index)]))
    return np.concatenate(pieces, axis=order[0])


def predict_region(model: Model, prepared: PreparedInput, region: Region) -> np.ndarray:
    """The model's output ``(C_out, *region)`` for a spatial region, read with its halo.

    The read region starts on the model's size grid and keeps the fixed normalisation, so the
    result equals the same region of a whole-volume prediction.
    """
    rule = model.rule
    outer = aligned_read(region, rule.halo, rule.minimum, rule.step, prepared.shape)
    spatial_axes = model.spatial_axes
    read = tuple(slice(None) if a == "c" else outer[spatial_axes.index(a)] for a in prepared.axes)
    data = np.asarray(as_array(prepared.volume)[read])
    result = model.predict(
        data, axes=prepared.axes, tile=None, preprocessing=list(prepared.preprocessing)
    )
    return result[(slice(None), *within(region, outer))]


@dataclass(frozen=True)
class _PredictBlock:
    """One block of :func:`predict_blockwise` (picklable for dask workers)."""

    model: Model | ModelSource
    prepared: PreparedInput
    grid: BlockGrid
    output: str
    done: DoneMarkers

    def __call__(self, block_id: int) -> None:
        region = self.grid.region(block_id)
        result = predict_region(as_model(self.model), self.prepared, region)
        zarr.open_array(self.output, mode="r+")[(slice(None), *region)] = result
        self.done.mark(block_id)  # only after the block's chunks are written


def predict_blockwise(
    model: Model | str | os.PathLike[str],
    volume: Any,
    output: str | os.PathLike[str],
    *,
    axes: str | None = None,
    key: str | None = None,
    block_shape: Sequence[int] | None = None,
    overwrite: bool = False,
    sample_voxels: int = DEFAULT_SAMPLE_VOXELS,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> zarr.Array:
    """Predict ``volume`` block by block into the zarr array ``output``.

    Parameters
    ----------
    model:
        A loaded model (:func:`~semiseg_zoo.inference.load_model`) whose output has the
        input's spatial size, or what ``load_model`` accepts.
    volume:
        A path (zarr, OME-Zarr, h5, tif, npy; see :func:`semiseg_zoo.io.open_volume`) or an
        array-like with numpy slicing (zarr array, h5py dataset, ``numpy.memmap``, array).
    output:
        A ``.zarr`` directory: float32 ``(C_out, *spatial)`` chunked by ``block_shape``. It is
        written as ``<output>.partial`` and renamed when complete.
    axes:
        Axis letters of ``volume`` when the file's metadata or the guess would be wrong.
    key:
        Dataset inside an h5/zarr container.
    block_shape:
        Spatial block shape (default: the model's tile).
    overwrite:
        Replace an existing ``output``.
    sample_voxels:
        Volumes up to this many voxels give their normalisation statistics whole; larger
        ones through regions spread evenly over them (about this many voxels).
    scheduler:
        ``"synchronous"`` (this process), ``"local"`` (a dask cluster on this machine) or
        ``"tcp://HOST:PORT"`` (a running dask scheduler). Default: ``"local"`` for a volume on
        disk or a zarr array, ``"synchronous"`` for an in-memory array.
    workers:
        Worker processes of a local cluster (default: one per core).
    progress:
        Show a progress bar.

    Returns
    -------
    zarr.Array
        The written output.

    Raises
    ------
    ValueError
        If the model's output is zoomed, the axes or ``block_shape`` do not fit the volume, or
        a distributed scheduler is asked for an in-memory array.
    FileExistsError
        If ``output`` exists and ``overwrite`` is False.
    """
    loaded = model if isinstance(model, Model) else load_model(model)
    prepared = prepare_input(loaded, volume, axes=axes, key=key, sample_voxels=sample_voxels)
    scheduler = choose_scheduler(scheduler, prepared.volume)
    grid = BlockGrid(prepared.shape, tuple(block_shape or loaded.default_tile))
    target = Path(output)
    n_out = len(loaded.output_channel_names)
    run = {
        "step": "predict",
        "model": loaded.package.name,
        "shape": list(grid.shape),
        "block_shape": list(grid.block_shape),
    }
    open_partial(
        target,
        shape=(n_out, *grid.shape),
        chunks=(n_out, *grid.block_shape),
        dtype="float32",
        axes="c" + loaded.spatial_axes,
        voxel_size=prepared.voxel_size,
        run=run,
        overwrite=overwrite,
    )
    done = DoneMarkers(work_folder(target) / "predicted")
    task = _PredictBlock(
        loaded if scheduler == SYNCHRONOUS else ModelSource.of(loaded),
        prepared,
        grid,
        str(partial_path(target)),
        done,
    )
    pending = done.pending(range(len(grid)))
    run_blocks(
        task,
        pending,
        scheduler=scheduler,
        workers=workers,
        progress=progress,
        description="predict",
    )
    return finish(target)


def choose_scheduler(scheduler: str | None, volume: Any) -> str:
    """The scheduler to use for ``volume``: ``scheduler`` checked, or the default.

    Raises
    ------
    ValueError
        If a distributed scheduler is asked for a volume its workers cannot read.
    """
    picklable = is_picklable_volume(volume)
    if scheduler is None:
        return "local" if picklable else SYNCHRONOUS
    scheduler = check_scheduler(scheduler)
    if scheduler != SYNCHRONOUS and not picklable:
        raise ValueError(
            f"scheduler {scheduler!r} runs blocks in worker processes, which cannot read an "
            "in-memory array: pass a path (zarr, h5, tif) or a zarr array, or use "
            "scheduler='synchronous'"
        )
    return scheduler
