"""read_image and friends on synthetic files of every supported format."""

from __future__ import annotations

import pickle
from pathlib import Path

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import zarr

from semiseg_zoo.io import (
    SUPPORTED_SUFFIXES,
    Image,
    ImageReadError,
    infer_axes,
    is_supported,
    read_image,
    split_key,
    um_per_unit,
)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _uint8(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, shape, dtype=np.uint8)


# ------------------------------------------------------------------------------ keys


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a/b.h5:raw/data", (Path("a/b.h5"), "raw/data")),
        ("a/b.hdf5:/raw", (Path("a/b.hdf5"), "raw")),
        ("s.ome.zarr:group/0", (Path("s.ome.zarr"), "group/0")),
        ("S.ZARR:a", (Path("S.ZARR"), "a")),
        ("a/b.h5", (Path("a/b.h5"), None)),
        ("a/b.h5:", (Path("a/b.h5"), None)),
        ("C:\\x.tif", (Path("C:\\x.tif"), None)),
        ("C:\\data\\x.h5", (Path("C:\\data\\x.h5"), None)),
        ("C:\\data\\x.h5:raw", (Path("C:\\data\\x.h5"), "raw")),
        ("a/b.tif", (Path("a/b.tif"), None)),
    ],
)
def test_split_key(text: str, expected: tuple[Path, str | None]) -> None:
    assert split_key(text) == expected


def test_split_key_leaves_an_existing_path_alone(tmp_path: Path) -> None:
    odd = tmp_path / "x.h5:raw"
    odd.touch()
    assert split_key(str(odd)) == (odd, None)


@pytest.mark.parametrize(
    ("name", "supported"),
    [
        ("a.tif", True),
        ("a.OME.TIFF", True),
        ("a.png", True),
        ("a.jpeg", True),
        ("a.npy", True),
        ("a.h5:raw", True),
        ("a.zarr", True),
        ("a.xyz", False),
        ("a.npz", False),
        ("tif", False),
    ],
)
def test_is_supported_by_suffix(name: str, supported: bool) -> None:
    assert is_supported(name) is supported


def test_is_supported_zarr_directory_without_suffix(tmp_path: Path) -> None:
    zarr.create_array(str(tmp_path / "store"), shape=(4, 4), dtype="u1")
    (tmp_path / "plain").mkdir()
    assert is_supported(tmp_path / "store")
    assert not is_supported(tmp_path / "plain")
    assert ".tif" in SUPPORTED_SUFFIXES and ".zarr" in SUPPORTED_SUFFIXES


@pytest.mark.parametrize(
    ("shape", "rgb", "axes"),
    [
        ((8, 9), False, "yx"),
        ((8, 9, 3), True, "yxc"),
        ((8, 9, 3), False, "zyx"),
        ((8, 9, 5), True, "zyx"),
        ((2, 8, 9, 3), False, "zyxc"),
        ((2, 8, 9, 5), False, "czyx"),
    ],
)
def test_infer_axes(shape: tuple[int, ...], rgb: bool, axes: str) -> None:
    assert infer_axes(shape, rgb=rgb) == axes


def test_infer_axes_rejects_1d_and_5d() -> None:
    with pytest.raises(ValueError, match="2 to 4"):
        infer_axes((5,))
    with pytest.raises(ValueError, match="2 to 4"):
        infer_axes((2, 2, 2, 2, 2))


@pytest.mark.parametrize(
    ("unit", "factor"),
    [("um", 1.0), ("\u00b5m", 1.0), ("\\u00B5m", 1.0), ("micron", 1.0), ("nm", 1e-3)],
)
def test_um_per_unit(unit: str, factor: float) -> None:
    assert um_per_unit(unit) == factor


def test_um_per_unit_unknown() -> None:
    assert um_per_unit("pixel") is None
    assert um_per_unit(None) is None


# ------------------------------------------------------------------------------ TIFF


