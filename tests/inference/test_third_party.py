"""Third-party zoo packages (format 0.4 and 0.5) from ../shared/data/zoo_models: their test
outputs are reproduced within bioimageio.core's tolerances, and what cannot run says why."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from semiseg_zoo.inference import (
    PackageError,
    load_model,
    load_package,
    postprocessing_recipe,
    reproduce_test_outputs,
    run_tensors,
)
from semiseg_zoo.spec import data_root

ZOO_MODELS = data_root() / "zoo_models"
RUNNABLE = {
    "unet2d_fixed_shape": "v0_4.bioimageio.yaml",
    "unet2d_diff_output_shape": "bioimageio.yaml",
    "upsample_test_model": "v0_4.bioimageio.yaml",
    "unet2d_multi_tensor": "bioimageio.yaml",
}

pytestmark = [
    pytest.mark.data,
    pytest.mark.skipif(not ZOO_MODELS.is_dir(), reason=f"{ZOO_MODELS} is absent"),
]


def _rdf(name: str) -> Path:
    return ZOO_MODELS / name / RUNNABLE[name]


@pytest.mark.parametrize("name", sorted(RUNNABLE))
def test_test_outputs_are_reproduced_within_core_tolerance(name):
    package = load_package(_rdf(name))
    comparisons = reproduce_test_outputs(package, trust_code=True)
    assert len(comparisons) == len(package.description.outputs)
    for comparison in comparisons:
        assert comparison.passed, comparison
        assert comparison.mismatched_ppm == 0.0
        assert comparison.max_abs_difference < 1e-4


@pytest.mark.parametrize(
    ("name", "expected_shape"),
    [
        ("unet2d_fixed_shape", (1, 256, 256)),
        ("unet2d_diff_output_shape", (1, 128, 128)),
        ("upsample_test_model", (1, 40, 40)),
    ],
)
def test_images_are_predicted_like_the_test_output(name, expected_shape):
    model = load_model(_rdf(name), trust_code=True, device="cpu")
    image = np.load(ZOO_MODELS / name / "test_input.npy")[0, 0]
    expected = np.load(ZOO_MODELS / name / "test_output.npy")[0]
    probabilities = model.predict(image)
    assert probabilities.shape == expected_shape
    np.testing.assert_allclose(probabilities, expected, atol=1e-4)


def test_fixed_shape_model_tiles_a_larger_image_with_its_04_halo():
    model = load_model(_rdf("unet2d_fixed_shape"), trust_code=True, device="cpu")
    assert model.rule.minimum == (256, 256) and model.rule.step == (0, 0)
    assert model.rule.halo == (8, 8)  # the 0.4 halo that format 0.5 cannot hold there
    image = np.random.default_rng(0).random((300, 400)).astype(np.float32)
    assert model.predict(image).shape == (1, 300, 400)


def test_multi_tensor_package_runs_on_tensors_and_explains_why_not_on_images():
    package = load_package(_rdf("unet2d_multi_tensor"))
    inputs = {
        f"input{i}": np.load(ZOO_MODELS / "unet2d_multi_tensor" / f"test_input_{i}.npy")
        for i in (0, 1)
    }
    outputs = run_tensors(package, inputs, device="cpu")  # torchscript: no code runs
    for i in (0, 1):
        expected = np.load(ZOO_MODELS / "unet2d_multi_tensor" / f"test_output_{i}.npy")
        np.testing.assert_allclose(outputs[f"output{i}"], expected, atol=1e-4)
    with pytest.raises(PackageError, match=r"2 inputs \(\['input0', 'input1'\]\).*run_tensors"):
        load_model(package, device="cpu")
    with pytest.raises(ValueError, match=r"missing \['input1'\]"):
        run_tensors(package, {"input0": inputs["input0"]}, device="cpu")


def test_state_dict_only_packages_need_trust_code():
    with pytest.raises(PackageError, match=r"would run foreign code; pass --trust-code"):
        load_model(_rdf("unet2d_diff_output_shape"), device="cpu")


def test_third_party_outputs_without_a_recipe_say_why():
    model = load_model(_rdf("unet2d_diff_output_shape"), trust_code=True, device="cpu")
    recipe, reason = postprocessing_recipe(model.package, model.output_channel_names)
    assert recipe is None
    assert "channels ['channel0']" in reason


@pytest.mark.parametrize(
    ("relative", "formats"),
    [
        ("unet2d_keras_tf/v0_4.bioimageio.yaml", r"\['keras_hdf5'\]"),
        (
            "unet2d_keras_tf2/v0_4.bioimageio.yaml",
            r"\['keras_hdf5', 'tensorflow_saved_model_bundle'\]",
        ),
        (
            "stardist_example_model/rdf_wrong_shape_v0_4.yaml",
            r"\['tensorflow_saved_model_bundle'\]",
        ),
    ],
)
def test_tensorflow_packages_fail_naming_their_formats(relative, formats):
    with pytest.raises(
        PackageError, match=rf"no weights this tool can run; the package has {formats}"
    ):
        load_model(ZOO_MODELS / relative, device="cpu")


def test_invalid_stardist_description_still_names_its_weights():
    with pytest.raises(
        PackageError,
        match=r"invalid model description: cite.*declares \['tensorflow_saved_model_bundle'\] "
        r"weights; semiseg-zoo runs onnx",
    ):
        load_package(ZOO_MODELS / "stardist_example_model" / "v0_4.bioimageio.yaml")


# --- packages whose files contradict their description ---------------------------------------


@pytest.fixture
def diff_output_copy(tmp_path) -> Path:
    folder = tmp_path / "copy"
    shutil.copytree(ZOO_MODELS / "unet2d_diff_output_shape", folder)
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


def _edit(folder: Path, edit) -> Path:
    rdf_path = folder / "bioimageio.yaml"
    rdf = yaml.safe_load(rdf_path.read_text())
    edit(rdf)
    rdf_path.write_text(yaml.safe_dump(rdf, sort_keys=False))
    return rdf_path


def test_declared_output_shape_contradicting_the_test_output_is_refused(diff_output_copy):
    def scale_four(rdf):
        for axis in rdf["outputs"][0]["axes"][2:]:
            axis["scale"] = 4.0

    rdf_path = _edit(diff_output_copy, scale_four)
    with pytest.raises(
        PackageError, match=r"contradict its description.*axis 'y' of size \{128\}.*expected 64"
    ):
        load_model(rdf_path, trust_code=True, device="cpu")


def test_declared_input_sizes_contradicting_the_test_input_are_refused(diff_output_copy):
    def odd_step(rdf):
        for axis in rdf["inputs"][0]["axes"][2:]:
            axis["size"] = {"min": 32, "step": 20}

    rdf_path = _edit(diff_output_copy, odd_step)
    with pytest.raises(PackageError, match=r"contradict its description"):
        load_model(rdf_path, trust_code=True, device="cpu")


def test_weights_that_do_not_match_their_sha256_are_refused(diff_output_copy):
    weights = diff_output_copy / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[-100] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"weights\.pt"):
        load_model(diff_output_copy / "bioimageio.yaml", trust_code=True, device="cpu")


def test_missing_weights_name_the_formats_present(diff_output_copy):
    (diff_output_copy / "weights.pt").unlink()
    with pytest.raises(
        PackageError, match=r"weights missing from the package: pytorch_state_dict \(weights\.pt\)"
    ):
        load_model(diff_output_copy / "bioimageio.yaml", trust_code=True, device="cpu")


def test_a_folder_with_a_versioned_rdf_name_is_a_package():
    package = load_package(ZOO_MODELS / "unet2d_fixed_shape")
    assert package.source.name == "v0_4.bioimageio.yaml"
    assert package.name == "Fixed-shape"
