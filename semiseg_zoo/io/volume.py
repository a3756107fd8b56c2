"""Open large images lazily: numpy-style slicing reads only the region asked for.

:func:`open_volume` finds the same axes and voxel size as :func:`~semiseg_zoo.io.read_image`
but leaves the data on disk: a zarr array, an HDF5 dataset, a memory-mapped TIFF or ``.npy``
file, or a zarr view of a compressed or tiled TIFF. Blockwise prediction reads the volume one
block at a time through it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from .errors import ImageReadError
from .read import (
    SPATIAL_AXES,
    _check_axes,
    _fail_on_logged_errors,
    _h5_dataset,
    _h5_metadata,
    _Layout,
    _layout,
    _locate,
    _Raw,
    _read_h5,
    _read_npy,
    _read_pil,
    _read_tif,
    _read_zarr,
    _reraise_as_read_error,
    _tif_metadata,
    _zarr_array,
    _zarr_metadata,
    read_image,
)

__all__ = ["Volume", "open_volume"]

_Index = tuple[int | slice, ...]


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays element-wise makes no bool
class Volume:
    """A lazily read image: numpy-style slicing reads only what is asked for.

    Attributes
    ----------
    data : array-like
        The image with singleton dimensions squeezed: a ``zarr.Array``, an
        ``h5py.Dataset``, an ``np.memmap``, an in-memory ``np.ndarray`` or a
        view squeezing one of those. It has ``shape``, ``ndim`` and ``dtype``,
        and indexing it with integers and slices returns an ``np.ndarray``
        (a read-only view for memory maps: copy a block before changing it).
    axes : str
        One bioimage.io axis letter per dimension of ``data``, e.g. ``"yx"``,
        ``"zyx"``, ``"yxc"``, ``"czyx"`` or ``"zyxc"``.
    voxel_size : tuple of float or None
        One value per spatial axis (z, y, x, in the order they appear in
        ``axes``) in micrometres, or None when the file does not say.
    path : Path
        The file or zarr directory the volume was opened from (without any key).
    nbytes : int
        Bytes of the whole array once read: ``prod(shape) * itemsize``.

    Examples
    --------
    >>> volume = Volume(np.zeros((4, 6, 8), np.uint8), "zyx", (2.0, 0.5, 0.5), Path("v.npy"))
    >>> volume.shape, volume.spatial_axes, volume.nbytes
    ((4, 6, 8), 'zyx', 192)
    >>> volume.data[1:3, :2, :2].shape
    (2, 2, 2)
    """

    data: Any
    axes: str
    voxel_size: tuple[float, ...] | None
    path: Path
    nbytes: int = field(init=False)
    _close: Callable[[], None] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        _check_axes(self.axes, self.shape, self.voxel_size)
        object.__setattr__(
            self, "nbytes", math.prod(self.shape) * np.dtype(self.data.dtype).itemsize
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of :attr:`data`."""
        return tuple(int(size) for size in self.data.shape)

    @property
    def dtype(self) -> np.dtype[Any]:
        """The data type of :attr:`data`."""
        return np.dtype(self.data.dtype)

    @property
    def spatial_axes(self) -> str:
        """The spatial axis letters of :attr:`axes`, e.g. ``"zyx"``."""
        return "".join(a for a in self.axes if a in SPATIAL_AXES)

    def close(self) -> None:
        """Close the HDF5 or TIFF file behind :attr:`data`; slicing it fails afterwards.

        Zarr stores, memory maps and in-memory arrays hold no open file, so
        closing them does nothing (a memory map is unmapped once no array uses
        it). Closing twice is harmless.
        """
        if self._close is not None:
            self._close()

    def __enter__(self) -> Volume:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Volume(shape={self.shape}, dtype={self.dtype}, axes={self.axes!r}, "
            f"voxel_size={self.voxel_size}, path={str(self.path)!r}, "
            f"data={type(self.data).__name__})"
        )


