"""Image input/output: read TIFF, PNG/JPEG, NPY, zarr and HDF5; write TIFF and zarr.

:func:`read_image` returns an :class:`Image` with the data, its bioimage.io axes
and its voxel size in micrometres; :func:`open_volume` returns a :class:`Volume`
with the same axes and voxel size whose data is read only where it is sliced.
Every failure is a :class:`FileNotFoundError` or an :class:`ImageReadError`
whose message says what to do.
"""

from .errors import ImageReadError
from .read import (
    SPATIAL_AXES,
    SUPPORTED_SUFFIXES,
    Image,
    infer_axes,
    is_supported,
    read_image,
    split_key,
    um_per_unit,
)
from .volume import Volume, open_volume
from .write import write_tif, write_zarr

__all__ = [
    "SPATIAL_AXES",
    "SUPPORTED_SUFFIXES",
    "Image",
    "ImageReadError",
    "Volume",
    "infer_axes",
    "is_supported",
    "open_volume",
    "read_image",
    "split_key",
    "um_per_unit",
    "write_tif",
    "write_zarr",
]
