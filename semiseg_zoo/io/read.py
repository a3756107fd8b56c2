"""Read microscopy images: TIFF (plain, ImageJ, OME), PNG/JPEG, NPY, zarr and HDF5.

Every reader returns the array as stored plus whatever the file says about its
axes and voxel size; :func:`read_image` then squeezes singleton dimensions,
infers missing axes and turns the voxel size into micrometres.

The heavy format libraries are imported inside the readers so that importing
this module (e.g. for a command line ``--help``) stays fast.
"""

from __future__ import annotations

import logging
import math
import os
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageReadError, one_line

__all__ = [
    "SPATIAL_AXES",
    "SUPPORTED_SUFFIXES",
    "Image",
    "infer_axes",
    "is_supported",
    "read_image",
    "split_key",
    "um_per_unit",
]

SUPPORTED_SUFFIXES: tuple[str, ...] = (
    ".tif",
    ".tiff",
    ".png",
    ".jpg",
    ".jpeg",
    ".npy",
    ".zarr",
    ".h5",
    ".hdf5",
)
SPATIAL_AXES = "zyx"
_AXIS_LETTERS = "tczyx"
_ZARR_MARKERS = ("zarr.json", ".zarray", ".zgroup")
_CORRUPT_HINT = "Check that the file is complete and not corrupted (copy or export it again)"
_KEY_HINT = "Pick one with key=... or with the 'file.h5:dataset' / 'store.zarr:array' syntax"
# Only the container formats can hold a key; the drive letter in "C:\x.tif" is no key.
_KEY_RE = re.compile(r"^(?P<file>.+?\.(?:h5|hdf5|zarr)):(?P<key>.*)$", re.IGNORECASE)

_UM_PER_UNIT = {
    **dict.fromkeys(
        ("um", "\u00b5m", "\u03bcm", "micron", "microns", "micrometer", "micrometre"), 1.0
    ),
    **dict.fromkeys(("nm", "nanometer", "nanometre"), 1e-3),
    **dict.fromkeys(("mm", "millimeter", "millimetre"), 1e3),
    **dict.fromkeys(("cm", "centimeter", "centimetre"), 1e4),
    **dict.fromkeys(("m", "meter", "metre"), 1e6),
    **dict.fromkeys(("\u00e5", "angstrom"), 1e-4),
    **dict.fromkeys(("in", "inch"), 25400.0),
}
# TIFF ResolutionUnit tag values (4 and 5 are tifffile extensions).
_TIFF_RESUNIT_UM = {2: 25400.0, 3: 1e4, 4: 1e3, 5: 1.0}
_TIFF_AXES = {"T": "t", "C": "c", "S": "c", "Z": "z", "Y": "y", "X": "x"}

Spacing = Mapping[str, float] | tuple[float, ...] | None
_Multiscale = tuple[str | None, dict[str, float]]  # OME-Zarr axes and spacing of one level


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays element-wise makes no bool
class Image:
    """An image read from disk.

    Attributes
    ----------
    data : np.ndarray
        The array as stored, with singleton dimensions squeezed.
    axes : str
        One bioimage.io axis letter per dimension of ``data``, e.g. ``"yx"``,
        ``"zyx"``, ``"yxc"``, ``"czyx"`` or ``"zyxc"``.
    voxel_size : tuple of float or None
        One value per spatial axis (z, y, x, in the order they appear in
        ``axes``) in micrometres, or None when the file does not say.
    path : Path
        The file or zarr directory the image was read from (without any key).
    """

    data: np.ndarray
    axes: str
    voxel_size: tuple[float, ...] | None
    path: Path

    def __post_init__(self) -> None:
        _check_axes(self.axes, self.data.shape, self.voxel_size)

    @property
    def spatial_axes(self) -> str:
        """The spatial axis letters of :attr:`axes`, e.g. ``"zyx"``."""
        return "".join(a for a in self.axes if a in SPATIAL_AXES)

    def __repr__(self) -> str:
        return (
            f"Image(shape={self.data.shape}, dtype={self.data.dtype}, axes={self.axes!r}, "
            f"voxel_size={self.voxel_size}, path={str(self.path)!r})"
        )


