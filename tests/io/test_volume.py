"""open_volume: the same image as read_image, read lazily, one region at a time."""

from __future__ import annotations

import os
import re
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import zarr

from semiseg_zoo.io import ImageReadError, Volume, open_volume, read_image
from semiseg_zoo.io.volume import _SqueezedArray

MB = 1 << 20


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _uint8(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.integers(0, 256, shape, dtype=np.uint8)


# ------------------------------------------------------------------ one case per format
# Each case writes a file and returns what to open and the kind of lazy array expected.

Case = tuple[str, str | None, type]


def _tif_plain(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = rng.integers(0, 1000, (5, 16, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "a.tif", data, photometric="minisblack")
    return str(tmp_path / "a.tif"), None, np.memmap


def _tif_2d_float(tmp_path: Path, rng: np.random.Generator) -> Case:
    tifffile.imwrite(tmp_path / "a.tiff", rng.random((16, 20)).astype(np.float32))
    return str(tmp_path / "a.tiff"), None, np.memmap


def _tif_rgb(tmp_path: Path, rng: np.random.Generator) -> Case:
    tifffile.imwrite(tmp_path / "rgb.tif", _uint8(rng, (16, 20, 3)), photometric="rgb")
    return str(tmp_path / "rgb.tif"), None, np.memmap


def _tif_imagej_spacing(tmp_path: Path, rng: np.random.Generator) -> Case:
    tifffile.imwrite(
        tmp_path / "ij.tif",
        _uint8(rng, (4, 16, 20)),
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),
        metadata={"axes": "ZYX", "spacing": 2.0, "unit": "nm"},
    )
    return str(tmp_path / "ij.tif"), None, np.memmap


def _tif_imagej_hyperstack(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = _uint8(rng, (3, 2, 16, 20))
    tifffile.imwrite(tmp_path / "h.tif", data, imagej=True, metadata={"axes": "ZCYX"})
    return str(tmp_path / "h.tif"), None, np.memmap


def _tif_ome(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = rng.integers(0, 1000, (1, 2, 3, 16, 20), dtype=np.uint16)
    metadata = {"axes": "TCZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.3, "PhysicalSizeZ": 1.5}
    tifffile.imwrite(tmp_path / "a.ome.tif", data, ome=True, metadata=metadata)
    return str(tmp_path / "a.ome.tif"), None, np.memmap


def _tif_zlib(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = rng.integers(0, 1000, (5, 16, 20), dtype=np.uint16)
    tifffile.imwrite(
        tmp_path / "z.tif",
        data,
        photometric="minisblack",
        compression="zlib",
        resolution=(1 / 0.4, 1 / 0.4),
        resolutionunit="MICROMETER",
    )
    return str(tmp_path / "z.tif"), None, zarr.Array


def _tif_tiled(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = _uint8(rng, (3, 48, 40))
    tifffile.imwrite(tmp_path / "t.tif", data, photometric="minisblack", tile=(16, 16))
    return str(tmp_path / "t.tif"), None, zarr.Array


def _tif_big_endian(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = rng.integers(0, 1000, (3, 16, 20), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "be.tif", data, photometric="minisblack", byteorder=">")
    return str(tmp_path / "be.tif"), None, zarr.Array


def _ome_zarr(zarr_format: int) -> Callable[[Path, np.random.Generator], Case]:
    def write(tmp_path: Path, rng: np.random.Generator) -> Case:
        data = rng.integers(0, 1000, (1, 1, 4, 16, 20), dtype=np.uint16)
        group = zarr.open_group(str(tmp_path / "img.ome.zarr"), mode="w", zarr_format=zarr_format)
        for level, factor in (("0", 1), ("1", 2)):
            level_data = data[..., ::factor, ::factor]
            array = group.create_array(level, shape=level_data.shape, dtype=level_data.dtype)
            array[...] = level_data
        axes = [
            {"name": "t", "type": "time"},
            {"name": "c", "type": "channel"},
            {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "nanometer"},
        ]
        datasets = [
            {
                "path": level,
                "coordinateTransformations": [
                    {"type": "scale", "scale": [1.0, 1.0, 2.0, 0.5 * factor, 250.0 * factor]}
                ],
            }
            for level, factor in (("0", 1), ("1", 2))
        ]
        multiscales = [{"version": "0.4", "axes": axes, "datasets": datasets}]
        if zarr_format == 2:
            group.attrs["multiscales"] = multiscales
        else:
            group.attrs["ome"] = {"version": "0.5", "multiscales": multiscales}
        return str(tmp_path / "img.ome.zarr"), None, _SqueezedArray

    return write


def _ome_zarr_level_1(tmp_path: Path, rng: np.random.Generator) -> Case:
    path, _, kind = _ome_zarr(2)(tmp_path, rng)
    return f"{path}:1", None, kind


def _zarr_array(zarr_format: int) -> Callable[[Path, np.random.Generator], Case]:
    def write(tmp_path: Path, rng: np.random.Generator) -> Case:
        data = rng.random((4, 16, 20)).astype(np.float32)
        array = zarr.create_array(
            str(tmp_path / "a.zarr"),
            shape=data.shape,
            dtype=data.dtype,
            chunks=(2, 8, 8),
            zarr_format=zarr_format,
            attributes={"voxel_size": [2.0, 0.5, 0.5]},
        )
        array[...] = data
        return str(tmp_path / "a.zarr"), None, zarr.Array

    return write


def _zarr_v3_dimension_names(tmp_path: Path, rng: np.random.Generator) -> Case:
    data = _uint8(rng, (16, 20, 2))
    zarr.create_array(str(tmp_path / "a.zarr"), data=data, dimension_names=("y", "x", "c"))
    return str(tmp_path / "a.zarr"), None, zarr.Array


def _zarr_group(tmp_path: Path, rng: np.random.Generator) -> zarr.Group:
    group = zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    raw = group.create_array("raw/data", shape=(16, 20), dtype="u1", chunks=(8, 8))
    raw[...] = _uint8(rng, (16, 20))
    group.create_array("labels", shape=(16, 20), dtype="u4")
    return group


def _zarr_group_key(tmp_path: Path, rng: np.random.Generator) -> Case:
    _zarr_group(tmp_path, rng)
    return str(tmp_path / "g.zarr"), "raw/data", zarr.Array


def _zarr_group_key_in_path(tmp_path: Path, rng: np.random.Generator) -> Case:
    _zarr_group(tmp_path, rng)
    return f"{tmp_path / 'g.zarr'}:raw/data", None, zarr.Array


def _h5(path: Path, rng: np.random.Generator) -> None:
    with h5py.File(path, "w") as h5:
        h5.create_dataset("raw", data=_uint8(rng, (4, 16, 20)), chunks=(2, 8, 8))
        h5.create_dataset("labels/cells", data=_uint8(rng, (4, 16, 20)))
        h5["raw"].attrs["element_size_um"] = [1.5, 0.25, 0.25]


def _h5_key(tmp_path: Path, rng: np.random.Generator) -> Case:
    _h5(tmp_path / "a.h5", rng)
    return str(tmp_path / "a.h5"), "raw", h5py.Dataset


def _h5_key_in_path(tmp_path: Path, rng: np.random.Generator) -> Case:
    _h5(tmp_path / "a.hdf5", rng)
    return f"{tmp_path / 'a.hdf5'}:labels/cells", None, h5py.Dataset


def _h5_singleton_axes(tmp_path: Path, rng: np.random.Generator) -> Case:
    with h5py.File(tmp_path / "one.h5", "w") as h5:
        h5.create_dataset("volume/raw", data=_uint8(rng, (1, 3, 1, 16, 20)))
        h5["volume/raw"].attrs["axes"] = "tczyx"
        h5["volume/raw"].attrs["voxel_size"] = (1.0, 2.0, 0.5, 0.5)
    return str(tmp_path / "one.h5"), None, _SqueezedArray


def _npy(tmp_path: Path, rng: np.random.Generator) -> Case:
    np.save(tmp_path / "a.npy", rng.random((2, 4, 16, 20)).astype(np.float32))
    return str(tmp_path / "a.npy"), None, np.memmap


def _npy_singletons(tmp_path: Path, rng: np.random.Generator) -> Case:
    np.save(tmp_path / "a.npy", rng.random((1, 4, 1, 16, 20)).astype(np.float32))
    return str(tmp_path / "a.npy"), None, np.memmap


def _png_rgb(tmp_path: Path, rng: np.random.Generator) -> Case:
    iio.imwrite(tmp_path / "c.png", _uint8(rng, (16, 20, 3)))
    return str(tmp_path / "c.png"), None, np.ndarray


def _jpg(tmp_path: Path, rng: np.random.Generator) -> Case:
    iio.imwrite(tmp_path / "g.jpg", _uint8(rng, (16, 20)))
    return str(tmp_path / "g.jpg"), None, np.ndarray


CASES: dict[str, Callable[[Path, np.random.Generator], Case]] = {
    "tif_plain": _tif_plain,
    "tif_2d_float": _tif_2d_float,
    "tif_rgb": _tif_rgb,
    "tif_imagej_spacing": _tif_imagej_spacing,
    "tif_imagej_hyperstack": _tif_imagej_hyperstack,
    "tif_ome": _tif_ome,
    "tif_zlib": _tif_zlib,
    "tif_tiled": _tif_tiled,
    "tif_big_endian": _tif_big_endian,
    "ome_zarr_v2": _ome_zarr(2),
    "ome_zarr_v3": _ome_zarr(3),
    "ome_zarr_level_1": _ome_zarr_level_1,
    "zarr_v2_array": _zarr_array(2),
    "zarr_v3_array": _zarr_array(3),
    "zarr_v3_dimension_names": _zarr_v3_dimension_names,
    "zarr_group_key": _zarr_group_key,
    "zarr_group_key_in_path": _zarr_group_key_in_path,
    "h5_key": _h5_key,
    "h5_key_in_path": _h5_key_in_path,
    "h5_singleton_axes": _h5_singleton_axes,
    "npy": _npy,
    "npy_singletons": _npy_singletons,
    "png_rgb": _png_rgb,
    "jpg": _jpg,
}


@pytest.mark.parametrize("case", CASES)
def test_volume_is_the_image_read_image_reads(
    tmp_path: Path, rng: np.random.Generator, case: str
) -> None:
    path, key, kind = CASES[case](tmp_path, rng)
    image = read_image(path, key=key)
    with open_volume(path, key=key) as volume:
        assert isinstance(volume, Volume)
        assert isinstance(volume.data, kind)
        data = volume.data[...]
        assert type(data) in (np.ndarray, np.memmap)
        np.testing.assert_array_equal(data, image.data)
        np.testing.assert_array_equal(np.asarray(volume.data), image.data)
        assert volume.axes == image.axes
        assert volume.voxel_size == image.voxel_size
        assert volume.path == image.path
        assert volume.shape == image.data.shape
        assert volume.dtype == image.data.dtype
        assert volume.spatial_axes == image.spatial_axes
        assert volume.nbytes == image.data.nbytes


def test_expected_axes_and_voxel_sizes(tmp_path: Path, rng: np.random.Generator) -> None:
    """A few cases spelled out, so that agreeing with read_image is not agreeing on nothing."""
    found = {}
    for case in ("tif_imagej_spacing", "tif_zlib", "ome_zarr_v3", "h5_key", "h5_singleton_axes"):
        folder = tmp_path / case
        folder.mkdir()
        path, key, _ = CASES[case](folder, rng)
        with open_volume(path, key=key) as volume:
            found[case] = (volume.axes, volume.shape, volume.voxel_size)
    assert found["tif_imagej_spacing"][:2] == ("zyx", (4, 16, 20))
    assert found["tif_imagej_spacing"][2] == pytest.approx((2e-3, 0.5e-3, 0.25e-3))
    assert found["tif_zlib"] == ("zyx", (5, 16, 20), None)
    assert found["ome_zarr_v3"][:2] == ("zyx", (4, 16, 20))
    assert found["ome_zarr_v3"][2] == pytest.approx((2.0, 0.5, 0.25))
    assert found["h5_key"] == ("zyx", (4, 16, 20), (1.5, 0.25, 0.25))
    assert found["h5_singleton_axes"] == ("cyx", (3, 16, 20), (0.5, 0.5))


def test_slicing_reads_a_region(tmp_path: Path, rng: np.random.Generator) -> None:
    data = rng.integers(0, 1000, (1, 2, 1, 16, 20), dtype=np.uint16)
    group = zarr.open_group(str(tmp_path / "s.zarr"), mode="w")
    group.create_array("raw", shape=data.shape, dtype=data.dtype, chunks=(1, 1, 1, 8, 8))
    group["raw"][...] = data
    with open_volume(tmp_path / "s.zarr") as volume:
        region = volume.data[1, 3:11:2, -4:]
    np.testing.assert_array_equal(region, data[0, 1, 0, 3:11:2, -4:])


def test_volume_checks_axes_and_voxel_size() -> None:
    with pytest.raises(ValueError, match="axes 'yx' do not match the 3D data"):
        Volume(np.zeros((2, 3, 4)), "yx", None, Path("a.npy"))
    with pytest.raises(ValueError, match=r"voxel_size \(1.0,\) does not match"):
        Volume(np.zeros((3, 4)), "yx", (1.0,), Path("a.npy"))


def test_repr_names_shape_axes_and_storage(tmp_path: Path, rng: np.random.Generator) -> None:
    path, key, _ = _h5_key(tmp_path, rng)
    with open_volume(path, key=key) as volume:
        text = repr(volume)
    assert "shape=(4, 16, 20)" in text and "axes='zyx'" in text and "data=Dataset" in text


# ------------------------------------------------------------------ the squeezing view


@pytest.fixture
def squeezed() -> tuple[_SqueezedArray, np.ndarray]:
    stored = np.arange(1 * 4 * 1 * 6 * 5, dtype=np.int32).reshape(1, 4, 1, 6, 5)
    return _SqueezedArray(stored, (1, 3, 4)), stored.reshape(4, 6, 5)


@pytest.mark.parametrize(
    "index",
    [
        (1,),
        2,
        -1,
        np.int64(3),
        (slice(None), 2),
        (1, 2, 3),
        (-1, -2, -5),
        (slice(1, 3), slice(None, None, 2), slice(4, 1, -1)),
        (Ellipsis, 1),
        (1, Ellipsis, slice(0, 4, 2)),
        (1, 2, 3, Ellipsis),
        Ellipsis,
        (),
        slice(None, None, 3),
    ],
)
def test_squeezed_array_indexes_like_numpy(
    squeezed: tuple[_SqueezedArray, np.ndarray], index: Any
) -> None:
    view, expected = squeezed
    result = view[index]
    assert type(result) is np.ndarray
    np.testing.assert_array_equal(result, expected[index])


def test_squeezed_array_attributes(squeezed: tuple[_SqueezedArray, np.ndarray]) -> None:
    view, expected = squeezed
    assert (view.shape, view.ndim, view.dtype, len(view)) == ((4, 6, 5), 3, np.int32, 4)
    np.testing.assert_array_equal(np.asarray(view), expected)
    assert np.asarray(view, dtype=np.float64).dtype == np.float64


def test_squeezed_array_over_zarr_and_h5(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _uint8(rng, (3, 1, 16, 20))
    array = zarr.create_array(str(tmp_path / "a.zarr"), data=data, chunks=(1, 1, 8, 8))
    with h5py.File(tmp_path / "a.h5", "w") as h5:
        h5.create_dataset("raw", data=data)
        views = [_SqueezedArray(array, (0, 2, 3)), _SqueezedArray(h5["raw"], (0, 2, 3))]
        for view in views:
            np.testing.assert_array_equal(view[-1, 2:9:3, ...], data[-1, 0, 2:9:3])
            np.testing.assert_array_equal(view[..., 7], data[:, 0, :, 7])
            assert type(view[0, 0, 0]) is np.ndarray


@pytest.mark.parametrize(
    ("index", "error", "match"),
    [
        ((0, 0, 0, 0), IndexError, "too many indices.*3-dimensional.*4 were given"),
        ((Ellipsis, 0, Ellipsis), IndexError, "single ellipsis"),
        ((4,), IndexError, "index 4 is out of bounds.*size 4"),
        ((0, -7), IndexError, "index -7 is out of bounds.*size 6"),
        ((None,), TypeError, "cannot index.*None.*integers, slices"),
        ((np.array([0, 1]),), TypeError, "cannot index.*ndarray"),
        ((True,), TypeError, "cannot index.*bool"),
    ],
)
def test_squeezed_array_rejects_bad_indices(
    squeezed: tuple[_SqueezedArray, np.ndarray], index: tuple, error: type, match: str
) -> None:
    view, _ = squeezed
    with pytest.raises(error, match=match):
        view[index]


# ------------------------------------------------------------------------------ close


def _open_fds_to(path: Path) -> int:
    fds = Path("/proc/self/fd")
    targets = []
    for fd in fds.iterdir():
        try:
            targets.append(os.readlink(fd))
        except OSError:
            continue
    return targets.count(str(path.resolve()))


def test_close_closes_the_h5_file(tmp_path: Path, rng: np.random.Generator) -> None:
    path, key, _ = _h5_key(tmp_path, rng)
    volume = open_volume(path, key=key)
    assert volume.data.id.valid
    volume.close()
    assert not volume.data.id.valid
    volume.close()
    with h5py.File(path, "a") as h5:  # HDF5 refuses to reopen a file still open read-only
        h5.attrs["touched"] = 1


def test_with_block_closes_the_h5_file(tmp_path: Path, rng: np.random.Generator) -> None:
    path, key, _ = _h5_key(tmp_path, rng)
    with open_volume(path, key=key) as volume:
        np.testing.assert_array_equal(volume.data[0], read_image(path, key=key).data[0])
    assert not volume.data.id.valid


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")
def test_close_closes_the_tif_behind_a_zarr_view(tmp_path: Path, rng: np.random.Generator):
    path, _, _ = _tif_zlib(tmp_path, rng)
    volume = open_volume(path)
    volume.data[1:3]
    assert _open_fds_to(Path(path)) >= 1
    volume.close()
    assert _open_fds_to(Path(path)) == 0


# ----------------------------------------------------------------------------- errors


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.tif"):
        open_volume(tmp_path / "nope.tif")
    with pytest.raises(FileNotFoundError, match=r"nope\.h5 "):
        open_volume(f"{tmp_path / 'nope.h5'}:raw")


def test_unsupported_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.xyz").write_bytes(b"data")
    with pytest.raises(ImageReadError, match=r"a\.xyz.*'\.xyz'.*\.tif.*\.zarr"):
        open_volume(tmp_path / "a.xyz")


def test_bad_h5_key_lists_datasets_and_closes_the_file(tmp_path: Path, rng: np.random.Generator):
    _h5(tmp_path / "a.h5", rng)
    with pytest.raises(ImageReadError, match=r"no dataset 'nope'.*'labels/cells'.*'raw'") as err:
        open_volume(f"{tmp_path / 'a.h5'}:nope")
    with pytest.raises(ImageReadError, match=r"2 image datasets.*key="):
        open_volume(tmp_path / "a.h5")
    with h5py.File(tmp_path / "a.h5", "a"):
        pass
    assert err.value.path == tmp_path / "a.h5"


def test_bad_zarr_key(tmp_path: Path, rng: np.random.Generator) -> None:
    _zarr_group(tmp_path, rng)
    with pytest.raises(ImageReadError, match=r"no array 'nope'.*'labels'"):
        open_volume(tmp_path / "g.zarr", key="nope")
    with pytest.raises(ImageReadError, match=r"2 arrays.*'labels'.*'raw/data'"):
        open_volume(tmp_path / "g.zarr")


def test_conflicting_keys(tmp_path: Path, rng: np.random.Generator) -> None:
    _h5(tmp_path / "a.h5", rng)
    with pytest.raises(ImageReadError, match="two different keys"):
        open_volume(f"{tmp_path / 'a.h5'}:raw", key="labels/cells")


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".png"])
def test_key_for_a_single_image_format(
    tmp_path: Path, rng: np.random.Generator, suffix: str
) -> None:
    if suffix == ".npy":
        np.save(tmp_path / "a.npy", _uint8(rng, (16, 20)))
    else:
        iio.imwrite(tmp_path / f"a{suffix}", _uint8(rng, (16, 20)))
    with pytest.raises(ImageReadError, match="key.*hold a single image"):
        open_volume(tmp_path / f"a{suffix}", key="raw")


@pytest.mark.parametrize("shape", [(2, 3, 4, 5, 6), (7,), (1, 7, 1)])
def test_wrong_number_of_dimensions_npy(tmp_path: Path, shape: tuple[int, ...]) -> None:
    np.save(tmp_path / "bad.npy", np.zeros(shape, dtype=np.float32))
    with pytest.raises(ImageReadError, match=r"bad\.npy.*dimension.*2 to 4"):
        open_volume(tmp_path / "bad.npy")


def test_five_dimensional_h5_and_zarr(tmp_path: Path) -> None:
    shape = (2, 2, 3, 4, 5)
    with h5py.File(tmp_path / "a.h5", "w") as h5:
        h5.create_dataset("raw", shape=shape, dtype="u1")
    zarr.create_array(str(tmp_path / "a.zarr"), shape=shape, dtype="u1")
    with pytest.raises(ImageReadError, match=r"a\.h5.*5 dimension.*2 to 4"):
        open_volume(tmp_path / "a.h5")
    with pytest.raises(ImageReadError, match=r"a\.zarr.*5 dimension.*2 to 4"):
        open_volume(tmp_path / "a.zarr")
    with h5py.File(tmp_path / "a.h5", "a"):
        pass


def test_string_dtype(tmp_path: Path) -> None:
    np.save(tmp_path / "s.npy", np.full((4, 4), "ab"))
    with h5py.File(tmp_path / "s.h5", "w") as h5:
        h5.create_dataset("raw", data=np.full((4, 4), b"ab"))
    with pytest.raises(ImageReadError, match=r"s\.npy.*unsupported data type <U2"):
        open_volume(tmp_path / "s.npy")
    with pytest.raises(ImageReadError, match=r"s\.h5.*unsupported data type \|S2"):
        open_volume(tmp_path / "s.h5")


def test_empty_image(tmp_path: Path) -> None:
    np.save(tmp_path / "e.npy", np.zeros((0, 4), dtype=np.uint8))
    with pytest.raises(ImageReadError, match=r"e\.npy.*empty"):
        open_volume(tmp_path / "e.npy")


def test_npz_is_rejected(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros((4, 4)))
    (tmp_path / "a.npz").rename(tmp_path / "a.npy")
    with pytest.raises(ImageReadError, match="npz"):
        open_volume(tmp_path / "a.npy")


@pytest.mark.parametrize(
    "options",
    [{"photometric": "minisblack"}, {"imagej": True}, {"compression": "zlib"}],
    ids=["plain", "imagej", "zlib"],
)
def test_truncated_tif(tmp_path: Path, rng: np.random.Generator, options: dict) -> None:
    path = tmp_path / "cut.tif"
    tifffile.imwrite(path, _uint8(rng, (6, 32, 40)), **options)
    content = path.read_bytes()
    path.write_bytes(content[: len(content) // 2])
    with pytest.raises(ImageReadError, match=r"cut\.tif.*truncated") as caught:
        open_volume(path)
    assert caught.value.__cause__ is not None
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["noise.tif", "noise.h5", "noise.npy", "noise.png"])
def test_random_bytes(tmp_path: Path, rng: np.random.Generator, name: str) -> None:
    (tmp_path / name).write_bytes(rng.bytes(256))
    with pytest.raises(ImageReadError, match=rf"{re.escape(name)}.*not a valid"):
        open_volume(tmp_path / name)


def test_broken_zarr(tmp_path: Path) -> None:
    store = tmp_path / "broken.zarr"
    store.mkdir()
    (store / "zarr.json").write_text("{not json")
    with pytest.raises(ImageReadError, match=r"broken\.zarr.*not a valid zarr"):
        open_volume(store)


# ----------------------------------------------------------------------------- memory

BLOCK = (slice(90, 154), slice(100, 164), slice(200, 264))


def _pattern_planes(depth: int, height: int = 512, width: int = 512) -> Iterator[np.ndarray]:
    plane = (np.add.outer(np.arange(height), 3 * np.arange(width)) % 251).astype(np.uint8)
    for z in range(depth):
        yield plane + np.uint8(z % 5)


def _expected_block(block: tuple[slice, ...]) -> np.ndarray:
    z, y, x = (np.arange(s.start, s.stop) for s in block)
    plane = (np.add.outer(y, 3 * x) % 251).astype(np.uint8)
    return plane[None] + (z % 5).astype(np.uint8)[:, None, None]


def _resident_bytes() -> int | None:
    statm = Path("/proc/self/statm")
    if not statm.exists():
        return None
    return int(statm.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _read_block(path: Path) -> tuple[np.ndarray, Volume, int, int | None]:
    """Open ``path`` and read BLOCK; the Python heap's peak and the growth of resident memory.

    The block is copied so that a memory map's pages are read here too; numpy's allocations
    are traced, so reading the whole file into an array would show in the peak.
    """
    rss_before = _resident_bytes()
    tracemalloc.start()
    try:
        volume = open_volume(path)
        block = np.array(volume.data[BLOCK])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_after = _resident_bytes()
    grown = None if rss_before is None or rss_after is None else rss_after - rss_before
    return block, volume, peak, grown


def test_block_of_a_200_mb_tif_is_read_alone(tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    shape = (800, 512, 512)
    tifffile.imwrite(
        path, _pattern_planes(shape[0]), shape=shape, dtype=np.uint8, photometric="minisblack"
    )
    assert path.stat().st_size > 200 * 10**6
    block, volume, peak, grown = _read_block(path)
    assert peak < 20 * MB
    if grown is not None:
        assert grown < 50 * MB
    with volume:
        assert isinstance(volume.data, np.memmap)
        assert volume.shape == shape and volume.nbytes == 800 * 512 * 512
        np.testing.assert_array_equal(block, _expected_block(BLOCK))


def test_block_of_a_compressed_tif_is_read_alone(tmp_path: Path) -> None:
    path = tmp_path / "big_zlib.tif"
    shape = (160, 512, 512)
    tifffile.imwrite(
        path,
        _pattern_planes(shape[0]),
        shape=shape,
        dtype=np.uint8,
        photometric="minisblack",
        compression="zlib",
        rowsperstrip=64,
    )
    block, volume, peak, grown = _read_block(path)
    assert peak < 20 * MB
    if grown is not None:
        assert grown < 50 * MB
    with volume:
        assert isinstance(volume.data, zarr.Array)
        assert volume.nbytes == 160 * 512 * 512
        np.testing.assert_array_equal(block, _expected_block(BLOCK))


def test_block_of_a_chunked_zarr_is_read_alone(tmp_path: Path) -> None:
    path = tmp_path / "big.zarr"
    shape = (160, 512, 512)
    array = zarr.create_array(str(path), shape=shape, chunks=(64, 64, 64), dtype="u1")
    array[...] = np.stack(list(_pattern_planes(shape[0])))
    block, volume, peak, grown = _read_block(path)
    assert peak < 20 * MB
    if grown is not None:
        assert grown < 50 * MB
    with volume:
        assert isinstance(volume.data, zarr.Array)
        np.testing.assert_array_equal(block, _expected_block(BLOCK))
