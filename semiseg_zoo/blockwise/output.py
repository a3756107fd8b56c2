"""Blockwise outputs are built in ``<name>.partial`` and renamed into place when complete.

The partial store holds the zarr array being written and a ``.work`` folder with what the
run needs to resume (which blocks are done, intermediate results). A run that stops early
leaves only the ``.partial`` store, never a half-written output under the final name; the
same run started again picks it up.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import zarr

RUN_ATTRIBUTE = "semiseg_run"
WORK_FOLDER = ".work"


def partial_path(target: Path) -> Path:
    """Where the output ``target`` is written until it is complete."""
    return target.with_name(target.name + ".partial")


def work_folder(target: Path) -> Path:
    """The folder for done markers and intermediate results of the run writing ``target``."""
    return partial_path(target) / WORK_FOLDER


def check_target(target: Path, overwrite: bool) -> None:
    """Refuse to replace an existing output unless ``overwrite``.

    Raises
    ------
    ValueError
        If the name does not end in ``.zarr``.
    FileExistsError
        If ``target`` exists and ``overwrite`` is False.
    """
    if target.suffix.lower() != ".zarr":
        raise ValueError(f"{target}: blockwise output is a zarr directory; end its name in .zarr")
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists; pass --overwrite (overwrite=True) to replace it")


def open_partial(
    target: Path,
    *,
    shape: Sequence[int],
    chunks: Sequence[int],
    dtype: str,
    axes: str,
    voxel_size: Sequence[float] | None,
    run: dict[str, Any],
    overwrite: bool,
) -> zarr.Array:
    """The partial array of ``target``: resumed if it was started by the same ``run``.

    Parameters
    ----------
    target:
        The final ``.zarr`` path.
    shape, chunks, dtype:
        Of the array.
    axes, voxel_size:
        Stored as attributes (``axes``, ``voxel_size`` in µm) and zarr dimension names, as
        :func:`semiseg_zoo.io.write_zarr` does, so that :func:`~semiseg_zoo.io.read_image`
        reads them back.
    run:
        JSON-serialisable description of the run (model, shapes, parameters); a partial store
        of a different run is discarded and started again.
    overwrite:
        Allow replacing an existing ``target`` at the end.

    Raises
    ------
    FileExistsError
        If ``target`` exists and ``overwrite`` is False, or ``<target>.partial`` exists but is
        not a partial output of semiseg-zoo (it is never deleted then).
    """
    check_target(target, overwrite)
    partial = partial_path(target)
    run = json.loads(json.dumps(run))
    if partial.exists():
        try:
            existing = zarr.open_array(str(partial), mode="r+")
            previous = existing.attrs.get(RUN_ATTRIBUTE)
        except Exception:  # not a zarr array: not ours to touch
            previous = None
        if previous is None:
            raise FileExistsError(
                f"{partial} exists but is not an unfinished semiseg-zoo output; move or delete it"
            )
        if previous == run and tuple(existing.shape) == tuple(shape):
            return existing
        shutil.rmtree(partial)  # an unfinished run with other settings: start again
    attributes: dict[str, Any] = {"axes": axes, RUN_ATTRIBUTE: run}
    if voxel_size is not None:
        attributes["voxel_size"] = [float(v) for v in voxel_size]
    return zarr.create_array(
        store=str(partial),
        shape=tuple(shape),
        chunks=tuple(chunks),
        dtype=dtype,
        fill_value=0,
        attributes=attributes,
        dimension_names=tuple(axes),
    )


def finish(target: Path) -> zarr.Array:
    """Move the complete partial output into place (replacing ``target``) and return it."""
    partial = partial_path(target)
    array = zarr.open_array(str(partial), mode="r+")
    attributes = array.attrs.asdict()
    attributes.pop(RUN_ATTRIBUTE, None)
    array.attrs.put(attributes)
    shutil.rmtree(partial / WORK_FOLDER, ignore_errors=True)
    if target.exists():
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    os.replace(partial, target)
    return zarr.open_array(str(target), mode="r")
