"""The embedded default model: shipped, documented, and as good as its package says."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import semiseg_zoo
from semiseg_zoo.evaluation import instance_scores, mean_instance_scores
from semiseg_zoo.inference import DEFAULT_MODEL, list_builtin_models, load_model, load_package
from semiseg_zoo.inference.package import BUILTIN_DIR
from semiseg_zoo.io import read_image
from semiseg_zoo.spec import data_root
from semiseg_zoo.synthetic import synthetic_nuclei

MAX_PACKAGE_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def default_model():
    return load_model(device="cpu")


def test_default_model_is_builtin_small_and_documented():
    assert DEFAULT_MODEL in list_builtin_models()
    path = BUILTIN_DIR / f"{DEFAULT_MODEL}.zip"
    assert path.stat().st_size <= MAX_PACKAGE_BYTES
    config = load_package(DEFAULT_MODEL).semiseg_config
    assert config["kind"] == "teacher"
    assert config["postprocessing"]["method"] == "watershed"
    # The target, recorded from the training script's validation run.
    assert config["validation"]["ap50"] >= 0.80
    assert 0.0 < config["validation"]["f1_50"] <= 1.0


def test_default_model_runs_onnx_without_foreign_code(default_model):
    assert default_model.runner.weight_format == "onnx"
    assert default_model.package.builtin
    assert default_model.package.own_architecture


def test_demo_sample_image_is_segmented_well(default_model):
    # The shipped sample was made by synthetic_nuclei((512, 512), seed=2026).
    image = read_image(BUILTIN_DIR / "sample_nuclei.tif")
    expected_image, expected_labels = synthetic_nuclei((512, 512), seed=2026)
    np.testing.assert_array_equal(image.data, expected_image)
    labels = semiseg_zoo.segment(image.data, default_model)
    scores = instance_scores(labels, expected_labels)
    assert abs(int(labels.max()) - int(expected_labels.max())) <= 0.1 * expected_labels.max()
    assert scores["ap"] >= 0.85
    assert scores["f1"] >= 0.85


@pytest.mark.data
def test_default_model_on_dsb_validation_images(default_model):
    folder = data_root() / "dsb2018" / "val"
    if not folder.is_dir():
        pytest.skip(f"real data not found at {folder} (set SEMISEG_DATA)")
    names = sorted(p.name for p in (folder / "images").glob("*.tif"))[::6]  # 12 of 68
    pairs = []
    for name in names:
        image = tifffile.imread(folder / "images" / name)
        labels = tifffile.imread(folder / "labels" / name)
        pairs.append((semiseg_zoo.segment(image, default_model), labels))
    scores = mean_instance_scores(pairs)
    assert scores["ap"] >= 0.75
    assert scores["f1"] >= 0.70
