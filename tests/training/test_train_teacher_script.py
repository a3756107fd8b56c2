"""``training/train_teacher.py`` in its three modes on tiny synthetic data (slow: trains and
exports packages that bioimageio.core tests)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from semiseg_zoo.synthetic import synthetic_nuclei

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train_teacher.py"


def _write_split(folder: Path, seeds: range) -> None:
    (folder / "images").mkdir(parents=True)
    (folder / "labels").mkdir()
    for seed in seeds:
        image, labels = synthetic_nuclei((96, 96), n_objects=8, radius=(5.0, 9.0), seed=seed)
        tifffile.imwrite(folder / "images" / f"im{seed}.tif", image)
        tifffile.imwrite(folder / "labels" / f"im{seed}.tif", labels.astype(np.uint16))


def _spec(tmp_path: Path, mode: str) -> Path:
    spec = yaml.safe_load((REPO / "model_specs" / "teacher_nuclei_2d_actis.yaml").read_text())
    spec["name"] = f"tiny-{mode}"
    spec["architecture"]["kwargs"].update(depth=2, base_features=4)
    spec["input"].update(min_shape=[32, 32], step=[2, 2])
    spec["output"]["halo"] = [8, 8]
    spec["tile"] = [128, 128]
    training = spec["training"]
    training.update(
        mode=mode, train="data/train", val="data/val", labeled_images=2, tune_images=1,
        patch_shape=[32, 32],
        batch_size=4, steps=6, validate_every=3, seed_thresholds=[0.5],
        foreground_thresholds=[0.5],
    )  # fmt: skip
    training["actis"].update(
        steps=6, labeled_per_batch=2, unlabeled_per_batch=2, teacher_update_every=2,
        validate_every=3,
    )  # fmt: skip
    if mode == "inconsistency":
        del training["actis"]
        training["inconsistency"] = {"generations": 1, "width_growth": 1.5}
    path = tmp_path / f"{mode}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["actis", "inconsistency"])
def test_semi_supervised_modes_train_and_export(tmp_path: Path, mode: str) -> None:
    _write_split(tmp_path / "data" / "train", range(5))
    _write_split(tmp_path / "data" / "val", range(100, 102))
    output = tmp_path / "run" / f"tiny-{mode}.zip"
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--spec", str(_spec(tmp_path, mode)), "--output",
         str(output), "--run-dir", str(tmp_path / "work"), "--data-root", str(tmp_path),
         "--device", "cpu", "--threads", "1"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert (
        f"mode {mode}: 2 labeled, 2 unlabeled, 1 tuning (held out of data/train) and 2 "
        "validation images" in completed.stdout
    )
    assert sorted(p.name for p in output.parent.iterdir()) == [output.name]  # only the package
    validation = json.loads((tmp_path / "work" / "validation.json").read_text())
    assert validation["validation"]["n_images"] == 2
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    assert rdf["config"]["semiseg"]["kind"] == "teacher"
    training = rdf["config"]["semiseg"]["training"]
    assert training["device"] == "cpu" and training["precision"] == "bfloat16"
    assert training["steps"] == (12 if mode == "actis" else 6 * 2 + 6 * 2)
    assert 0 <= training["data_share"] < 1 and training["s_per_step"] > 0
    assert all(stage["validation_curve"] for stage in training["stages"])
    if mode == "actis":
        assert "step 6/6" in completed.stdout and "thresholds" in completed.stdout
        assert [entry["step"] for entry in validation["history"]] == [0, 3, 6]
    else:
        assert "generation 1: kept" in completed.stdout
        assert validation["history"][0]["unlabeled"] == 2
        # IM+ width growth: the exported student has 1.5x the base features.
        kwargs = rdf["weights"]["pytorch_state_dict"]["architecture"]["kwargs"]
        assert kwargs["base_features"] == 6


def test_an_existing_package_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    output = tmp_path / "model.zip"
    output.write_bytes(b"an earlier run's package")
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--spec", str(_spec(tmp_path, "actis")), "--output",
         str(output), "--run-dir", str(tmp_path / "work"), "--data-root", str(tmp_path / "none")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode != 0
    assert f"{output} exists; pass --overwrite" in completed.stderr
    assert output.read_bytes() == b"an earlier run's package"
    assert not (tmp_path / "work").exists()  # stopped before any training