class _SqueezedArray:
    """A lazy view of ``stored`` without its singleton dimensions.

    Indices address the dimensions in ``keep``; every dropped dimension is read at index 0.
    """

    def __init__(self, stored: Any, keep: tuple[int, ...]) -> None:
        self._stored = stored
        self._keep = keep
        self.shape = tuple(int(stored.shape[i]) for i in keep)
        self.ndim = len(keep)
        self.dtype = np.dtype(stored.dtype)

    def __getitem__(self, index: Any) -> np.ndarray:
        squeezed = iter(self._expand(index))
        stored = tuple(
            next(squeezed) if i in self._keep else 0 for i in range(len(self._stored.shape))
        )
        return np.asarray(self._stored[stored])

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        data = self[...]
        return data if dtype is None else data.astype(dtype, copy=False)

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"_SqueezedArray(shape={self.shape}, dtype={self.dtype}, stored={self._stored!r})"

    def _expand(self, index: Any) -> _Index:
        """``index`` as one integer or slice per squeezed dimension."""
        items = index if isinstance(index, tuple) else (index,)
        for item in items:
            if item is not Ellipsis and (
                isinstance(item, (bool, np.bool_)) or not isinstance(item, (int, np.integer, slice))
            ):
                raise TypeError(
                    f"cannot index a lazily read volume with {item!r} of type "
                    f"{type(item).__name__}; use integers, slices and ... (read the region "
                    "first with volume.data[...] for fancy indexing)"
                )
        ellipses = sum(item is Ellipsis for item in items)
        if ellipses > 1:
            raise IndexError("an index can only have a single ellipsis ('...')")
        given = len(items) - ellipses
        if given > self.ndim:
            raise IndexError(
                f"too many indices: the volume is {self.ndim}-dimensional "
                f"(shape {self.shape}), but {given} were given"
            )
        fill = (slice(None),) * (self.ndim - given)
        if ellipses:
            at = next(i for i, item in enumerate(items) if item is Ellipsis)
            items = (*items[:at], *fill, *items[at + 1 :])
        else:
            items = (*items, *fill)
        return tuple(
            self._check_int(item, size) for item, size in zip(items, self.shape, strict=True)
        )

    @staticmethod
    def _check_int(item: int | slice, size: int) -> int | slice:
        if isinstance(item, slice):
            return item
        position = int(item)
        if not -size <= position < size:
            raise IndexError(f"index {position} is out of bounds for a dimension of size {size}")
        return position % size


def open_volume(path: str | os.PathLike[str], *, key: str | None = None) -> Volume:
    """Open an image without reading it: its data is read when sliced.

    Parameters
    ----------
    path
        The same files as :func:`~semiseg_zoo.io.read_image` reads: a zarr
        v2/v3 array or group (OME-Zarr included), ``.h5``/``.hdf5``, ``.tif``/``.tiff``,
        ``.npy``, ``.png`` or ``.jpg``/``.jpeg``. For HDF5 and zarr the dataset
        can be given as ``"file.h5:group/dataset"``.
    key
        The HDF5 dataset or zarr array inside a group. Without it the only
        dataset/array is used; for OME-Zarr, the first multiscale level.

    Returns
    -------
    Volume
        The lazily read data with singleton dimensions squeezed, with the axes
        and voxel size :func:`~semiseg_zoo.io.read_image` finds. How the data
        is read depends on the format:

        - zarr: the ``zarr.Array`` itself.
        - HDF5: the ``h5py.Dataset``; the file stays open until
          :meth:`Volume.close` (or the end of a ``with`` block).
        - TIFF: an ``np.memmap`` when the first series is uncompressed,
          contiguous and in the machine's byte order; otherwise (compressed,
          tiled or scattered pages, other byte order) a zarr view through
          tifffile that decodes only the strips or tiles a slice touches; the
          file stays open until :meth:`Volume.close`.
        - ``.npy``: an ``np.memmap``.
        - PNG/JPEG: read into memory; these files are small.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ImageReadError
        If the file cannot be opened as an image: unsupported type, truncated
        or corrupted header, a missing or ambiguous key, a data type other
        than boolean, integer or float, or not 2 to 4 non-singleton
        dimensions. Damage in the data itself may only show when that part is
        sliced, as an error of the format's library.

    Examples
    --------
    ::

        with open_volume("brain.h5:raw") as volume:
            volume.axes, volume.voxel_size  # ("zyx", (1.0, 0.25, 0.25))
            block = volume.data[0:64, 0:64, 0:64]  # reads only this block
    """
    file, key, reader = _locate(path, key)
    if reader is _read_pil:
        image = read_image(file)
        return Volume(image.data, image.axes, image.voxel_size, file)
    openers: dict[Any, Callable[[Path, str | None], tuple[_Raw, Callable[[], None] | None]]] = {
        _read_tif: _open_tif,
        _read_npy: _open_npy,
        _read_h5: _open_h5,
        _read_zarr: _open_zarr,
    }
    raw, close = openers[reader](file, key)
    try:
        layout = _layout(file, raw)
        return Volume(_squeeze(raw.data, layout), layout.axes, layout.voxel_size, file, close)
    except BaseException:
        if close is not None:
            close()
        raise


