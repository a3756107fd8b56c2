"""semiseg-predict on large inputs: zarr / h5 / tif read block by block, zarr written."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile
import zarr

from semiseg_zoo.cli.predict import main
from semiseg_zoo.evaluation import adapted_rand_error
from semiseg_zoo.io import read_image
from semiseg_zoo.synthetic import synthetic_nuclei

MODEL = "teacher-nuclei-2d"


@pytest.fixture(scope="module")
def raw() -> np.ndarray:
    image, _ = synthetic_nuclei((400, 520), seed=21)
    return image.astype(np.float32)


@pytest.fixture(scope="module")
def in_memory_labels(raw, tmp_path_factory) -> np.ndarray:
    folder = tmp_path_factory.mktemp("in-memory")
    tifffile.imwrite(folder / "raw.tif", raw)
    assert (
        main(
            [
                str(folder / "raw.tif"),
                "-o",
                str(folder / "out"),
                "--model",
                MODEL,
                "--in-memory",
                "--no-tiling",
            ]
        )
        == 0
    )
    return read_image(folder / "out" / "raw_instances.tif").data


def _predict(source: Path, out: Path, *options: str) -> int:
    """semiseg-predict on one input with the teacher model, in this process."""
    return main([str(source), "-o", str(out), "--model", MODEL, *options])


def _same_partition(result: np.ndarray, expected: np.ndarray) -> None:
    assert result.shape == expected.shape
    assert len(np.unique(result)) == len(np.unique(expected))
    assert adapted_rand_error(result, expected) == 0.0


def test_a_zarr_volume_is_segmented_blockwise_into_zarr(raw, in_memory_labels, tmp_path, capsys):
    zarr.create_array(tmp_path / "raw.zarr", data=raw, chunks=(128, 128))
    code = _predict(
        tmp_path / "raw.zarr",
        tmp_path / "out",
        "--blockwise",
        "--block-shape",
        "128",
        "160",
        "--scheduler",
        "synchronous",
    )
    assert code == 0
    labels = zarr.open_array(tmp_path / "out" / "raw_instances.zarr", mode="r")
    assert labels.chunks == (128, 160)
    _same_partition(labels[:], in_memory_labels)
    assert f"{int(labels.attrs['n_objects'])} objects (blockwise)" in capsys.readouterr().out
    assert not (tmp_path / "out" / "raw_instances.zarr.partial").exists()


def test_an_h5_dataset_with_probabilities_saved(raw, in_memory_labels, tmp_path):
    with h5py.File(tmp_path / "stack.h5", "w") as file:
        file.create_dataset("volumes/raw", data=raw, chunks=(64, 64))
        file.create_dataset("volumes/other", data=raw[:10])
    code = _predict(
        tmp_path / "stack.h5",
        tmp_path / "out",
        "--key",
        "volumes/raw",
        "--blockwise",
        "--save-probabilities",
        "--scheduler",
        "synchronous",
    )
    assert code == 0
    probabilities = read_image(tmp_path / "out" / "stack_probabilities.zarr")
    assert probabilities.axes == "cyx" and probabilities.data.shape == (3, *raw.shape)
    labels = read_image(tmp_path / "out" / "stack_instances.zarr").data
    _same_partition(labels, in_memory_labels)


def test_a_tif_above_the_size_limit_goes_blockwise_on_its_own(raw, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "big.tif", raw)
    code = _predict(
        tmp_path / "big.tif",
        tmp_path / "out",
        "--blockwise-above",
        "0.0001",
        "--scheduler",
        "synchronous",
    )
    assert code == 0
    assert (tmp_path / "out" / "big_instances.zarr").is_dir()
    assert not (tmp_path / "out" / "big_instances.tif").exists()
    code = _predict(
        tmp_path / "big.tif",
        tmp_path / "out",
        "--blockwise-above",
        "0.0001",
        "--scheduler",
        "synchronous",
    )
    assert code == 0 and "skipped" in capsys.readouterr().out


def test_tta_is_refused_blockwise_and_nothing_is_written(raw, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "big.tif", raw)
    code = _predict(
        tmp_path / "big.tif", tmp_path / "out", "--blockwise", "--tta", "--scheduler", "synchronous"
    )
    assert code == 1
    assert "--tta is not available for blockwise" in capsys.readouterr().err
    assert list(Path(tmp_path / "out").iterdir()) == []


def test_a_bad_scheduler_is_a_usage_error(raw, tmp_path, capsys):
    tifffile.imwrite(tmp_path / "big.tif", raw)
    code = main([str(tmp_path / "big.tif"), "-o", str(tmp_path / "out"), "--scheduler", "yarn"])
    assert code == 2
    assert "expected 'local'" in capsys.readouterr().err
