"""Write images as TIFF or zarr, keeping the voxel size, atomically.

Both writers first write next to the target (a hidden temporary file or
directory in the same folder, so that the final rename never crosses file
systems) and only then move the result into place: a crash or a full disk never
leaves a half-written image under the final name.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

from .read import SPATIAL_AXES, infer_axes

__all__ = ["write_tif", "write_zarr"]

_AXIS_LETTERS = "tczyx"
# ImageJ opens these losslessly; it stores everything in TZCYXS order.
_IMAGEJ_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))
_IMAGEJ_ORDER = "TZCYXS"
# OME-TIFF has no 64-bit integers (nor float16); those go into a plain tifffile TIFF.
_OME_DTYPES = tuple(
    np.dtype(name) for name in "bool int8 uint8 int16 uint16 int32 uint32 float32 float64".split()
)
_UM_PER_CM = 1e4


def write_tif(
    path: str | os.PathLike[str],
    array: Any,
    *,
    voxel_size: Sequence[float] | None = None,
    axes: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write ``array`` as a TIFF that keeps its axes and voxel size.

    uint8, uint16 and float32 images in ImageJ axis order are written as ImageJ
    hyperstacks (resolution tags + ``unit=um`` + ``spacing`` for z), which Fiji
    opens with the right calibration. Other data types or axis orders are
    written as OME-TIFF (physical sizes in µm), and 64-bit integers as a plain
    TIFF whose description holds the axes and voxel size; :func:`read_image`
    reads all of them back.

    Parameters
    ----------
    path
        The ``.tif``/``.tiff`` file to write; missing parent folders are created.
    array
        A 2D to 4D array (anything :func:`numpy.asarray` accepts).
    voxel_size
        Micrometres per voxel, one value per spatial axis in the order they
        appear in ``axes`` (z, y, x). None writes no calibration.
    axes
        bioimage.io axis letters, one per dimension, e.g. ``"zyx"`` or ``"czyx"``.
        Inferred when None: 3D with 3 or 4 trailing values is taken as colour
        (``"yxc"``), other 3D as ``"zyx"``.
    overwrite
        Replace an existing file. Without it an existing file is an error.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If ``axes`` or ``voxel_size`` do not fit the array.

    Examples
    --------
    ::

        write_tif("nuclei.tif", volume, voxel_size=(1.0, 0.25, 0.25))
        read_image("nuclei.tif").voxel_size  # (1.0, 0.25, 0.25)
    """
    import tifffile

    target = Path(path)
    data = _as_image_array(array)
    axes = _resolve_axes(data, axes, rgb=True)
    spacing = _spacing(voxel_size, axes)
    options = _tif_options(data, axes, spacing)

    def write(handle: IO[bytes]) -> None:
        tifffile.imwrite(handle, data, **options)

    return _write_file_atomically(target, write, overwrite=overwrite)


def write_zarr(
    path: str | os.PathLike[str],
    array: Any,
    *,
    voxel_size: Sequence[float] | None = None,
    axes: str | None = None,
    chunks: tuple[int, ...] | None = None,
    overwrite: bool = False,
    zarr_format: Literal[2, 3] = 3,
) -> Path:
    """Write ``array`` as a single zarr array (no group) in a ``.zarr`` directory.

    The attributes hold ``"axes"`` and, when given, ``"voxel_size"`` (µm); zarr v3
    arrays also get the axes as ``dimension_names``.

    Parameters
    ----------
    path
        The directory to create; its name must end in ``.zarr``.
    array
        A 2D to 4D array (anything :func:`numpy.asarray` accepts).
    voxel_size
        Micrometres per voxel, one value per spatial axis in the order they
        appear in ``axes`` (z, y, x). None stores none.
    axes
        bioimage.io axis letters, one per dimension; inferred when None (3D is
        ``"zyx"``, 4D ``"czyx"`` or ``"zyxc"``).
    chunks
        The chunk shape; None lets zarr choose.
    overwrite
        Replace an existing store. Without it an existing path is an error.
    zarr_format
        2 for tools that only read zarr v2, else 3.

    Returns
    -------
    Path
        The written directory.

    Raises
    ------
    FileExistsError
        If ``path`` exists and ``overwrite`` is False.
    ValueError
        If the name does not end in ``.zarr`` or ``axes``/``voxel_size`` do not fit.

    Examples
    --------
    ::

        write_zarr("pred.zarr", probabilities, voxel_size=(1.0, 0.25, 0.25), chunks=(16, 256, 256))
    """
    import zarr

    target = Path(path)
    if target.suffix.lower() != ".zarr":
        raise ValueError(f"{target}: a zarr store is a directory whose name must end in .zarr")
    data = _as_image_array(array)
    axes = _resolve_axes(data, axes, rgb=False)
    spacing = _spacing(voxel_size, axes)
    attributes: dict[str, Any] = {"axes": axes}
    if spacing is not None:
        attributes["voxel_size"] = list(spacing.values())

    def write(directory: Path) -> None:
        zarr.create_array(
            store=str(directory),
            data=data,
            chunks=chunks if chunks is not None else "auto",
            attributes=attributes,
            zarr_format=zarr_format,
            dimension_names=tuple(axes) if zarr_format == 3 else None,
        )

    return _write_dir_atomically(target, write, overwrite=overwrite)


# ------------------------------------------------------------------------- validation


def _as_image_array(array: Any) -> np.ndarray:
    data = np.asarray(array)
    if data.dtype.kind not in "biuf":
        raise ValueError(
            f"cannot write data of type {data.dtype}; use booleans, integers or floats"
        )
    return data


