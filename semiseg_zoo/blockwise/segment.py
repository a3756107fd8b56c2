"""Blockwise instance segmentation with global ids, out of core.

Three passes over the block grid:

1. **segment**: each block is segmented with a halo around it by the recipe's method (seeded
   watershed for teacher outputs, mutex watershed for affinities, ...); its own voxels are
   written with provisional ids unique to the block, and what it sees across its faces is
   saved (see :mod:`.stitching`).
2. **stitch** (this process): merges across all faces are resolved into one table; small
   objects and, where the recipe says so, the largest object (background) are dropped, and ids
   become consecutive.
3. **relabel**: each block's provisional ids are replaced by the final ones.

The probabilities come from a stored array (a previous :func:`predict_blockwise`) or are
predicted on the fly for each block with its halo, so that affinities of a 50 GB volume never
have to be stored.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from semiseg_zoo.inference import Model, load_model, postprocessing_recipe
from semiseg_zoo.postprocess import apply_postprocessing, method_defaults

from .executor import SYNCHRONOUS, DoneMarkers, run_blocks
from .grid import BlockGrid, Region, grow, within
from .output import finish, open_partial, partial_path, work_folder
from .predict import (
    DEFAULT_SAMPLE_VOXELS,
    PreparedInput,
    choose_scheduler,
    predict_region,
    prepare_input,
)
from .sources import ModelSource, as_model
from .stitching import Relabelling, overlap_merges, resolve_merges

# Methods whose result near a voxel depends only on the data nearby, so that segmenting a block
# with a halo and stitching reproduces the whole-volume result; and the parameters among theirs
# that need the whole volume (applied after stitching, not per block).
BLOCKWISE_METHODS: dict[str, dict[str, Any]] = {
    "watershed": {"min_size": 0},
    "threshold": {"min_size": 0},
    "distance_watershed": {"min_size": 0},
    "mutex_watershed": {"min_size": 0, "background": "none"},
    "embedding_mws": {"min_size": 0, "background": "none"},
}
MIN_HALO = 16
# Blocks of in-memory probabilities (stored ones are split at their chunks).
DEFAULT_BLOCK_SHAPE = {2: (1024, 1024), 3: (64, 256, 256)}


def split_recipe(recipe: Mapping[str, Any]) -> tuple[dict[str, Any], int, bool]:
    """The per-block recipe, and the global ``min_size`` and largest-is-background rules.

    Raises
    ------
    ValueError
        If the method cannot run blockwise (it clusters the whole volume at once).
    """
    method = recipe.get("method")
    if method not in BLOCKWISE_METHODS:
        raise ValueError(
            f"post-processing method {method!r} cannot run blockwise (blockwise methods: "
            f"{sorted(BLOCKWISE_METHODS)}); segment a smaller volume in memory instead"
        )
    local = {**recipe, **BLOCKWISE_METHODS[method]}
    settings = {**method_defaults(method), **recipe}
    return local, int(settings.get("min_size", 0)), settings.get("background") == "largest"


def default_halo(recipe: Mapping[str, Any], block_shape: Sequence[int]) -> tuple[int, ...]:
    """Context segmented around each block by default: per axis, twice the longest affinity
    offset and at least 16, but at most half the block."""
    offsets = recipe.get("offsets")
    reach = np.abs(np.asarray(offsets)).max(axis=0) if offsets else np.zeros(len(block_shape))
    return tuple(
        max(1, min(max(MIN_HALO, 2 * int(r)), b // 2))
        for r, b in zip(reach, block_shape, strict=True)
    )


# ---------------------------------------------------------------------------- probabilities
@dataclass(frozen=True)
class _Predicted:
    """Probabilities predicted for each region on the fly."""

    model: Model | ModelSource
    prepared: PreparedInput

    def __call__(self, region: Region) -> np.ndarray:
        return predict_region(as_model(self.model), self.prepared, region)


@dataclass(frozen=True)
class _Stored:
    """Probabilities ``(C, *spatial)`` read from an array-like or a zarr array's path."""

    array: Any

    def __call__(self, region: Region) -> np.ndarray:
        array = self.array
        if isinstance(array, str):
            array = zarr.open_array(array, mode="r")
        return np.asarray(array[(slice(None), *region)])