def _squeeze(data: Any, layout: _Layout) -> Any:
    if len(layout.keep) == data.ndim:
        return data
    if isinstance(data, np.ndarray):
        return data.reshape([data.shape[i] for i in layout.keep])
    return _SqueezedArray(data, layout.keep)


@contextmanager
def _closed_on_error(close: Callable[[], None]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        close()
        raise


def _open_tif(path: Path, key: str | None) -> tuple[_Raw, Callable[[], None] | None]:
    import tifffile
    import zarr

    problem = "not a valid TIFF file, or it is truncated or corrupted"
    with _reraise_as_read_error(path, problem), ExitStack() as stack:
        with _fail_on_logged_errors("tifffile"):
            tif = stack.enter_context(tifffile.TiffFile(path))
            series = tif.series[0]
            axes, spacing, rgb = _tif_metadata(tif, series)
            level = series.levels[0]
            native = np.dtype(tif.byteorder + level.dtype.char).isnative
            mappable = level.dataoffset is not None and native
            if mappable:
                data = tifffile.memmap(path, series=0, level=0, mode="r")
            else:
                store = series.aszarr(level=0)
                stack.callback(store.close)
                data = zarr.open_array(store, mode="r")
        # The zarr view reads through the open file (and tifffile's cache of open files).
        close = None if mappable else stack.pop_all().close
    return _Raw(data, axes, spacing, rgb), close


def _open_npy(path: Path, key: str | None) -> tuple[_Raw, Callable[[], None] | None]:
    with _reraise_as_read_error(path, "not a valid .npy file, or it is truncated"):
        data = np.load(path, mmap_mode="r", allow_pickle=False)
    if not isinstance(data, np.ndarray):
        data.close()
        raise ImageReadError(
            path,
            "it is an .npz archive, not a single .npy array",
            "Save one array with numpy.save, or extract it from the archive first",
        )
    return _Raw(data), None


def _open_h5(path: Path, key: str | None) -> tuple[_Raw, Callable[[], None] | None]:
    import h5py

    with _reraise_as_read_error(path, "not a valid HDF5 file, or it is truncated or corrupted"):
        h5 = h5py.File(path, "r")
        with _closed_on_error(h5.close):
            dataset = _h5_dataset(path, h5, key)
            axes, spacing = _h5_metadata(dataset)
    return _Raw(dataset, axes, spacing), h5.close


def _open_zarr(path: Path, key: str | None) -> tuple[_Raw, Callable[[], None] | None]:
    import zarr

    with _reraise_as_read_error(path, "not a valid zarr store, or it is incomplete or corrupted"):
        node = zarr.open(store=str(path), mode="r")
        array, multiscale = _zarr_array(path, node, key)
        axes, spacing = _zarr_metadata(array, multiscale)
    return _Raw(array, axes, spacing), None