def test_plain_tif_2d_has_no_voxel_size(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.random((16, 20)).astype(np.float32)
    tifffile.imwrite(tmp_path / "a.tif", data)
    image = read_image(tmp_path / "a.tif")
    assert isinstance(image, Image)
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "yx"
    assert image.voxel_size is None
    assert image.path == tmp_path / "a.tif"


def test_plain_tif_3d_is_a_volume(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.integers(0, 1000, (5, 16, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tiff", data, photometric="minisblack")
    image = read_image(str(tmp_path / "a.tiff"))
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "zyx"


def test_rgb_tif_is_yxc(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (16, 20, 3))
    tifffile.imwrite(tmp_path / "rgb.tif", data, photometric="rgb")
    image = read_image(tmp_path / "rgb.tif")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "yxc"


def test_imagej_tif_voxel_size(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (4, 16, 20))
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),
        metadata={"axes": "ZYX", "spacing": 2.0, "unit": "nm"},
    )
    image = read_image(tmp_path / "ij.tif")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "zyx"
    assert image.voxel_size == pytest.approx((2e-3, 0.5e-3, 0.25e-3))


def test_imagej_hyperstack_axes(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (3, 2, 16, 20))
    tifffile.imwrite(tmp_path / "h.tif", data, imagej=True, metadata={"axes": "ZCYX"})
    image = read_image(tmp_path / "h.tif")
    assert image.axes == "zcyx"
    assert image.voxel_size is None


def test_ome_tif_axes_and_physical_size(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.integers(0, 1000, (1, 2, 3, 16, 20), dtype=np.uint16)
    metadata = {
        "axes": "TCZYX",
        "PhysicalSizeX": 0.2,
        "PhysicalSizeY": 0.3,
        "PhysicalSizeZ": 1.5,
        "PhysicalSizeZUnit": "nm",
    }
    tifffile.imwrite(tmp_path / "a.ome.tif", data, ome=True, metadata=metadata)
    image = read_image(tmp_path / "a.ome.tif")
    np.testing.assert_array_equal(image.data, data[0])
    assert image.axes == "czyx"
    assert image.voxel_size == pytest.approx((1.5e-3, 0.3, 0.2))


def test_ome_tif_2d_drops_squeezed_z(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (1, 16, 20))
    metadata = {"axes": "ZYX", "PhysicalSizeX": 0.5, "PhysicalSizeY": 0.5, "PhysicalSizeZ": 3}
    tifffile.imwrite(tmp_path / "a.ome.tif", data, ome=True, metadata=metadata)
    image = read_image(tmp_path / "a.ome.tif")
    assert image.axes == "yx"
    assert image.voxel_size == pytest.approx((0.5, 0.5))


def test_tif_resolution_in_centimetres(tmp_path: Path, rng: np.random.Generator) -> None:
    tifffile.imwrite(
        tmp_path / "cm.tif",
        _uint8(rng, (16, 20)),
        resolution=(1e4 / 0.4, 1e4 / 0.8),
        resolutionunit="CENTIMETER",
    )
    assert read_image(tmp_path / "cm.tif").voxel_size == pytest.approx((0.8, 0.4))


# ----------------------------------------------------------------------- PNG/JPG/NPY


def test_png_gray(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (16, 20))
    iio.imwrite(tmp_path / "g.png", data)
    image = read_image(tmp_path / "g.png")
    np.testing.assert_array_equal(image.data, data)
    assert (image.axes, image.voxel_size) == ("yx", None)


@pytest.mark.parametrize("channels", [3, 4])
def test_png_rgb_and_rgba(tmp_path: Path, rng: np.random.Generator, channels: int) -> None:
    data = _uint8(rng, (16, 20, channels))
    iio.imwrite(tmp_path / "c.png", data)
    image = read_image(tmp_path / "c.png")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "yxc"


def test_png_16_bit(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.integers(0, 65536, (16, 20), dtype=np.uint16)
    iio.imwrite(tmp_path / "g16.png", data)
    np.testing.assert_array_equal(read_image(tmp_path / "g16.png").data, data)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg"])
def test_jpg_shape(tmp_path: Path, rng: np.random.Generator, suffix: str) -> None:
    iio.imwrite(tmp_path / f"c{suffix}", _uint8(rng, (16, 20, 3)))
    image = read_image(tmp_path / f"c{suffix}")
    assert image.data.shape == (16, 20, 3)
    assert image.data.dtype == np.uint8
    assert image.axes == "yxc"


@pytest.mark.parametrize(
    ("shape", "axes"),
    [
        ((16, 20), "yx"),
        ((4, 16, 20), "zyx"),
        ((16, 20, 3), "zyx"),  # no colour metadata in .npy
        ((2, 4, 16, 20), "czyx"),
        ((4, 16, 20, 3), "zyxc"),
        ((1, 1, 16, 20), "yx"),
    ],
)
def test_npy_axes(tmp_path: Path, rng: np.random.Generator, shape: tuple, axes: str) -> None:
    data = rng.random(shape).astype(np.float32)
    np.save(tmp_path / "a.npy", data)
    image = read_image(tmp_path / "a.npy")
    np.testing.assert_array_equal(image.data, np.squeeze(data))
    assert image.axes == axes
    assert image.voxel_size is None


# ------------------------------------------------------------------------------ zarr


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_array(tmp_path: Path, rng: np.random.Generator, zarr_format: int) -> None:
    data = rng.random((4, 16, 20)).astype(np.float32)
    store = tmp_path / "a.zarr"
    array = zarr.create_array(
        str(store),
        shape=data.shape,
        dtype=data.dtype,
        chunks=(2, 8, 8),
        zarr_format=zarr_format,
        attributes={"voxel_size": [2.0, 0.5, 0.5]},
    )
    array[...] = data
    image = read_image(store)
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "zyx"
    assert image.voxel_size == (2.0, 0.5, 0.5)


def test_zarr_v3_dimension_names(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (16, 20, 2))
    zarr.create_array(str(tmp_path / "a.zarr"), data=data, dimension_names=("y", "x", "c"))
    assert read_image(tmp_path / "a.zarr").axes == "yxc"


def _ome_zarr(path: Path, rng: np.random.Generator, zarr_format: int) -> np.ndarray:
    data = rng.integers(0, 1000, (2, 4, 16, 20), dtype=np.uint16)
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    for level, factor in (("0", 1), ("1", 2)):
        level_data = data[:, :, ::factor, ::factor]
        array = group.create_array(level, shape=level_data.shape, dtype=level_data.dtype)
        array[...] = level_data
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "z", "type": "space", "unit": "micrometer"},
        {"name": "y", "type": "space", "unit": "micrometer"},
        {"name": "x", "type": "space", "unit": "nanometer"},
    ]
    datasets = [
        {
            "path": level,
            "coordinateTransformations": [
                {"type": "scale", "scale": [1.0, 2.0, 0.5 * factor, 250.0 * factor]}
            ],
        }
        for level, factor in (("0", 1), ("1", 2))
    ]
    multiscales = [{"version": "0.4", "axes": axes, "datasets": datasets}]
    if zarr_format == 2:
        group.attrs["multiscales"] = multiscales
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": multiscales}
    return data


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_ome_zarr_reads_level_0(tmp_path: Path, rng: np.random.Generator, zarr_format: int):
    data = _ome_zarr(tmp_path / "img.ome.zarr", rng, zarr_format)
    image = read_image(tmp_path / "img.ome.zarr")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "czyx"
    assert image.voxel_size == pytest.approx((2.0, 0.5, 0.25))


def test_ome_zarr_key_selects_a_level(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _ome_zarr(tmp_path / "img.ome.zarr", rng, 2)
    image = read_image(f"{tmp_path / 'img.ome.zarr'}:1")
    np.testing.assert_array_equal(image.data, data[:, :, ::2, ::2])
    assert image.voxel_size == pytest.approx((2.0, 1.0, 0.5))


def _zarr_group_with_two_arrays(path: Path, rng: np.random.Generator) -> np.ndarray:
    group = zarr.open_group(str(path), mode="w")
    raw = group.create_array("raw/data", shape=(16, 20), dtype="u1")
    raw[...] = data = _uint8(rng, (16, 20))
    group.create_array("labels", shape=(16, 20), dtype="u4")
    return data


def test_zarr_group_key(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _zarr_group_with_two_arrays(tmp_path / "g.zarr", rng)
    np.testing.assert_array_equal(read_image(tmp_path / "g.zarr", key="raw/data").data, data)
    np.testing.assert_array_equal(read_image(f"{tmp_path / 'g.zarr'}:raw/data").data, data)


def test_zarr_group_with_one_array_needs_no_key(tmp_path: Path, rng: np.random.Generator):
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    group.create_array("only", shape=(16, 20), dtype="f4")
    assert read_image(tmp_path / "g.zarr").data.shape == (16, 20)


def test_zarr_group_without_key_lists_arrays(tmp_path: Path, rng: np.random.Generator) -> None:
    _zarr_group_with_two_arrays(tmp_path / "g.zarr", rng)
    with pytest.raises(ImageReadError, match=r"2 arrays.*'labels'.*'raw/data'.*key="):
        read_image(tmp_path / "g.zarr")
    with pytest.raises(ImageReadError, match=r"no array 'nope'.*'labels'"):
        read_image(tmp_path / "g.zarr", key="nope")


# ------------------------------------------------------------------------------ HDF5


def _h5(path: Path, rng: np.random.Generator) -> dict[str, np.ndarray]:
    arrays = {"raw": _uint8(rng, (4, 16, 20)), "labels/cells": _uint8(rng, (4, 16, 20))}
    with h5py.File(path, "w") as h5:
        for name, data in arrays.items():
            h5.create_dataset(name, data=data)
        h5["raw"].attrs["element_size_um"] = [1.5, 0.25, 0.25]
    return arrays


def test_h5_key(tmp_path: Path, rng: np.random.Generator) -> None:
    arrays = _h5(tmp_path / "a.h5", rng)
    image = read_image(tmp_path / "a.h5", key="raw")
    np.testing.assert_array_equal(image.data, arrays["raw"])
    assert image.axes == "zyx"
    assert image.voxel_size == (1.5, 0.25, 0.25)
    assert image.path == tmp_path / "a.h5"


def test_h5_key_in_path(tmp_path: Path, rng: np.random.Generator) -> None:
    arrays = _h5(tmp_path / "a.hdf5", rng)
    image = read_image(f"{tmp_path / 'a.hdf5'}:labels/cells")
    np.testing.assert_array_equal(image.data, arrays["labels/cells"])
    assert image.voxel_size is None


def test_h5_single_dataset_needs_no_key(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (16, 20))
    with h5py.File(tmp_path / "one.h5", "w") as h5:
        h5.create_dataset("volume/raw", data=data)
        h5["volume/raw"].attrs["voxel_size"] = (0.5, 0.5)
    image = read_image(tmp_path / "one.h5")
    np.testing.assert_array_equal(image.data, data)
    assert image.voxel_size == (0.5, 0.5)


def test_h5_several_datasets_without_key_lists_them(tmp_path: Path, rng: np.random.Generator):
    _h5(tmp_path / "a.h5", rng)
    with pytest.raises(ImageReadError, match=r"a\.h5.*2 image datasets.*'labels/cells'.*'raw'"):
        read_image(tmp_path / "a.h5")


def test_h5_missing_key_lists_datasets(tmp_path: Path, rng: np.random.Generator) -> None:
    _h5(tmp_path / "a.h5", rng)
    with pytest.raises(ImageReadError, match=r"no dataset 'nope'.*'labels/cells'.*'raw'"):
        read_image(f"{tmp_path / 'a.h5'}:nope")
    with pytest.raises(ImageReadError, match="'labels' is a group"):
        read_image(tmp_path / "a.h5", key="labels")


def test_conflicting_keys(tmp_path: Path, rng: np.random.Generator) -> None:
    _h5(tmp_path / "a.h5", rng)
    with pytest.raises(ImageReadError, match="two different keys"):
        read_image(f"{tmp_path / 'a.h5'}:raw", key="labels/cells")


def test_key_for_a_single_image_format(tmp_path: Path, rng: np.random.Generator) -> None:
    np.save(tmp_path / "a.npy", _uint8(rng, (16, 20)))
    with pytest.raises(ImageReadError, match="key"):
        read_image(tmp_path / "a.npy", key="raw")


# ---------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.tif"):
        read_image(tmp_path / "nope.tif")


def test_missing_h5_names_the_file_not_the_key(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.h5 "):
        read_image(f"{tmp_path / 'nope.h5'}:raw")


def test_unsupported_suffix_lists_supported(tmp_path: Path) -> None:
    (tmp_path / "a.xyz").write_bytes(b"data")
    with pytest.raises(ImageReadError, match=r"a\.xyz.*'\.xyz'.*\.tif.*\.png.*\.zarr.*\.h5"):
        read_image(tmp_path / "a.xyz")


def test_plain_directory(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    with pytest.raises(ImageReadError, match="not a zarr store"):
        read_image(tmp_path / "folder")


@pytest.mark.parametrize("shape", [(32, 40), (6, 32, 40)])
def test_truncated_tif(tmp_path: Path, rng: np.random.Generator, shape: tuple[int, ...]) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, rng.integers(0, 65535, shape, dtype=np.uint16), photometric="minisblack")
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.tif.*truncated") as caught:
        read_image(path)
    assert caught.value.__cause__ is not None
    assert "\n" not in str(caught.value)


def test_truncated_imagej_stack(tmp_path: Path, rng: np.random.Generator) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, _uint8(rng, (6, 32, 40)), imagej=True, metadata={"axes": "ZYX"})
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.tif"):
        read_image(path)


def test_random_bytes_png(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "noise.png").write_bytes(rng.bytes(256))
    with pytest.raises(ImageReadError, match=r"noise\.png.*not a valid PNG") as caught:
        read_image(tmp_path / "noise.png")
    assert caught.value.__cause__ is not None
    assert "\n" not in str(caught.value)


def test_random_bytes_h5(tmp_path: Path, rng: np.random.Generator) -> None:
    (tmp_path / "noise.h5").write_bytes(rng.bytes(256))
    with pytest.raises(ImageReadError, match=r"noise\.h5.*not a valid HDF5"):
        read_image(tmp_path / "noise.h5")


def test_broken_zarr(tmp_path: Path) -> None:
    store = tmp_path / "broken.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{not json")
    with pytest.raises(ImageReadError, match=r"broken\.zarr.*not a valid zarr"):
        read_image(store)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 6), (7,), (1, 7, 1)])
def test_wrong_number_of_dimensions(tmp_path: Path, shape: tuple[int, ...]) -> None:
    np.save(tmp_path / "bad.npy", np.zeros(shape, dtype=np.float32))
    with pytest.raises(ImageReadError, match=r"bad\.npy.*dimension.*2 to 4"):
        read_image(tmp_path / "bad.npy")


def test_npz_is_rejected(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 4)))
    (tmp_path / "a.npz").rename(tmp_path / "a.npy")
    with pytest.raises(ImageReadError, match="npz"):
        read_image(tmp_path / "a.npy")


def test_error_is_a_value_error_and_pickles(tmp_path: Path) -> None:
    error = ImageReadError(tmp_path / "a.png", "it is broken", "Fix it.")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error)
    assert copy.path == error.path
