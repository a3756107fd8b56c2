"""Built-in enhancer packages: the contract ilastik and semiseg-enhance rely on."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from semiseg_zoo.features import FeatureSet
from semiseg_zoo.inference import list_builtin_models, load_model

ENHANCERS = [name for name in list_builtin_models() if name.startswith("enhancer-")]


def test_the_three_enhancers_of_the_issue_ship() -> None:
    assert {"enhancer-boundaries-em", "enhancer-mito-em", "enhancer-nuclei-lm"} <= set(ENHANCERS)


@pytest.mark.parametrize("name", ENHANCERS)
def test_builtin_enhancer_contract(name: str) -> None:
    model = load_model(name, weight_format="onnx", device="cpu")
    package = model.package
    config = package.semiseg_config
    assert config["kind"] == "enhancer" and "shallow2deep" in package.description.tags
    FeatureSet.from_dict(config["features"])  # the feature set a user must reproduce
    assert config["training_source"]["raw"]
    assert config["postprocessing"]["method"] in ("threshold", "distance_watershed")
    # It beat the forest alone on its held-out source images (the number it was shipped with).
    validation = config["validation"]
    if "vi" in validation:
        assert validation["vi"] < validation["rf_vi"]
    else:
        assert validation["f1"] > validation["rf_f1"]
    assert package.description.inputs[0].preprocessing in ([],) or all(
        step.id == "ensure_dtype" for step in package.description.inputs[0].preprocessing
    )
    with zipfile.ZipFile(package.source) as archive:
        test_input = np.load(io.BytesIO(archive.read("test_input.npy")))
        test_output = np.load(io.BytesIO(archive.read("test_output.npy")))
    assert 0 <= test_input.min() and test_input.max() <= 1 and test_input.std() > 0.05
    output = model.predict(test_input[0, 0], axes="yx", tile=None)
    np.testing.assert_allclose(output, test_output[0], atol=1e-4)