def _resolve_axes(data: np.ndarray, axes: str | None, *, rgb: bool) -> str:
    """``axes`` checked against ``data``, or inferred from its shape when None."""
    if axes is None:
        return infer_axes(data.shape, rgb=rgb)
    axes = axes.lower()
    valid = set(axes) <= set(_AXIS_LETTERS) and len(set(axes)) == len(axes)
    if not valid or len(axes) != data.ndim or not {"y", "x"} <= set(axes):
        raise ValueError(
            f"axes {axes!r} do not fit an array of shape {data.shape}: give one distinct letter "
            f"from {_AXIS_LETTERS!r} per dimension, including 'y' and 'x'"
        )
    return axes


def _spacing(voxel_size: Sequence[float] | None, axes: str) -> dict[str, float] | None:
    """``voxel_size`` checked and keyed by spatial axis letter (in ``axes`` order)."""
    if voxel_size is None:
        return None
    spatial = [a for a in axes if a in SPATIAL_AXES]
    values = [float(v) for v in voxel_size]
    if len(values) != len(spatial):
        raise ValueError(
            f"voxel_size has {len(values)} values but axes {axes!r} have {len(spatial)} spatial "
            f"axes; give one value per axis in {''.join(spatial)!r} order"
        )
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"voxel_size must be positive micrometres, got {tuple(values)}")
    return dict(zip(spatial, values, strict=True))


# ------------------------------------------------------------------------------- TIFF


def _tif_options(data: np.ndarray, axes: str, spacing: dict[str, float] | None) -> dict[str, Any]:
    """tifffile.imwrite keywords: ImageJ if Fiji can open it as is, else OME, else plain."""
    imagej_axes = _imagej_axes(data, axes)
    if imagej_axes is not None:
        return _imagej_options(imagej_axes, spacing)
    # Channels last are stored as samples per pixel, the only way OME-TIFF allows.
    upper = axes.upper()
    tif_axes = upper[:-1] + "S" if upper.endswith("C") else upper
    if data.dtype in _OME_DTYPES:
        return _ome_options(tif_axes, spacing)
    return _plain_options(upper, spacing)


def _imagej_axes(data: np.ndarray, axes: str) -> str | None:
    if data.dtype not in _IMAGEJ_DTYPES:
        return None
    upper = axes.upper()
    if upper.endswith("C"):
        # ImageJ only knows samples per pixel as 8-bit RGB(A).
        if data.dtype != np.uint8 or data.shape[-1] not in (3, 4):
            return None
        upper = upper[:-1] + "S"
    positions = [_IMAGEJ_ORDER.index(a) for a in upper]
    return upper if positions == sorted(positions) else None


def _resolution(spacing: dict[str, float], unit_um: float) -> tuple[float, float]:
    """(x, y) resolution tag values in pixels per unit."""
    return unit_um / spacing["x"], unit_um / spacing["y"]


def _imagej_options(tif_axes: str, spacing: dict[str, float] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": tif_axes}
    options: dict[str, Any] = {
        "imagej": True,
        "photometric": "rgb" if tif_axes.endswith("S") else "minisblack",
        "metadata": metadata,
    }
    if spacing is not None:
        options["resolution"] = _resolution(spacing, 1.0)
        metadata["unit"] = "um"
        if "z" in spacing:
            metadata["spacing"] = spacing["z"]
    return options


def _ome_options(tif_axes: str, spacing: dict[str, float] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"axes": tif_axes}
    options: dict[str, Any] = {"ome": True, "photometric": "minisblack", "metadata": metadata}
    if tif_axes.endswith("S"):
        options["planarconfig"] = "contig"
    if spacing is not None:
        options.update(resolution=_resolution(spacing, _UM_PER_CM), resolutionunit="CENTIMETER")
        for axis, size in spacing.items():
            metadata[f"PhysicalSize{axis.upper()}"] = size
            metadata[f"PhysicalSize{axis.upper()}Unit"] = "\u00b5m"
    return options


def _plain_options(tif_axes: str, spacing: dict[str, float] | None) -> dict[str, Any]:
    # tifffile keeps this metadata as JSON in the image description.
    metadata: dict[str, Any] = {"axes": tif_axes}
    options: dict[str, Any] = {"photometric": "minisblack", "metadata": metadata}
    if spacing is not None:
        options.update(resolution=_resolution(spacing, _UM_PER_CM), resolutionunit="CENTIMETER")
        metadata["voxel_size"] = list(spacing.values())
    return options


# ------------------------------------------------------------------------ atomic writes


def _refuse_to_overwrite(target: Path, overwrite: bool) -> None:
    if not overwrite and (target.exists() or target.is_symlink()):
        raise FileExistsError(
            f"{target} already exists; pass overwrite=True (--overwrite on the command line) "
            "to replace it"
        )


def _temporary_sibling(target: Path, tag: str) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.{tag}")


def _write_file_atomically(
    target: Path, write: Callable[[IO[bytes]], None], *, overwrite: bool
) -> Path:
    _refuse_to_overwrite(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(target, "tmp")
    try:
        with open(temporary, "xb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def _write_dir_atomically(target: Path, write: Callable[[Path], None], *, overwrite: bool) -> Path:
    _refuse_to_overwrite(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary_sibling(target, "tmp")
    try:
        write(temporary)
        _move_into_place(temporary, target)
    except BaseException:
        _remove(temporary)
        raise
    return target


def _move_into_place(source: Path, target: Path) -> None:
    """Rename ``source`` to ``target``, replacing whatever is there.

    A directory cannot be renamed onto a non-empty one, so an existing target
    is first moved aside and only deleted once the new one is in place.
    """
    if not (target.exists() or target.is_symlink()):
        os.replace(source, target)
        return
    old = _temporary_sibling(target, "old")
    os.replace(target, old)
    try:
        os.replace(source, target)
    except BaseException:
        os.replace(old, target)
        raise
    _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
