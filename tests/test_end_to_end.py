"""End to end: train a tiny U-Net on synthetic nuclei -> export -> test_model -> semiseg-predict.

Training and export happen once per session in the ``tiny_package`` fixture (tests/conftest.py):
~80 steps of 64x64 patches on synthetic nuclei, best weights by mean AP@0.5 on two validation
images, then ``export_package`` (which itself runs test_model for all three weight formats).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tifffile

from semiseg_zoo.evaluation import instance_scores
from semiseg_zoo.synthetic import synthetic_nuclei


def _console_script() -> str | None:
    beside = Path(sys.executable).parent / "semiseg-predict"
    return str(beside) if beside.is_file() else shutil.which("semiseg-predict")


def test_train_export_test_model_and_predict_with_the_cli(tiny_package, tmp_path):
    from bioimageio.core import test_model

    # 1. training ran and validated: AP@0.5 logged every `validate_every` steps
    steps = tiny_package.spec.training.steps
    assert [entry["step"] for entry in tiny_package.history] == list(
        range(
            tiny_package.spec.training.validate_every,
            steps + 1,
            tiny_package.spec.training.validate_every,
        )
    )
    assert all(np.isfinite(entry["loss"]) for entry in tiny_package.history)
    assert tiny_package.history[-1]["loss"] < 0.5
    assert tiny_package.best_score >= 0.8

    # 2. the exported package passes bioimageio.core's test_model
    assert tiny_package.path.is_file()
    summary = test_model(str(tiny_package.path), weight_format="onnx")
    assert summary.status == "passed", [d.name for d in summary.details if d.status == "failed"]

    # 3. the console script segments a new synthetic image
    script = _console_script()
    if script is None:
        pytest.skip("semiseg-predict is not installed")
    image, truth = synthetic_nuclei((240, 300), seed=77)
    tifffile.imwrite(tmp_path / "cells.tif", image)
    result = subprocess.run(
        [
            script,
            str(tmp_path / "cells.tif"),
            "--model",
            str(tiny_package.path),
            "-o",
            str(tmp_path / "out"),
            "--device",
            "cpu",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    labels = tifffile.imread(tmp_path / "out" / "cells_instances.tif")
    assert labels.shape == image.shape

    n_true = int(truth.max())
    n_found = len(np.unique(labels[labels > 0]))
    assert n_true >= 30
    assert abs(n_found - n_true) <= 0.1 * n_true, (n_found, n_true)
    assert f"{n_found} objects" in result.stdout
    scores = instance_scores(labels.astype(np.uint32), truth)
    assert scores["ap"] >= 0.85 and scores["recall"] >= 0.85, scores