def _check_axes(axes: str, shape: tuple[int, ...], voxel_size: tuple[float, ...] | None) -> None:
    if len(axes) != len(shape):
        raise ValueError(
            f"axes {axes!r} do not match the {len(shape)}D data of shape {shape}; "
            "give one axis letter per dimension"
        )
    spatial_axes = "".join(a for a in axes if a in SPATIAL_AXES)
    if voxel_size is not None and len(voxel_size) != len(spatial_axes):
        raise ValueError(
            f"voxel_size {voxel_size} does not match the spatial axes "
            f"{spatial_axes!r}; give one value per spatial axis"
        )


@dataclass
class _Raw:
    """What a format reader found, before squeezing and axis inference."""

    data: Any  # an np.ndarray; open_volume's lazy arrays have its shape, ndim and dtype
    axes: str | None = None  # letters from the file's own metadata, one per dimension
    spacing: Spacing = None  # micrometres per axis letter, or a (z, y, x)-ordered tuple
    rgb: bool = False  # the file says the last dimension holds colour samples


# --------------------------------------------------------------------------- public API


def split_key(path: str | os.PathLike[str]) -> tuple[Path, str | None]:
    """Split ``"file.h5:dataset"`` or ``"store.zarr:group/array"`` into file and key.

    Parameters
    ----------
    path
        A path, optionally followed by ``:key`` after an ``.h5``, ``.hdf5`` or
        ``.zarr`` component. A path that exists as written is never split, and
        Windows drive letters (``C:\\x.tif``) are left alone.

    Returns
    -------
    tuple of (Path, str or None)
        The file and the key without surrounding slashes (None if there is none).

    Examples
    --------
    ::

        split_key("a/b.h5:raw/data")  # (Path("a/b.h5"), "raw/data")
        split_key("a/b.tif")  # (Path("a/b.tif"), None)
    """
    text = os.fspath(path)
    match = _KEY_RE.match(text)
    if match is None or Path(text).exists():
        return Path(text), None
    return Path(match["file"]), match["key"].strip("/") or None


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Return whether :func:`read_image` can read ``path``, judged by its name.

    Parameters
    ----------
    path
        A file, a zarr directory, or ``file.h5:key``. The file need not exist;
        an existing directory counts when it is a zarr store.

    Returns
    -------
    bool
        True for the suffixes in :data:`SUPPORTED_SUFFIXES` and for zarr stores.

    Examples
    --------
    ::

        is_supported("cells.ome.tif")  # True
        is_supported("notes.txt")  # False
    """
    file, _ = split_key(path)
    if file.is_dir():
        return _is_zarr_dir(file)
    return file.suffix.lower() in SUPPORTED_SUFFIXES


def infer_axes(shape: Sequence[int], *, rgb: bool = False) -> str:
    """Guess bioimage.io axes for an array whose file says nothing about them.

    Parameters
    ----------
    shape
        The shape, with singleton dimensions already squeezed.
    rgb
        Whether the file says the last dimension holds colour samples (PNG/JPEG,
        TIFF with photometric RGB).

    Returns
    -------
    str
        ``"yx"`` for 2D; ``"yxc"`` for 3D colour with 3 or 4 samples, else
        ``"zyx"``; ``"zyxc"`` for 4D with 3 or 4 trailing samples, else ``"czyx"``.

    Raises
    ------
    ValueError
        For fewer than 2 or more than 4 dimensions.

    Examples
    --------
    ::

        infer_axes((64, 64, 3), rgb=True)  # "yxc"
        infer_axes((2, 16, 64, 64))  # "czyx"
    """
    ndim = len(shape)
    if ndim == 2:
        return "yx"
    if ndim == 3:
        return "yxc" if rgb and shape[-1] in (3, 4) else "zyx"
    if ndim == 4:
        return "zyxc" if shape[-1] in (3, 4) else "czyx"
    raise ValueError(
        f"cannot infer axes for a {ndim}D array of shape {tuple(shape)}; "
        "expected 2 to 4 dimensions (yx, zyx, yxc, czyx or zyxc)"
    )


def um_per_unit(unit: str | None) -> float | None:
    """Return how many micrometres one ``unit`` is, or None for unknown units.

    Parameters
    ----------
    unit
        A length unit as found in image metadata: ``"um"``, ``"µm"``,
        ``"micron"``, ``"micrometer"``, ``"nm"``, ``"mm"``, ``"inch"``, ...
        ImageJ's escaped ``"\\u00B5m"`` is understood too.

    Returns
    -------
    float or None
        The factor to micrometres; None for None, ``"pixel"`` and the like.

    Examples
    --------
    ::

        um_per_unit("nm")  # 0.001
    """
    if unit is None:
        return None
    normalized = unit.strip().replace("\\u00B5", "\u00b5").replace("\\u00b5", "\u00b5")
    return _UM_PER_UNIT.get(normalized.lower())


def read_image(
    path: str | os.PathLike[str], *, key: str | None = None, palette_indices: bool = False
) -> Image:
    """Read an image, its axes and its voxel size.

    Parameters
    ----------
    path
        A ``.tif``/``.tiff`` (plain, ImageJ or OME-TIFF), ``.png``, ``.jpg``/``.jpeg``,
        ``.npy`` or ``.h5``/``.hdf5`` file, or a zarr v2/v3 directory. For HDF5
        and zarr the dataset can be given as ``"file.h5:group/dataset"``.
    key
        The HDF5 dataset or zarr array inside a group. Without it the only
        dataset/array is used; for OME-Zarr, the first multiscale level.
    palette_indices
        Return a palette PNG's indices instead of its colours: label images such as CVPPP's
        store one palette index per object.

    Returns
    -------
    Image
        The data with singleton dimensions squeezed, its axes and its voxel
        size in micrometres (None when the file does not say).

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImageReadError
        If the file cannot be read: unsupported type, truncated or corrupted
        content, a missing or ambiguous key, or not 2 to 4 non-singleton
        dimensions.

    Examples
    --------
    ::

        image = read_image("nuclei.ome.tif")
        image.axes, image.voxel_size  # ("zyx", (1.0, 0.25, 0.25))
        labels = read_image("train.h5:labels").data
    """
    file, key, reader = _locate(path, key)
    if palette_indices and reader is _read_pil:
        return _finalize(file, _read_palette_indices(file))
    return _finalize(file, reader(file, key))


def _read_palette_indices(path: Path) -> _Raw:
    from PIL import Image as PILImage

    with _reraise_as_read_error(path, "not a valid PNG/JPEG file, or it is truncated"):
        with PILImage.open(path) as image:
            if image.mode not in ("P", "PA"):
                return _read_pil(path, None)
            data = np.asarray(image if image.mode == "P" else image.convert("P"))
    return _Raw(data, "yx", None)


# ------------------------------------------------------------------- dispatch and checks

_Reader = Callable[[Path, str | None], _Raw]


def _locate(path: str | os.PathLike[str], key: str | None) -> tuple[Path, str | None, _Reader]:
    """The file, the key and the reader for ``path``, checked before anything is read."""
    file, path_key = split_key(path)
    key = _merge_keys(file, path_key, key)
    if not file.exists():
        raise FileNotFoundError(
            f"Image file not found: {file} (absolute path: {file.absolute()}). "
            "Check the path and the current working directory."
        )
    reader = _reader_for(file)
    if key is not None and reader not in (_read_h5, _read_zarr):
        raise ImageReadError(
            file,
            f"a key ({key!r}) was given but {file.suffix or 'this'} files hold a single image",
            "Drop the key; keys only select datasets in .h5/.hdf5 files and arrays in zarr groups",
        )
    return file, key, reader


def _merge_keys(file: Path, path_key: str | None, key: str | None) -> str | None:
    if key is not None:
        key = key.strip("/") or None
    if key is not None and path_key is not None and key != path_key:
        raise ImageReadError(
            file,
            f"two different keys were given ({path_key!r} in the path, key={key!r})",
            "Give the dataset either in the path or as key=, not both",
        )
    return key if key is not None else path_key


def _is_zarr_dir(path: Path) -> bool:
    return path.suffix.lower() == ".zarr" or any((path / m).exists() for m in _ZARR_MARKERS)


def _reader_for(file: Path) -> _Reader:
    if file.is_dir():
        if _is_zarr_dir(file):
            return _read_zarr
        raise ImageReadError(
            file,
            "it is a directory but not a zarr store (no zarr.json, .zarray or .zgroup inside)",
            "Pass an image file or a .zarr directory",
        )
    suffix = file.suffix.lower()
    readers: dict[str, _Reader] = {
        ".tif": _read_tif,
        ".tiff": _read_tif,
        ".png": _read_pil,
        ".jpg": _read_pil,
        ".jpeg": _read_pil,
        ".npy": _read_npy,
        ".zarr": _read_zarr,
        ".h5": _read_h5,
        ".hdf5": _read_h5,
    }
    if suffix not in readers:
        raise ImageReadError(
            file,
            f"unsupported file type {suffix or '(no suffix)'!r}",
            f"Supported are {', '.join(SUPPORTED_SUFFIXES)}; convert the image to one of them",
        )
    return readers[suffix]


@contextmanager
def _reraise_as_read_error(path: Path, problem: str) -> Iterator[None]:
    """Turn any library exception into one :class:`ImageReadError`."""
    try:
        yield
    except (ImageReadError, MemoryError):
        raise
    except Exception as exc:
        raise ImageReadError(path, f"{problem} ({one_line(exc)})", _CORRUPT_HINT) from exc


class TiffLogError(RuntimeError):
    """tifffile logged an error while reading (it does so instead of raising)."""


class _ThreadErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread:
            self.messages.append(record.getMessage())


@contextmanager
def _fail_on_logged_errors(logger_name: str) -> Iterator[None]:
    """Raise :class:`TiffLogError` if ``logger_name`` logs an error in this thread.

    tifffile only logs a truncated multi-page file and returns the pages it
    found, which would silently turn a volume into a single plane.
    """
    collector = _ThreadErrorCollector()
    logger = logging.getLogger(logger_name)
    logger.addHandler(collector)
    try:
        yield
    finally:
        logger.removeHandler(collector)
    if collector.messages:
        raise TiffLogError(collector.messages[0])


def _positive(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _voxel_tuple(values: Any) -> tuple[float, ...] | None:
    """``values`` as a tuple of positive floats, or None if it is anything else."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        return None
    numbers = tuple(_positive(v) for v in values)
    if not numbers or any(n is None for n in numbers):
        return None
    return tuple(float(n) for n in numbers if n is not None)