# ------------------------------------------------------------------------------- pass 1
@dataclass(frozen=True)
class _SegmentBlock:
    probabilities: _Predicted | _Stored
    recipe: dict[str, Any]
    grid: BlockGrid
    halo: tuple[int, ...]
    provisional: str
    faces: str
    done: DoneMarkers

    def __call__(self, block_id: int) -> None:
        region = self.grid.region(block_id)
        outer = grow(region, self.halo, self.grid.shape)
        labels = apply_postprocessing(self.probabilities(outer), self.recipe)
        inner = within(region, outer)
        own_labels = np.unique(labels[inner])
        own_labels = own_labels[own_labels != 0]
        # Provisional ids: the block's labels present in its own voxels, numbered from offset+1;
        # labels seen only in the halo, and background, map to 0.
        offset = np.uint64(block_id) * np.uint64(math.prod(self.grid.block_shape))
        position = np.searchsorted(own_labels, labels)
        known = position < len(own_labels)
        known[known] = own_labels[position[known]] == labels[known]
        view = np.where(known, position.astype(np.uint64) + offset + np.uint64(1), np.uint64(0))
        provisional = view[inner]
        zarr.open_array(self.provisional, mode="r+")[region] = provisional
        sizes = np.bincount(position[inner][known[inner]], minlength=len(own_labels))
        record = {
            "ids": np.arange(1, len(own_labels) + 1, dtype=np.uint64) + offset,
            "sizes": sizes.astype(np.int64),
        }
        for axis in range(len(region)):
            for side in ("lower", "upper"):
                slab = face_slab(self.grid, block_id, axis, side, self.halo)
                if slab is not None:
                    record[f"{side}{axis}"] = view[within(slab, outer)]
        _save_atomically(Path(self.faces) / f"{block_id}.npz", record)
        self.done.mark(block_id)


MAX_SLAB = 4


def face_slab(
    grid: BlockGrid, block_id: int, axis: int, side: str, halo: Sequence[int]
) -> Region | None:
    """The slab of voxels around a block's face that both blocks at the face compare: up to
    :data:`MAX_SLAB` planes on each side (fewer if a block or the halo is thinner); None where
    the block has no neighbour on that side."""
    position = list(grid.position(block_id))
    position[axis] += -1 if side == "lower" else 1
    neighbour = grid.block_id(position)
    if neighbour == -1:
        return None
    here, there = grid.region(block_id), grid.region(neighbour)
    extent = min(here[axis].stop - here[axis].start, there[axis].stop - there[axis].start)
    depth = min(MAX_SLAB, halo[axis], extent)
    face = here[axis].start if side == "lower" else here[axis].stop
    return tuple(slice(face - depth, face + depth) if a == axis else r for a, r in enumerate(here))


