"""Image input/output: read TIFF, PNG/JPEG, NPY, zarr and HDF5; write TIFF and zarr.

:func:`read_image` returns an :class:`Image` with the data, its bioimage.io axes
and its voxel size in micrometres; every failure is a :class:`FileNotFoundError`
or an :class:`ImageReadError` whose message says what to do.
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
from .write import write_tif, write_zarr

__all__ = [
    "SPATIAL_AXES",
    "SUPPORTED_SUFFIXES",
    "Image",
    "ImageReadError",
    "infer_axes",
    "is_supported",
    "read_image",
    "split_key",
    "um_per_unit",
    "write_tif",
    "write_zarr",
]