def _axes_from_names(names: Any, ndim: int) -> str | None:
    """Axis letters from names like ``"zyx"`` or ``["z", "y", "x"]``, if they are valid."""
    if isinstance(names, bytes):
        names = names.decode(errors="replace")
    if ndim == 0 or not isinstance(names, (str, Sequence)) or len(names) != ndim:
        return None
    letters = "".join(str(n).lower() for n in names)
    if len(letters) != ndim or len(set(letters)) != ndim or set(letters) - set(_AXIS_LETTERS):
        return None
    return letters


# ------------------------------------------------------------------------- finalizing


@dataclass(frozen=True)
class _Layout:
    """How a stored array becomes an image: the dimensions kept, their axes, the voxel size."""

    keep: tuple[int, ...]  # the stored dimensions that are not singletons
    axes: str
    voxel_size: tuple[float, ...] | None


def _finalize(path: Path, raw: _Raw) -> Image:
    layout = _layout(path, raw)
    squeezed = raw.data.reshape([raw.data.shape[i] for i in layout.keep])
    return Image(squeezed, layout.axes, layout.voxel_size, path)


def _layout(path: Path, raw: _Raw) -> _Layout:
    """Check what a reader found and squeeze it, without touching the data itself."""
    shape = tuple(int(size) for size in raw.data.shape)
    dtype = np.dtype(raw.data.dtype)
    if math.prod(shape) == 0:
        raise ImageReadError(
            path, f"the image is empty (shape {shape})", "Check how the file was written"
        )
    if dtype.kind not in "biuf":
        raise ImageReadError(
            path,
            f"unsupported data type {dtype} (not boolean, integer or float)",
            "Store the image as integer or floating point numbers",
        )
    axes = raw.axes if raw.axes is not None and len(raw.axes) == len(shape) else None
    spacing = raw.spacing
    if axes is not None and isinstance(spacing, tuple):
        spacing = _spacing_by_letter(spacing, axes)
    keep = tuple(i for i, size in enumerate(shape) if size != 1)
    squeezed_shape = tuple(shape[i] for i in keep)
    _check_ndim(path, squeezed_shape, shape)
    if axes is not None:
        axes = "".join(axes[i] for i in keep)
        if len(set(axes)) != len(axes):  # e.g. ImageJ "CYXS": channels and samples
            axes = None
    if axes is None:
        axes = infer_axes(squeezed_shape, rgb=raw.rgb)
    if isinstance(spacing, tuple):
        spacing = _spacing_by_letter(spacing, axes)
    return _Layout(keep, axes, _voxel_size(spacing, axes))


