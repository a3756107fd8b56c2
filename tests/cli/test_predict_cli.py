"""semiseg-predict end to end (console script in a subprocess) and in-process via main()."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile

from semiseg_zoo.cli.predict import main
from semiseg_zoo.io import read_image
from semiseg_zoo.synthetic import synthetic_nuclei

IMAGES = {"alpha": ((200, 240), 31), "beta": ((180, 300), 32)}


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "semiseg-predict"
    return str(beside) if beside.is_file() else shutil.which("semiseg-predict")


SCRIPT = _console_script()
needs_script = pytest.mark.skipif(SCRIPT is None, reason="semiseg-predict is not installed")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=300, check=False
    )


def _count(labels: np.ndarray) -> int:
    return len(np.unique(labels[labels > 0]))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, dict[str, int]]:
    """A folder with two synthetic tifs and one corrupt tif; expected object counts."""
    folder = tmp_path_factory.mktemp("cli-inputs")
    expected = {}
    for stem, (shape, seed) in IMAGES.items():
        image, labels = synthetic_nuclei(shape, seed=seed)
        tifffile.imwrite(folder / f"{stem}.tif", image)
        expected[stem] = int(labels.max())
    (folder / "corrupt.tif").write_bytes(b"II*\x00" + np.random.default_rng(0).bytes(300))
    return folder, expected


@pytest.fixture(scope="module")
def first_run(inputs, tiny_package_path, tmp_path_factory):
    """One end-to-end run of the console script over the folder."""
    if SCRIPT is None:
        pytest.skip("semiseg-predict is not installed")
    folder, _ = inputs
    output = tmp_path_factory.mktemp("cli-run") / "out"
    result = _run(
        str(folder),
        "--model",
        str(tiny_package_path),
        "-o",
        str(output),
        "--device",
        "cpu",
        cwd=folder.parent,
    )
    return result, output


def _assert_counts(output: Path, expected: dict[str, int], suffix: str = "tif") -> None:
    for stem, n_true in expected.items():
        path = output / f"{stem}_instances.{suffix}"
        assert path.exists(), path
        labels = read_image(path).data
        assert labels.shape == IMAGES[stem][0]
        n_found = _count(labels)
        assert abs(n_found - n_true) <= 0.2 * n_true, (stem, n_found, n_true)


# --- the console script -----------------------------------------------------------------------


@needs_script
def test_end_to_end_run_segments_good_images_and_reports_the_corrupt_one(first_run, inputs):
    result, output = first_run
    _, expected = inputs
    assert result.returncode == 1, result.stderr
    _assert_counts(output, expected)
    assert sorted(p.name for p in output.iterdir()) == ["alpha_instances.tif", "beta_instances.tif"]
    labels = tifffile.imread(output / "alpha_instances.tif")
    assert labels.dtype == np.uint16
    # the corrupt file is listed under the failures, with the reason
    failures = result.stderr.split("1 image(s) failed:", 1)
    assert len(failures) == 2, result.stderr
    assert "corrupt.tif" in failures[1]
    assert "Cannot read image" in failures[1]
    assert "Traceback" not in result.stderr
    assert "2 image(s) segmented" in result.stdout
    for stem in expected:
        labels = tifffile.imread(output / f"{stem}_instances.tif")
        line = f"{stem}.tif: {_count(labels)} objects -> {output / f'{stem}_instances.tif'}"
        assert line in result.stdout, result.stdout


@needs_script
def test_missing_model_is_exit_code_2_with_one_line_error(inputs, tmp_path):
    folder, _ = inputs
    result = _run(
        str(folder),
        "--model",
        str(tmp_path / "nope.zip"),
        "-o",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("semiseg-predict: error: model ")
    assert "nope.zip" in lines[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


@needs_script
def test_help_works(tmp_path):
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: semiseg-predict")
    for option in ("--model", "--overwrite", "--format", "--save-probabilities", "--trust-code"):
        assert option in result.stdout
    assert result.stderr == ""


# --- in-process -------------------------------------------------------------------------------


def _good_inputs(inputs) -> list[str]:
    folder, _ = inputs
    return [str(folder / f"{stem}.tif") for stem in IMAGES]


def test_rerun_without_overwrite_skips(inputs, tiny_package_path, tmp_path, capsys):
    output = tmp_path / "out"
    args = [*_good_inputs(inputs), "--model", str(tiny_package_path), "-o", str(output)]
    assert main([*args, "--device", "cpu"]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in output.iterdir()}
    capsys.readouterr()

    assert main([*args, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert out.count("skipped") == 3  # two lines per image + the summary
    assert "use --overwrite to replace it" in out
    assert "2 skipped because their output exists (use --overwrite)" in out
    assert "0 image(s) segmented" in out
    assert {p.name: p.stat().st_mtime_ns for p in output.iterdir()} == before


def test_rerun_with_overwrite_rewrites(inputs, tiny_package_path, tmp_path, capsys):
    output = tmp_path / "out"
    args = [*_good_inputs(inputs), "--model", str(tiny_package_path), "-o", str(output)]
    assert main([*args, "--device", "cpu"]) == 0
    # clobber one result; --overwrite must replace it with real labels again
    tifffile.imwrite(output / "alpha_instances.tif", np.zeros((4, 4), np.uint16))
    capsys.readouterr()
    assert main([*args, "--device", "cpu", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "skipped" not in out
    assert "2 image(s) segmented" in out
    _assert_counts(output, inputs[1])


def test_zarr_format_writes_zarr(inputs, tiny_package_path, tmp_path):
    output = tmp_path / "out"
    code = main(
        [
            *_good_inputs(inputs),
            "--model",
            str(tiny_package_path),
            "-o",
            str(output),
            "--format",
            "zarr",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in output.iterdir()) == [
        "alpha_instances.zarr",
        "beta_instances.zarr",
    ]
    assert all((output / name).is_dir() for name in ("alpha_instances.zarr", "beta_instances.zarr"))
    _assert_counts(output, inputs[1], suffix="zarr")
    assert read_image(output / "alpha_instances.zarr").axes == "yx"


def test_save_probabilities_writes_probabilities(inputs, tiny_package_path, tmp_path):
    output = tmp_path / "out"
    code = main(
        [
            _good_inputs(inputs)[0],
            "--model",
            str(tiny_package_path),
            "-o",
            str(output),
            "--save-probabilities",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert sorted(p.name for p in output.iterdir()) == [
        "alpha_instances.tif",
        "alpha_probabilities.tif",
    ]
    probabilities = read_image(output / "alpha_probabilities.tif")
    assert probabilities.data.shape == (3, 200, 240)
    assert probabilities.axes == "cyx"
    assert probabilities.data.dtype == np.float32
    np.testing.assert_allclose(probabilities.data.sum(axis=0), 1.0, atol=1e-5)


def test_zarr_probabilities_keep_the_channel_axis(inputs, tiny_package_path, tmp_path):
    output = tmp_path / "out"
    code = main(
        [
            _good_inputs(inputs)[0],
            "--model",
            str(tiny_package_path),
            "-o",
            str(output),
            "--save-probabilities",
            "--format",
            "zarr",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    probabilities = read_image(output / "alpha_probabilities.zarr")
    assert probabilities.data.shape == (3, 200, 240)
    assert probabilities.axes == "cyx"


def test_no_tiling_and_small_tiles_give_the_same_labels(inputs, tiny_package_path, tmp_path):
    image = _good_inputs(inputs)[1]
    for name, extra in [("whole", ["--no-tiling"]), ("tiled", ["--tile", "64", "96"])]:
        assert (
            main(
                [
                    image,
                    "--model",
                    str(tiny_package_path),
                    "-o",
                    str(tmp_path / name),
                    "--device",
                    "cpu",
                    *extra,
                ]
            )
            == 0
        )
    whole = tifffile.imread(tmp_path / "whole" / "beta_instances.tif")
    tiled = tifffile.imread(tmp_path / "tiled" / "beta_instances.tif")
    np.testing.assert_array_equal(whole, tiled)


def test_glob_pattern_input(inputs, tiny_package_path, tmp_path):
    folder, expected = inputs
    output = tmp_path / "out"
    assert (
        main(
            [
                str(folder / "a*.tif"),
                "--model",
                str(tiny_package_path),
                "-o",
                str(output),
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert [p.name for p in output.iterdir()] == ["alpha_instances.tif"]


def test_missing_model_in_process_is_exit_code_2(inputs, tmp_path, capsys):
    code = main([*_good_inputs(inputs), "--model", str(tmp_path / "nope.zip"), "-o", str(tmp_path)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("semiseg-predict: error: model ")


def test_corrupt_model_zip_is_exit_code_2(inputs, tmp_path, capsys):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(np.random.default_rng(1).bytes(2048))
    code = main([*_good_inputs(inputs), "--model", str(bad), "-o", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("semiseg-predict: error: ") and "not a readable zip archive" in err


def test_model_zip_with_broken_member_is_exit_code_2(inputs, tiny_package_path, tmp_path, capsys):
    data = bytearray(tiny_package_path.read_bytes())
    with zipfile.ZipFile(tiny_package_path) as archive:
        info = archive.getinfo("README.md")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8
    bad = tmp_path / "broken.zip"
    bad.write_bytes(bytes(data))
    code = main([*_good_inputs(inputs), "--model", str(bad), "-o", str(tmp_path / "out")])
    assert code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give input images and -o/--output"),
        (["image.tif"], "give input images and -o/--output"),
    ],
)
def test_missing_inputs_or_output_is_exit_code_2(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_output_that_is_a_file_is_exit_code_2(inputs, tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main([*_good_inputs(inputs), "-o", str(target)]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err


def test_unmatched_glob_is_exit_code_2(tmp_path, capsys):
    assert main([str(tmp_path / "none*.tif"), "-o", str(tmp_path / "out")]) == 2
    assert "no files match" in capsys.readouterr().err


def test_bad_choice_is_argparse_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["image.tif", "-o", "out", "--format", "png"])
    assert exit_info.value.code == 2
    assert "invalid choice: 'png'" in capsys.readouterr().err


def test_list_models(tiny_package_path, tmp_path, monkeypatch, capsys):
    import semiseg_zoo.inference.package as package_module

    shutil.copyfile(tiny_package_path, tmp_path / "tiny-nuclei-2d.zip")
    shutil.copyfile(tiny_package_path, tmp_path / f"{package_module.DEFAULT_MODEL}.zip")
    monkeypatch.setattr(package_module, "BUILTIN_DIR", tmp_path)
    assert main(["--list-models"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert out[0].startswith(f"{package_module.DEFAULT_MODEL} (default): Tiny 2D U-Net (test")
    assert out[1].startswith("tiny-nuclei-2d: Tiny 2D U-Net (test fixture)")
