"""semiseg-evaluate: folder matching, table and JSON output, errors and exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import tifffile

from semiseg_zoo.cli.evaluate import METRICS_HELP, image_stem, main
from semiseg_zoo.evaluation import METRIC_GROUPS, METRICS

from ..evaluation.helpers import hand_groundtruth, hand_prediction

# The hand pair's scores (tests/evaluation): ap50 0.5, ap_10_90 3.25/9, f1 2/3, s_dsb 0.5,
# dsb_map 0.21, sbd 0.54296, abs_dic 2, vi_split 0.89308, vi_merge 0, are 174/626.
HAND = {"ap50": 0.5, "ap_10_90": 3.25 / 9, "abs_dic": 2.0, "are": 174 / 626}


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "semiseg-evaluate"
    return str(beside) if beside.is_file() else shutil.which("semiseg-evaluate")


SCRIPT = _console_script()
needs_script = pytest.mark.skipif(SCRIPT is None, reason="semiseg-evaluate is not installed")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert SCRIPT is not None
    return subprocess.run(
        [SCRIPT, *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """pred/ as semiseg-predict writes it (with a probability map) and gt/, two images each.

    alpha: the hand pair; beta: a perfect prediction with other ids.
    """
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir()
    gt.mkdir()
    tifffile.imwrite(gt / "alpha.tif", hand_groundtruth())
    tifffile.imwrite(pred / "alpha_instances.tif", hand_prediction().astype(np.uint16))
    tifffile.imwrite(gt / "beta.tif", hand_groundtruth())
    tifffile.imwrite(pred / "beta_instances.tif", hand_groundtruth() * 3)
    tifffile.imwrite(
        pred / "beta_probabilities.tif",
        np.zeros((3, 4, 10), dtype=np.float32),
        photometric="minisblack",
    )
    return pred, gt


def _table(stdout: str) -> dict[str, dict[str, float]]:
    """Parse the printed table into {row label: {metric: value}}."""
    lines = [line for line in stdout.splitlines() if line and not line.startswith("-")]
    header = lines[0].split()
    assert header[0] == "image"
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        if len(cells) != len(header):
            continue  # e.g. the "scores ... -> file" line
        rows[cells[0]] = {m: float(v) for m, v in zip(header[1:], cells[1:], strict=True)}
    return rows


def _one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("semiseg-evaluate: error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_folders_matched_by_stem_with_instances_suffix(folders, capsys) -> None:
    pred, gt = folders
    assert main([str(pred), str(gt)]) == 0
    out = capsys.readouterr()
    assert out.err == ""
    table = _table(out.out)
    assert list(table) == ["alpha", "beta", "mean"]
    assert list(table["alpha"]) == list(METRICS)
    for metric, value in HAND.items():
        assert table["alpha"][metric] == pytest.approx(value, abs=5e-5)
    assert table["beta"]["ap50"] == 1.0
    assert table["beta"]["vi_split"] == 0.0
    assert table["mean"]["ap50"] == 0.75
    assert table["mean"]["abs_dic"] == 1.0
    assert "0.3611" in out.out  # ap_10_90 of alpha, 3.25 / 9
    assert out.out.splitlines()[-1].startswith("mean ")


def test_json_output(folders, tmp_path, capsys) -> None:
    pred, gt = folders
    target = tmp_path / "results" / "scores.json"
    assert main([str(pred), str(gt), "--json", str(target), "--metrics", "instance", "are"]) == 0
    assert f"-> {target}" in capsys.readouterr().out
    content = json.loads(target.read_text())
    metrics = [*METRIC_GROUPS["instance"], "are"]
    assert content["metrics"] == metrics
    assert content["n_images"] == 2
    alpha, beta = content["images"]
    assert alpha["name"] == "alpha"
    assert alpha["prediction"] == str(pred / "alpha_instances.tif")
    assert alpha["groundtruth"] == str(gt / "alpha.tif")
    assert {m: alpha[m] for m in HAND if m in metrics} == pytest.approx(
        {"ap50": 0.5, "ap_10_90": 3.25 / 9, "are": 174 / 626}
    )
    assert {m: beta[m] for m in metrics} == pytest.approx({**dict.fromkeys(metrics, 1.0), "are": 0})
    assert content["mean"]["ap50"] == 0.75
    assert content["mean"]["are"] == pytest.approx(87 / 626)
    assert [p.name for p in target.parent.iterdir()] == ["scores.json"]  # no temporary left


def test_existing_json_needs_overwrite(folders, tmp_path, capsys) -> None:
    pred, gt = folders
    target = tmp_path / "scores.json"
    target.write_text("keep me")
    assert main([str(pred), str(gt), "--json", str(target)]) == 2
    assert "exists; use --overwrite" in _one_line_error(capsys.readouterr().err)
    assert target.read_text() == "keep me"
    assert main([str(pred), str(gt), "--json", str(target), "--overwrite"]) == 0
    assert json.loads(target.read_text())["n_images"] == 2


def test_selected_metrics_only(folders, capsys) -> None:
    pred, gt = folders
    assert main([str(pred), str(gt), "--metrics", "em"]) == 0
    table = _table(capsys.readouterr().out)
    assert list(table["alpha"]) == ["vi_split", "vi_merge", "are"]
    assert table["alpha"]["vi_merge"] == 0.0
    assert table["alpha"]["vi_split"] == pytest.approx(0.8931, abs=5e-5)


def test_two_files(folders, capsys) -> None:
    pred, gt = folders
    args = [str(pred / "alpha_instances.tif"), str(gt / "alpha.tif"), "--metrics", "cvppp"]
    assert main(args) == 0
    table = _table(capsys.readouterr().out)
    assert list(table) == ["alpha", "mean"]
    assert table["alpha"] == pytest.approx({"sbd": 0.5430, "abs_dic": 2.0})


def test_key_is_used_for_h5_only(folders, tmp_path, capsys) -> None:
    pred, _ = folders
    gt = tmp_path / "gt.h5"
    with h5py.File(gt, "w") as f:
        f["raw"] = np.zeros((4, 10), dtype=np.uint8)
        f["labels"] = hand_groundtruth()
    args = [str(pred / "alpha_instances.tif"), str(gt), "--key", "labels", "--metrics", "ap50"]
    assert main(args) == 0
    assert _table(capsys.readouterr().out)["alpha"] == {"ap50": 0.5}


def test_unmatched_stems_are_listed(folders, capsys) -> None:
    pred, gt = folders
    tifffile.imwrite(pred / "gamma_instances.tif", hand_groundtruth())
    tifffile.imwrite(gt / "delta.tif", hand_groundtruth())
    assert main([str(pred), str(gt)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "unmatched images" in line
    assert f"predictions without ground truth in {gt}: gamma_instances.tif" in line
    assert f"ground truth without prediction in {pred}: delta.tif" in line


def test_no_images_in_folder(folders, tmp_path, capsys) -> None:
    pred, _ = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    assert main([str(pred), str(empty)]) == 2
    assert f"no label images in {empty}" in _one_line_error(capsys.readouterr().err)


def test_missing_input(folders, tmp_path, capsys) -> None:
    pred, _ = folders
    assert main([str(pred), str(tmp_path / "nope")]) == 2
    assert f"GT {tmp_path / 'nope'} does not exist" in _one_line_error(capsys.readouterr().err)


def test_file_and_folder_mixed(folders, capsys) -> None:
    pred, gt = folders
    assert main([str(pred / "alpha_instances.tif"), str(gt)]) == 2
    assert "give two files or two folders" in _one_line_error(capsys.readouterr().err)


def test_unknown_metric(folders, capsys) -> None:
    pred, gt = folders
    assert main([str(pred), str(gt), "--metrics", "ap75"]) == 2
    assert "unknown metric 'ap75'" in _one_line_error(capsys.readouterr().err)


def test_shape_mismatch_names_both_files(folders, capsys) -> None:
    pred, gt = folders
    tifffile.imwrite(gt / "beta.tif", np.zeros((5, 10), dtype=np.uint16))
    assert main([str(pred), str(gt)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert f"{pred / 'beta_instances.tif'} vs {gt / 'beta.tif'}" in line
    assert "`prediction` has shape (4, 10) but `groundtruth` has (5, 10)" in line


def test_float_labels_are_a_type_error_naming_the_files(folders, capsys) -> None:
    pred, gt = folders
    tifffile.imwrite(pred / "beta_instances.tif", np.zeros((4, 10), dtype=np.float32))
    assert main([str(pred), str(gt)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert str(pred / "beta_instances.tif") in line
    assert "`prediction` has dtype float32 but a label image holds integer object ids" in line


def test_unreadable_file(folders, capsys) -> None:
    pred, gt = folders
    (gt / "alpha.tif").write_bytes(b"II*\x00" + np.random.default_rng(0).bytes(300))
    assert main([str(pred), str(gt)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert f"Cannot read image {gt / 'alpha.tif'}" in line


def test_label_image_with_channels(folders, capsys) -> None:
    pred, gt = folders
    rgb = np.zeros((4, 10, 3), dtype=np.uint8)
    tifffile.imwrite(gt / "alpha.tif", rgb, photometric="rgb")
    assert main([str(pred), str(gt)]) == 1
    line = _one_line_error(capsys.readouterr().err)
    assert f"Cannot read image {gt / 'alpha.tif'}: it has axes 'yxc'" in line


def test_duplicate_stems(folders, capsys) -> None:
    pred, gt = folders
    tifffile.imwrite(pred / "alpha.tif", hand_prediction().astype(np.uint16))
    assert main([str(pred), str(gt)]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "two images with stem 'alpha': alpha.tif and alpha_instances.tif" in line


@pytest.mark.parametrize(
    ("name", "stem"),
    [
        ("a_instances.tif", "a"),
        ("a.ome.tif", "a"),
        ("a_instances.ome.zarr", "a"),
        ("a_instances_instances.png", "a_instances"),
        ("instances.tif", "instances"),
    ],
)
def test_image_stem(name: str, stem: str) -> None:
    assert image_stem(Path(name)) == stem


def test_help_lists_every_metric() -> None:
    for group, names in METRIC_GROUPS.items():
        assert group in METRICS_HELP
        for name in names:
            assert f" {name} " in METRICS_HELP


# --- console script in a subprocess ----------------------------------------------------------


@needs_script
def test_console_script_end_to_end(folders, tmp_path) -> None:
    pred, gt = folders
    result = _run(str(pred), str(gt), "--json", "out.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert _table(result.stdout)["mean"]["ap50"] == 0.75
    assert json.loads((tmp_path / "out.json").read_text())["mean"]["ap50"] == 0.75


@needs_script
def test_console_script_errors_without_traceback(folders, tmp_path) -> None:
    pred, gt = folders
    tifffile.imwrite(gt / "beta.tif", np.zeros((5, 10), dtype=np.uint16))
    result = _run(str(pred), str(gt), cwd=tmp_path)
    assert result.returncode == 1
    assert "(5, 10)" in _one_line_error(result.stderr)
    result = _run(str(pred), cwd=tmp_path)  # argparse usage error
    assert result.returncode == 2
    assert "the following arguments are required: GT" in result.stderr


@needs_script
def test_help(tmp_path) -> None:
    result = _run("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: semiseg-evaluate")
    for option in ("--json", "--metrics", "--key", "--overwrite", "ap_10_90", "vi_split"):
        assert option in result.stdout
    assert result.stderr == ""