def _check_ndim(path: Path, squeezed_shape: tuple[int, ...], shape: tuple[int, ...]) -> None:
    if 2 <= len(squeezed_shape) <= 4:
        return
    raise ImageReadError(
        path,
        f"the image has {len(squeezed_shape)} dimension(s) larger than 1 (shape {shape})",
        "Expected 2 to 4 (yx, zyx, yxc, czyx or zyxc); select or crop the extra dimensions first",
    )


def _spacing_by_letter(values: tuple[float, ...], axes: str) -> dict[str, float]:
    spatial = [a for a in axes if a in SPATIAL_AXES]
    if len(values) < len(spatial):
        return {}
    # A longer tuple usually belongs to a squeezed-away leading z ("zyx" sizes, "yx" image).
    return dict(zip(spatial, values[len(values) - len(spatial) :], strict=True))


def _voxel_size(spacing: Spacing, axes: str) -> tuple[float, ...] | None:
    if not isinstance(spacing, Mapping):
        return None
    values = [spacing.get(a) for a in axes if a in SPATIAL_AXES]
    if not values or any(v is None for v in values):
        return None
    return tuple(float(v) for v in values if v is not None)


# ------------------------------------------------------------------------------- TIFF


def _read_tif(path: Path, key: str | None) -> _Raw:
    import tifffile

    problem = "not a valid TIFF file, or it is truncated or corrupted"
    with _reraise_as_read_error(path, problem), _fail_on_logged_errors("tifffile"):
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            data = series.asarray()
            axes, spacing, rgb = _tif_metadata(tif, series)
    return _Raw(np.asarray(data), axes, spacing, rgb)


