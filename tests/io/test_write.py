"""write_tif / write_zarr: round trips, voxel size, overwriting and atomicity."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile
import zarr

from semiseg_zoo.io import read_image, write_tif, write_zarr


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def _data(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    if np.dtype(dtype).kind == "f":
        return rng.random(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) > 0.5
    return rng.integers(0, 200, shape).astype(dtype)


# ------------------------------------------------------------------------------ TIFF


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "int32", "int64", "float64"])
def test_tif_2d_keeps_voxel_size(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    data = _data(rng, (16, 20), dtype)
    path = write_tif(tmp_path / "a.tif", data, voxel_size=(0.3, 0.15))
    assert path == tmp_path / "a.tif"
    image = read_image(path)
    np.testing.assert_array_equal(image.data, data)
    assert image.data.dtype == data.dtype
    assert image.axes == "yx"
    assert image.voxel_size == pytest.approx((0.3, 0.15))


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "float32", "uint32", "int64", "bool"])
def test_tif_3d_keeps_voxel_size(tmp_path: Path, rng: np.random.Generator, dtype: str) -> None:
    data = _data(rng, (5, 16, 20), dtype)
    write_tif(tmp_path / "a.tif", data, voxel_size=[2.0, 0.25, 0.125])
    image = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "zyx"
    assert image.voxel_size == pytest.approx((2.0, 0.25, 0.125))


def test_tif_without_voxel_size(tmp_path: Path, rng: np.random.Generator) -> None:
    write_tif(tmp_path / "a.tif", _data(rng, (5, 16, 20), "uint16"))
    image = read_image(tmp_path / "a.tif")
    assert (image.axes, image.voxel_size) == ("zyx", None)


def test_tif_is_an_imagej_hyperstack(tmp_path: Path, rng: np.random.Generator) -> None:
    write_tif(tmp_path / "a.tif", _data(rng, (5, 16, 20), "uint16"), voxel_size=(2, 0.5, 0.25))
    with tifffile.TiffFile(tmp_path / "a.tif") as tif:
        assert tif.is_imagej
        assert tif.imagej_metadata["spacing"] == 2.0
        assert tif.imagej_metadata["unit"] == "um"
        assert tif.pages[0].resolution == pytest.approx((4.0, 2.0))


@pytest.mark.parametrize(
    ("shape", "dtype", "axes", "expected"),
    [
        ((16, 20, 3), "uint8", None, "yxc"),
        ((16, 20, 4), "uint8", None, "yxc"),
        ((16, 20, 3), "uint16", None, "yxc"),
        ((16, 20, 2), "float32", "yxc", "yxc"),
        ((2, 5, 16, 20), "uint16", None, "czyx"),
        ((5, 2, 16, 20), "uint8", "zcyx", "zcyx"),
        ((5, 16, 20, 3), "uint8", None, "zyxc"),
        ((5, 16, 20, 2), "int64", "zyxc", "zyxc"),
        ((2, 5, 16, 20), "int64", None, "czyx"),
    ],
)
def test_tif_keeps_axes(
    tmp_path: Path,
    rng: np.random.Generator,
    shape: tuple[int, ...],
    dtype: str,
    axes: str | None,
    expected: str,
) -> None:
    data = _data(rng, shape, dtype)
    n_spatial = sum(a in "zyx" for a in expected)
    voxel_size = (1.5, 0.5, 0.25)[-n_spatial:]
    write_tif(tmp_path / "a.tif", data, axes=axes, voxel_size=voxel_size)
    image = read_image(tmp_path / "a.tif")
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == expected
    assert image.voxel_size == pytest.approx(voxel_size)


def test_tif_refuses_to_overwrite(tmp_path: Path, rng: np.random.Generator) -> None:
    path = write_tif(tmp_path / "a.tif", _data(rng, (16, 20), "uint8"))
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match=r"a\.tif.*--overwrite"):
        write_tif(path, _data(rng, (8, 8), "uint8"))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.tif"]


def test_tif_overwrite(tmp_path: Path, rng: np.random.Generator) -> None:
    write_tif(tmp_path / "a.tif", _data(rng, (16, 20), "uint8"))
    new = _data(rng, (8, 8), "uint16")
    write_tif(tmp_path / "a.tif", new, overwrite=True)
    np.testing.assert_array_equal(read_image(tmp_path / "a.tif").data, new)
    assert os.listdir(tmp_path) == ["a.tif"]


def test_tif_leaves_no_temporary_files(tmp_path: Path, rng: np.random.Generator) -> None:
    write_tif(tmp_path / "sub" / "a.tif", _data(rng, (5, 16, 20), "float32"), voxel_size=(1, 1, 1))
    write_tif(tmp_path / "sub" / "b.tiff", _data(rng, (16, 20), "int64"))
    assert sorted(os.listdir(tmp_path / "sub")) == ["a.tif", "b.tiff"]


def test_tif_failed_write_leaves_nothing(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", fail)
    with pytest.raises(OSError, match="disk full"):
        write_tif(tmp_path / "a.tif", _data(rng, (16, 20), "uint8"))
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    ("shape", "kwargs", "message"),
    [
        ((16, 20), {"voxel_size": (1.0, 1.0, 1.0)}, "voxel_size has 3 values"),
        ((5, 16, 20), {"voxel_size": (1.0, 1.0)}, "voxel_size has 2 values"),
        ((16, 20), {"voxel_size": (0.0, 1.0)}, "positive"),
        ((5, 16, 20), {"axes": "yx"}, "axes 'yx' do not fit"),
        ((5, 16, 20), {"axes": "zzx"}, "do not fit"),
        ((2, 2, 2, 16, 20), {}, "2 to 4"),
    ],
)
def test_tif_rejects_bad_arguments(
    tmp_path: Path, shape: tuple[int, ...], kwargs: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_tif(tmp_path / "a.tif", np.zeros(shape, dtype=np.uint8), **kwargs)
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------------------ zarr


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_zarr_round_trip(tmp_path: Path, rng: np.random.Generator, zarr_format: int) -> None:
    data = _data(rng, (5, 16, 20), "float32")
    path = write_zarr(
        tmp_path / "a.zarr",
        data,
        voxel_size=(2.0, 0.5, 0.5),
        chunks=(2, 8, 8),
        zarr_format=zarr_format,
    )
    assert path == tmp_path / "a.zarr"
    image = read_image(path)
    np.testing.assert_array_equal(image.data, data)
    assert image.axes == "zyx"
    assert image.voxel_size == (2.0, 0.5, 0.5)
    array = zarr.open_array(str(path), mode="r")
    assert array.chunks == (2, 8, 8)
    assert array.metadata.zarr_format == zarr_format
    assert array.attrs["voxel_size"] == [2.0, 0.5, 0.5]


def test_zarr_keeps_axes(tmp_path: Path, rng: np.random.Generator) -> None:
    data = _data(rng, (16, 20, 2), "uint16")
    write_zarr(tmp_path / "a.zarr", data, axes="yxc", voxel_size=(0.5, 0.25))
    image = read_image(tmp_path / "a.zarr")
    assert image.axes == "yxc"
    assert image.voxel_size == (0.5, 0.25)


def test_zarr_refuses_to_overwrite(tmp_path: Path, rng: np.random.Generator) -> None:
    write_zarr(tmp_path / "a.zarr", _data(rng, (16, 20), "uint8"))
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_zarr(tmp_path / "a.zarr", _data(rng, (16, 20), "uint8"))
    assert os.listdir(tmp_path) == ["a.zarr"]


def test_zarr_overwrite_replaces_the_store(tmp_path: Path, rng: np.random.Generator) -> None:
    write_zarr(tmp_path / "a.zarr", _data(rng, (5, 16, 20), "uint8"), zarr_format=2)
    new = _data(rng, (8, 8), "float32")
    write_zarr(tmp_path / "a.zarr", new, overwrite=True)
    image = read_image(tmp_path / "a.zarr")
    np.testing.assert_array_equal(image.data, new)
    assert not (tmp_path / "a.zarr" / ".zarray").exists()  # no v2 leftovers in the v3 store
    assert os.listdir(tmp_path) == ["a.zarr"]


def test_zarr_failed_write_leaves_nothing(
    tmp_path: Path, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(store: str, **kwargs: object) -> None:
        Path(store).mkdir()
        (Path(store) / "zarr.json").write_text("{}")
        raise OSError("disk full")

    monkeypatch.setattr(zarr, "create_array", fail)
    with pytest.raises(OSError, match="disk full"):
        write_zarr(tmp_path / "a.zarr", _data(rng, (16, 20), "uint8"))
    assert os.listdir(tmp_path) == []


def test_zarr_needs_zarr_suffix(tmp_path: Path, rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match=r"\.zarr"):
        write_zarr(tmp_path / "a.n5", _data(rng, (16, 20), "uint8"))
