"""Built-in semi-supervised teachers (ACTIS, Inconsistency Masks): what their packages promise
and that they segment out of the box."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import semiseg_zoo
from semiseg_zoo.evaluation import instance_scores
from semiseg_zoo.inference import DEFAULT_MODEL, list_builtin_models, load_model
from semiseg_zoo.synthetic import synthetic_nuclei

MAX_PACKAGE_BYTES = 10 * 1024 * 1024
#: The paper each method's package must cite, by the tag that names the method.
METHOD_CITATIONS = {"actis": "ACTIS", "inconsistency-masks": "Inconsistency Masks"}
SEMI_SUPERVISED = [
    name for name in list_builtin_models() if name.startswith("teacher-") and name != DEFAULT_MODEL
]


def test_both_semi_supervised_methods_ship() -> None:
    assert {"teacher-nuclei-2d-actis", "teacher-nuclei-2d-im"} <= set(SEMI_SUPERVISED)


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_semi_supervised_teacher_package(name: str) -> None:
    model = load_model(name, weight_format="onnx", device="cpu")
    package = model.package
    assert package.source.stat().st_size <= MAX_PACKAGE_BYTES
    config = package.semiseg_config
    assert config["kind"] == "teacher"
    method = next(tag for tag in package.description.tags if tag in METHOD_CITATIONS)
    assert any(METHOD_CITATIONS[method] in cite.text for cite in package.description.cite)
    assert "semi-supervised" in package.description.tags
    # Tuned watershed thresholds and the validation they were tuned on.
    recipe = config["postprocessing"]
    assert recipe["method"] == "watershed"
    assert 0 < recipe["foreground_threshold"] < 1 and 0 < recipe["seed_threshold"] < 1
    assert config["validation"]["dataset"] == "dsb2018/val"
    assert config["validation"]["ap50"] >= 0.85
    # The package says what really trained it, labeled images included.
    assert "38 of the 338 training images with labels" in config["training_data"]

    with zipfile.ZipFile(package.source) as archive:
        test_input = np.load(io.BytesIO(archive.read("test_input.npy")))
        test_output = np.load(io.BytesIO(archive.read("test_output.npy")))
    output = model.predict(test_input[0, 0], axes="yx", tile=None)
    np.testing.assert_allclose(output, test_output[0], atol=1e-4)


@pytest.mark.parametrize("name", SEMI_SUPERVISED)
def test_semi_supervised_teacher_segments_synthetic_nuclei(name: str) -> None:
    image, expected = synthetic_nuclei((256, 256), seed=77)
    labels = semiseg_zoo.segment(image, load_model(name, device="cpu"))
    scores = instance_scores(labels, expected)
    assert scores["ap"] >= 0.9 and scores["f1"] >= 0.9