def _tif_metadata(tif: Any, series: Any) -> tuple[str | None, Spacing, bool]:
    """Axes, spacing and whether the samples are RGB, for ``series`` of ``tif``."""
    import tifffile

    letters = [_TIFF_AXES.get(a) for a in series.axes.upper()]
    axes = None if None in letters else "".join(str(a) for a in letters)
    rgb = int(series.keyframe.photometric) == int(tifffile.PHOTOMETRIC.RGB)
    return axes, _tif_spacing(tif, series.keyframe), rgb


def _tif_spacing(tif: Any, page: Any) -> Spacing:
    """Voxel size from OME-XML, tifffile's JSON, ImageJ metadata or resolution tags."""
    if tif.ome_metadata:
        return _ome_xml_spacing(tif.ome_metadata)
    shaped = tif.shaped_metadata
    if shaped and isinstance(shaped[0], dict) and "voxel_size" in shaped[0]:
        return _voxel_tuple(shaped[0]["voxel_size"])
    imagej = tif.imagej_metadata
    if imagej is not None:
        return _imagej_spacing(page, imagej)
    return _resolution_spacing(page, _TIFF_RESUNIT_UM.get(int(page.resolutionunit)))


def _resolution_spacing(page: Any, unit_um: float | None) -> dict[str, float]:
    """x and y voxel size from the resolution tags (pixels per unit)."""
    x_res, y_res = (_positive(r) for r in page.resolution)
    if unit_um is None or x_res is None or y_res is None:
        return {}
    return {"x": unit_um / x_res, "y": unit_um / y_res}


def _imagej_spacing(page: Any, metadata: Mapping[str, Any]) -> dict[str, float]:
    unit_um = um_per_unit(metadata.get("unit")) if isinstance(metadata.get("unit"), str) else None
    if unit_um is None:
        return _resolution_spacing(page, _TIFF_RESUNIT_UM.get(int(page.resolutionunit)))
    spacing = _resolution_spacing(page, unit_um)
    # ImageJ leaves out "spacing" when the slices are 1 unit apart.
    z = _positive(metadata.get("spacing", 1.0))
    if z is not None:
        spacing["z"] = z * unit_um
    return spacing