def _save_atomically(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    with os.fdopen(handle, "wb") as file:
        np.savez(file, **arrays)
    os.replace(temporary, path)


# ------------------------------------------------------------------------------- pass 2
def stitch(
    grid: BlockGrid, faces: Path, *, min_size: int, largest_is_background: bool
) -> Relabelling:
    """Resolve the merges recorded by all blocks into one :class:`Relabelling`."""
    ids, sizes, merges = [], [], []
    for block_id in range(len(grid)):
        with np.load(faces / f"{block_id}.npz") as record:
            ids.append(record["ids"])
            sizes.append(record["sizes"])
            for axis in range(len(grid.shape)):
                upper = grid.upper_neighbour(block_id, axis)
                if upper == -1:
                    continue
                with np.load(faces / f"{upper}.npz") as other:
                    merges.append(overlap_merges(record[f"upper{axis}"], other[f"lower{axis}"]))
    return resolve_merges(
        np.concatenate(ids),
        np.concatenate(sizes),
        merges,
        min_size=min_size,
        largest_is_background=largest_is_background,
    )


# ------------------------------------------------------------------------------- pass 3
@lru_cache(maxsize=2)
def _load_relabelling(path: str, modified: float) -> Relabelling:
    with np.load(path) as saved:
        return Relabelling(saved["provisional"], saved["final"])


@dataclass(frozen=True)
class _RelabelBlock:
    grid: BlockGrid
    provisional: str
    relabelling: str
    output: str
    done: DoneMarkers

    def __call__(self, block_id: int) -> None:
        region = self.grid.region(block_id)
        relabelling = _load_relabelling(self.relabelling, os.path.getmtime(self.relabelling))
        labels = relabelling.apply(zarr.open_array(self.provisional, mode="r")[region])
        zarr.open_array(self.output, mode="r+")[region] = labels
        self.done.mark(block_id)


# ------------------------------------------------------------------------------- driver
def segment_blockwise(
    source: Model | str | os.PathLike[str] | Any,
    output: str | os.PathLike[str],
    *,
    volume: Any = None,
    recipe: Mapping[str, Any] | None = None,
    axes: str | None = None,
    key: str | None = None,
    block_shape: Sequence[int] | None = None,
    halo: Sequence[int] | None = None,
    overwrite: bool = False,
    sample_voxels: int = DEFAULT_SAMPLE_VOXELS,
    scheduler: str | None = None,
    workers: int | None = None,
    progress: bool = False,
) -> zarr.Array:
    """Instance labels of a large volume, segmented block by block and stitched, into zarr.

    Two uses:

    * ``segment_blockwise(model, "seg.zarr", volume="raw.zarr")``: predict each block (with
      the model's halo and the segmentation halo) and segment it at once; the recipe defaults to
      the package's.
    * ``segment_blockwise("probabilities.zarr", "seg.zarr", recipe={...})``: segment stored
      probabilities ``(C, *spatial)`` (e.g. from :func:`predict_blockwise`).

    Parameters
    ----------
    source:
        A loaded :class:`~semiseg_zoo.inference.Model` or a model name/path (with ``volume``),
        or, without ``volume``, the probabilities: a path or an array-like ``(C, *spatial)``.
    output:
        A ``.zarr`` directory: uint32 labels ``(*spatial)``, 0 = background, ids 1..K,
        chunked by ``block_shape``; written as ``<output>.partial`` and renamed when complete.
    volume:
        The raw volume for a model (a path or an array-like; see :func:`predict_blockwise`).
    recipe:
        ``{"method": ..., **params}`` (default: the package's post-processing). Methods:
        :data:`BLOCKWISE_METHODS`. ``min_size`` and ``background="largest"`` apply to the
        stitched objects of the whole volume.
    axes, key:
        Axis letters and h5/zarr dataset of ``volume``.
    block_shape:
        Spatial block shape (default: the model's tile, or the stored chunks).
    halo:
        Voxels of context segmented around each block per axis, at least 1 (default: twice
        the longest affinity offset and at least 16, at most half the block). A halo of about
        twice the objects' diameter reproduces the whole-volume result; smaller ones cost
        less and may merge objects cut by the block's border.
    overwrite, sample_voxels, scheduler, workers, progress:
        As for :func:`predict_blockwise`.

    Returns
    -------
    zarr.Array
        The labels.

    Raises
    ------
    ValueError
        If the method cannot run blockwise, no recipe is known, or shapes do not fit.
    FileExistsError
        If ``output`` exists and ``overwrite`` is False.

    References
    ----------
    Block-wise segmentation with overlap-based stitching follows the strategy of Pape et al.,
    "Solving large multicut problems for connectomics via domain decomposition", ICCV
    Workshops 2017, and elf's blockwise mutex watershed; the merge rule here is a vote of both
    blocks' halo segmentations over each contact.
    """
    target = Path(output)
    probabilities, shape, voxel_size, recipe, chunks, scheduler, description = _probabilities(
        source, volume, recipe, axes, key, sample_voxels, scheduler
    )
    local, min_size, largest_is_background = split_recipe(recipe)
    grid = BlockGrid(shape, tuple(block_shape or chunks))
    halo = tuple(halo) if halo is not None else default_halo(recipe, grid.block_shape)
    if len(halo) != len(shape) or min(halo) < 1:
        raise ValueError(f"`halo` {halo} needs {len(shape)} values of at least 1 (one per axis)")
    halo = tuple(min(h, s) for h, s in zip(halo, shape, strict=True))
    run = {
        "step": "segment",
        "source": description,
        "recipe": dict(recipe),
        "shape": list(shape),
        "block_shape": list(grid.block_shape),
        "halo": list(halo),
    }
    open_partial(
        target,
        shape=shape,
        chunks=grid.block_shape,
        dtype="uint32",
        axes="zyx"[-len(shape) :],
        voxel_size=voxel_size,
        run=run,
        overwrite=overwrite,
    )
    work = work_folder(target)
    provisional = work / "provisional.zarr"
    if not provisional.exists():
        zarr.create_array(
            store=str(provisional),
            shape=shape,
            chunks=grid.block_shape,
            dtype="uint64",
            fill_value=0,
        )
    faces = work / "faces"
    segmented, relabelled = DoneMarkers(work / "segmented"), DoneMarkers(work / "relabelled")
    blocks = range(len(grid))
    segment_task = _SegmentBlock(
        probabilities, local, grid, halo, str(provisional), str(faces), segmented
    )
    options = {"scheduler": scheduler, "workers": workers, "progress": progress}
    run_blocks(segment_task, segmented.pending(blocks), description="segment", **options)

    relabelling = stitch(
        grid, faces, min_size=min_size, largest_is_background=largest_is_background
    )
    # Stitching is deterministic: a resumed run saves the same table its relabelled blocks used.
    mapping = work / "relabelling.npz"
    _save_atomically(mapping, {"provisional": relabelling.provisional, "final": relabelling.final})
    relabel_task = _RelabelBlock(
        grid, str(provisional), str(mapping), str(partial_path(target)), relabelled
    )
    run_blocks(relabel_task, relabelled.pending(blocks), description="relabel", **options)
    zarr.open_array(str(partial_path(target)), mode="r+").attrs["n_objects"] = relabelling.n_objects
    return finish(target)


def _probabilities(
    source: Any,
    volume: Any,
    recipe: Mapping[str, Any] | None,
    axes: str | None,
    key: str | None,
    sample_voxels: int,
    scheduler: str | None,
) -> tuple[
    Any, tuple[int, ...], tuple[float, ...] | None, dict[str, Any], tuple[int, ...], str, str
]:
    """Where each block's probabilities come from, and the run's facts."""
    if volume is not None:
        model = source if isinstance(source, Model) else load_model(source)
        prepared = prepare_input(model, volume, axes=axes, key=key, sample_voxels=sample_voxels)
        if recipe is None:
            recipe, reason = postprocessing_recipe(model.package, model.output_channel_names)
            if recipe is None:
                raise ValueError(f"cannot segment with {model.package.name!r}: {reason}")
        chosen = choose_scheduler(scheduler, prepared.volume)
        used = model if chosen == SYNCHRONOUS else ModelSource.of(model)
        return (
            _Predicted(used, prepared),
            prepared.shape,
            prepared.voxel_size,
            dict(recipe),
            tuple(model.default_tile),
            chosen,
            model.package.name,
        )
    if recipe is None:
        raise ValueError("segmenting stored probabilities needs a `recipe` ({'method': ...})")
    description, voxel_size, array = "array", None, source
    if isinstance(source, (str, os.PathLike)):
        description = source = str(source)
        array = _open_stored(source, key)
        voxel_size = array.attrs.get("voxel_size")
    if array.ndim not in (3, 4):
        raise ValueError(f"probabilities have shape {tuple(array.shape)}; expected (C, [Z,] Y, X)")
    chunks = getattr(array, "chunks", None)
    chunks = tuple(chunks[1:]) if chunks else DEFAULT_BLOCK_SHAPE[array.ndim - 1]
    chosen = choose_scheduler(scheduler, array)
    return (
        _Stored(source),
        tuple(int(s) for s in array.shape[1:]),
        tuple(voxel_size) if voxel_size else None,
        dict(recipe),
        chunks,
        chosen,
        description,
    )


def _open_stored(path: str, key: str | None) -> zarr.Array:
    """The zarr array of stored probabilities (channel axis kept even if it has size 1)."""
    try:
        node = zarr.open(store=path, mode="r")
        array = node[key] if key else node
    except Exception as error:
        raise ValueError(
            f"{path}: cannot open stored probabilities as a zarr array ({error}); give the "
            "zarr written by predict_blockwise (semiseg-predict --save-probabilities)"
        ) from None
    if not isinstance(array, zarr.Array):
        raise ValueError(f"{path}: is a zarr group; name the array with key=...")
    return array