def _ome_xml_spacing(xml: str) -> dict[str, float]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        return {}
    spacing = {}
    for axis in SPATIAL_AXES:
        value = _positive(pixels.get(f"PhysicalSize{axis.upper()}"))
        # OME's default unit is the micrometre.
        unit_um = um_per_unit(pixels.get(f"PhysicalSize{axis.upper()}Unit", "\u00b5m"))
        if value is not None and unit_um is not None:
            spacing[axis] = value * unit_um
    return spacing


# -------------------------------------------------------------------- PNG / JPEG / NPY


def _read_pil(path: Path, key: str | None) -> _Raw:
    from PIL import Image as PILImage

    with _reraise_as_read_error(path, "not a valid PNG/JPEG file, or it is truncated"):
        with PILImage.open(path) as image:
            data = np.asarray(_pil_to_plain_mode(image))
    # A PNG/JPEG is never a volume, so any third dimension holds colour samples.
    axes = {2: "yx", 3: "yxc"}.get(data.ndim)
    return _Raw(data, axes, None, rgb=True)


def _pil_to_plain_mode(image: Any) -> Any:
    """Resolve palettes and exotic colour spaces so the array holds plain samples."""
    if image.mode in ("P", "PA"):
        transparent = image.mode == "PA" or "transparency" in image.info
        return image.convert("RGBA" if transparent else "RGB")
    if image.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        return image.convert("RGB")
    return image


def _read_npy(path: Path, key: str | None) -> _Raw:
    with _reraise_as_read_error(path, "not a valid .npy file, or it is truncated"):
        data = np.load(path, allow_pickle=False)
    if not isinstance(data, np.ndarray):  # np.load also opens .npz archives
        data.close()
        raise ImageReadError(
            path,
            "it is an .npz archive, not a single .npy array",
            "Save one array with numpy.save, or extract it from the archive first",
        )
    return _Raw(data)


# ------------------------------------------------------------------------------- HDF5


def _read_h5(path: Path, key: str | None) -> _Raw:
    import h5py

    with _reraise_as_read_error(path, "not a valid HDF5 file, or it is truncated or corrupted"):
        with h5py.File(path, "r") as h5:
            dataset = _h5_dataset(path, h5, key)
            data = np.asarray(dataset[()])
            axes, spacing = _h5_metadata(dataset)
    return _Raw(data, axes, spacing)


def _h5_metadata(dataset: Any) -> tuple[str | None, Spacing]:
    attrs = dict(dataset.attrs)
    spacing = _voxel_tuple(attrs.get("voxel_size", attrs.get("element_size_um")))
    return _axes_from_names(attrs.get("axes"), dataset.ndim), spacing


def _h5_dataset(path: Path, h5: Any, key: str | None) -> Any:
    import h5py

    datasets: list[Any] = []
    h5.visititems(lambda _, obj: datasets.append(obj) if isinstance(obj, h5py.Dataset) else None)
    if key is not None:
        found = h5.get(key)
        if isinstance(found, h5py.Dataset):
            return found
        problem = f"there is no dataset {key!r}" if found is None else f"{key!r} is a group"
        raise ImageReadError(path, f"{problem} (datasets: {_h5_listing(datasets)})", _KEY_HINT)
    images = [d for d in datasets if d.ndim >= 2]
    if len(images) == 1:
        return images[0]
    if images:
        problem = f"{len(images)} image datasets: {_h5_listing(images)}"
    else:
        problem = f"no 2D or larger datasets (datasets: {_h5_listing(datasets)})"
    raise ImageReadError(path, f"it contains {problem}", _KEY_HINT)


def _h5_listing(datasets: list[Any], limit: int = 20) -> str:
    if not datasets:
        return "none"
    names = [f"'{d.name.lstrip('/')}' {d.shape} {d.dtype}" for d in datasets[:limit]]
    more = f" and {len(datasets) - limit} more" if len(datasets) > limit else ""
    return ", ".join(names) + more


# ------------------------------------------------------------------------------- zarr


def _read_zarr(path: Path, key: str | None) -> _Raw:
    import zarr

    with _reraise_as_read_error(path, "not a valid zarr store, or it is incomplete or corrupted"):
        node = zarr.open(store=str(path), mode="r")
        array, multiscale = _zarr_array(path, node, key)
        data = np.asarray(array[...])
        axes, spacing = _zarr_metadata(array, multiscale)
    return _Raw(data, axes, spacing)


def _zarr_metadata(array: Any, multiscale: _Multiscale | None) -> tuple[str | None, Spacing]:
    attrs = array.attrs.asdict()
    dimension_names = getattr(array.metadata, "dimension_names", None)
    axes = _axes_from_names(attrs.get("axes"), array.ndim) or _axes_from_names(
        dimension_names or attrs.get("_ARRAY_DIMENSIONS"), array.ndim
    )
    spacing: Spacing = _voxel_tuple(attrs.get("voxel_size"))
    if multiscale is not None:
        axes = multiscale[0] or axes
        spacing = multiscale[1] or spacing
    return axes, spacing


def _zarr_array(path: Path, node: Any, key: str | None) -> tuple[Any, _Multiscale | None]:
    """The array to read, plus axes and spacing from OME-Zarr metadata if any."""
    import zarr

    if isinstance(node, zarr.Array):
        if key is not None:
            raise ImageReadError(
                path, f"a key ({key!r}) was given but it is a single array", "Drop the key"
            )
        return node, None
    multiscales = _ome_multiscales(node.attrs.asdict())
    if key is None and multiscales:
        key = _first_dataset_path(multiscales)
    if key is None:
        # Only now list the arrays: a big OME-Zarr plate holds thousands.
        arrays = _zarr_array_names(node)
        if len(arrays) != 1:
            raise ImageReadError(
                path, f"it holds {len(arrays)} arrays ({_zarr_listing(arrays)})", _KEY_HINT
            )
        key = arrays[0]
    try:
        array = node[key]
    except KeyError:
        array = None
    if not isinstance(array, zarr.Array):
        listing = _zarr_listing(_zarr_array_names(node))
        raise ImageReadError(path, f"there is no array {key!r} (arrays: {listing})", _KEY_HINT)
    return array, _multiscale_metadata(multiscales, key)


def _zarr_array_names(group: Any) -> list[str]:
    import zarr

    return [name for name, obj in group.members(max_depth=None) if isinstance(obj, zarr.Array)]


def _zarr_listing(names: list[str], limit: int = 20) -> str:
    if not names:
        return "none"
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return ", ".join(repr(n) for n in names[:limit]) + more


def _ome_multiscales(attrs: Mapping[str, Any]) -> list[Any]:
    # OME-Zarr 0.5 (zarr v3) nests the metadata under "ome".
    ome = attrs.get("ome")
    found = attrs.get("multiscales") or (ome.get("multiscales") if isinstance(ome, dict) else None)
    return found if isinstance(found, list) else []


def _first_dataset_path(multiscales: list[Any]) -> str | None:
    try:
        return str(multiscales[0]["datasets"][0]["path"]).strip("/")
    except (KeyError, IndexError, TypeError):
        return None


def _multiscale_metadata(multiscales: list[Any], key: str) -> _Multiscale | None:
    """Axes and micrometre spacing of dataset ``key``; None when it is not described."""
    for multiscale in multiscales:
        try:
            datasets = {str(d["path"]).strip("/"): d for d in multiscale["datasets"]}
            if key in datasets:
                return _ome_axes_and_spacing(multiscale, datasets[key])
        except (AttributeError, KeyError, TypeError, ValueError):
            return None
    return None


def _ome_axes_and_spacing(multiscale: Mapping[str, Any], dataset: Mapping[str, Any]) -> _Multiscale:
    entries = multiscale.get("axes") or []
    names = [e if isinstance(e, str) else e.get("name", "") for e in entries]
    units = [None if isinstance(e, str) else e.get("unit") for e in entries]
    scale = _ome_scale(dataset, len(names))
    global_scale = _ome_scale(multiscale, len(names))
    spacing = {}
    for name, unit, s, g in zip(names, units, scale, global_scale, strict=True):
        # Unitless scales are taken as micrometres, which is what microscopy writers mean.
        factor = um_per_unit(unit) if unit else 1.0
        value = _positive(s * g)
        if name.lower() in SPATIAL_AXES and factor is not None and value is not None:
            spacing[name.lower()] = value * factor
    return _axes_from_names(names, len(names)), spacing


def _ome_scale(node: Mapping[str, Any], ndim: int) -> list[float]:
    for transform in node.get("coordinateTransformations") or []:
        if transform.get("type") == "scale" and len(transform.get("scale", ())) == ndim:
            return [float(s) for s in transform["scale"]]
    return [1.0] * ndim
