"""export_package: package contents, rdf layout, test_model per weight format, round trip."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from semiseg_zoo.export import WEIGHT_FORMATS, export_package
from semiseg_zoo.inference import load_package, make_runner
from semiseg_zoo.inference.processing import apply_steps
from semiseg_zoo.nets import UNet2d
from semiseg_zoo.spec import parse_spec
from semiseg_zoo.synthetic import synthetic_nuclei

EXPECTED_FILES = {
    "rdf.yaml",
    "weights.pt",
    "weights_torchscript.pt",
    "weights.onnx",
    "unet.py",
    "test_input.npy",
    "test_output.npy",
    "cover.png",
    "README.md",
}


def _read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read(name)


def _rdf(path: Path) -> dict:
    return yaml.safe_load(_read(path, "rdf.yaml"))


def _npy(path: Path, name: str) -> np.ndarray:
    return np.load(io.BytesIO(_read(path, name)))


def _untrained(spec) -> UNet2d:
    import torch

    torch.manual_seed(1)
    return UNet2d(**spec.architecture.kwargs)


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return synthetic_nuclei((128, 128), seed=7)[0]


# --- contents and layout ---------------------------------------------------------------------


def test_zip_holds_every_package_file(tiny_package_path):
    with zipfile.ZipFile(tiny_package_path) as archive:
        names = set(archive.namelist())
        assert archive.testzip() is None
    assert EXPECTED_FILES <= names, f"missing: {EXPECTED_FILES - names}"


def test_readme_has_validation_section_with_metrics(tiny_package):
    readme = _read(tiny_package.path, "README.md").decode()
    assert readme.startswith("# tiny-nuclei-2d")
    assert "\n## Validation\n" in readme
    validation = readme.split("## Validation", 1)[1].split("\n## ", 1)[0]
    assert f"| ap50 | {tiny_package.validation['ap50']} |" in validation
    assert "| n_images | 2 |" in validation


def test_rdf_is_legacy_0_5_9_with_plain_string_documentation_and_covers(tiny_package_path):
    rdf = _rdf(tiny_package_path)
    assert rdf["format_version"] == "0.5.9"
    assert rdf["type"] == "model"
    assert rdf["documentation"] == "README.md"
    assert rdf["covers"] == ["cover.png"]
    assert all(isinstance(cover, str) for cover in rdf["covers"])


def test_rdf_has_exactly_one_preprocessing_step_scale_range(tiny_package_path, tiny_spec):
    rdf = _rdf(tiny_package_path)
    (tensor,) = rdf["inputs"]
    assert len(tensor["preprocessing"]) == 1
    (step,) = tensor["preprocessing"]
    assert step["id"] == "scale_range"
    assert step["kwargs"]["axes"] == ["y", "x"]
    assert step["kwargs"]["min_percentile"] == tiny_spec.input.preprocessing.min_percentile
    assert step["kwargs"]["max_percentile"] == tiny_spec.input.preprocessing.max_percentile
    # no ensure_dtype steps on either side
    assert rdf["outputs"][0].get("postprocessing", []) == []


def test_rdf_axes_sizes_and_halo_follow_the_spec(tiny_package_path):
    rdf = _rdf(tiny_package_path)
    spatial_in = [a for a in rdf["inputs"][0]["axes"] if a["type"] == "space"]
    assert [(a["id"], a["size"]["min"], a["size"]["step"]) for a in spatial_in] == [
        ("y", 64, 4),
        ("x", 64, 4),
    ]
    spatial_out = [a for a in rdf["outputs"][0]["axes"] if a["type"] == "space"]
    assert [(a["id"], a["halo"]) for a in spatial_out] == [("y", 24), ("x", 24)]
    channels = next(a for a in rdf["outputs"][0]["axes"] if a["type"] == "channel")
    assert channels["channel_names"] == ["background", "interior", "boundary"]


def test_onnx_weights_use_opset_17(tiny_package_path):
    import onnx

    model = onnx.load_model_from_string(_read(tiny_package_path, "weights.onnx"))
    default_domain = [op.version for op in model.opset_import if op.domain in ("", "ai.onnx")]
    assert default_domain == [17]
    assert _rdf(tiny_package_path)["weights"]["onnx"]["opset_version"] == 17
    # batch and spatial axes are dynamic
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 1, "dim2", "dim3"]


def test_config_semiseg_has_kind_postprocessing_and_validation(tiny_package, tiny_recipe):
    config = _rdf(tiny_package.path)["config"]["semiseg"]
    assert config["kind"] == "teacher"
    assert config["postprocessing"] == tiny_recipe
    assert config["validation"] == tiny_package.validation
    assert config["spec"]["name"] == "tiny-nuclei-2d"


def test_test_tensors_are_the_cropped_sample_and_probabilities(tiny_package_path, sample):
    test_input = _npy(tiny_package_path, "test_input.npy")
    test_output = _npy(tiny_package_path, "test_output.npy")
    assert test_input.shape == (1, 1, 128, 128)
    assert test_input.dtype == np.float32
    np.testing.assert_array_equal(test_input[0, 0], sample.astype(np.float32))
    assert test_output.shape == (1, 3, 128, 128)
    # softmax output: channels sum to one
    np.testing.assert_allclose(test_output.sum(axis=1), 1.0, atol=1e-5)


def test_state_dict_loads_with_weights_only(tiny_package_path, tiny_spec):
    import torch

    state = torch.load(io.BytesIO(_read(tiny_package_path, "weights.pt")), weights_only=True)
    net = UNet2d(**tiny_spec.architecture.kwargs)
    assert net.load_state_dict(state).missing_keys == []


@pytest.mark.parametrize("weight_format", WEIGHT_FORMATS)
def test_package_passes_bioimageio_test_model(tiny_package_path, weight_format):
    from bioimageio.core import test_model

    summary = test_model(str(tiny_package_path), weight_format=weight_format)
    failed = [d.name for d in summary.details if d.status == "failed"]
    assert summary.status == "passed", failed


# --- round trip -------------------------------------------------------------------------------


def test_round_trip_spec_equals_the_exported_spec(tiny_package_path, tiny_spec):
    package = load_package(tiny_package_path)
    assert parse_spec(package.semiseg_config["spec"]) == tiny_spec
    assert package.own_architecture
    assert package.weight_formats == ["onnx", "torchscript", "pytorch_state_dict"]


@pytest.mark.parametrize("weight_format", ["onnx", "torchscript", "pytorch_state_dict"])
def test_round_trip_runners_reproduce_the_test_output(tiny_package_path, weight_format):
    package = load_package(tiny_package_path)
    test_input = _npy(tiny_package_path, "test_input.npy")
    expected = _npy(tiny_package_path, "test_output.npy")
    normalised = apply_steps(test_input, package.description.inputs[0].preprocessing, "bcyx")
    runner = make_runner(package, weight_format=weight_format, device="cpu")
    assert runner.weight_format == weight_format
    output = runner(normalised)
    assert output.shape == expected.shape
    np.testing.assert_allclose(output, expected, atol=1e-5, rtol=0)


# --- bad arguments ----------------------------------------------------------------------------


def test_refuses_to_overwrite_an_existing_path(tiny_package_path, tiny_spec, sample, tmp_path):
    target = tmp_path / "existing.zip"
    shutil.copyfile(tiny_package_path, target)
    before = target.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        export_package(_untrained(tiny_spec), tiny_spec, sample_input=sample, output_path=target)
    assert target.read_bytes() == before


def test_overwrite_true_replaces_the_package(tiny_package_path, tiny_spec, sample, tmp_path):
    target = tmp_path / "existing.zip"
    shutil.copyfile(tiny_package_path, target)
    result = export_package(
        _untrained(tiny_spec),
        tiny_spec,
        sample_input=sample,
        output_path=target,
        validation={"ap50": 0.125},
        overwrite=True,
        test_formats=(),
    )
    assert result == target
    config = _rdf(target)["config"]["semiseg"]
    assert config["validation"] == {"ap50": 0.125}
    # without an explicit recipe the spec's post-processing is recorded
    assert config["postprocessing"] == tiny_spec.postprocessing.model_dump()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.zip"]


def test_channel_first_sample_is_cropped_to_a_valid_shape(tiny_spec, tmp_path):
    image = synthetic_nuclei((133, 150), seed=3)[0]
    target = export_package(
        _untrained(tiny_spec),
        tiny_spec,
        sample_input=image[None],
        output_path=tmp_path / "cropped.zip",
        test_formats=(),
    )
    test_input = _npy(target, "test_input.npy")
    # 64 + 4n <= (133, 150) -> (132, 148)
    assert test_input.shape == (1, 1, 132, 148)
    np.testing.assert_array_equal(test_input[0, 0], image[:132, :148])


@pytest.mark.parametrize(
    "shape",
    [(128,), (2, 128, 128), (1, 1, 128, 128), (128, 128, 3)],
    ids=["1d", "two-channels", "4d", "rgb"],
)
def test_bad_sample_input_shape_is_a_value_error(tiny_spec, tmp_path, shape):
    target = tmp_path / "bad.zip"
    with pytest.raises(ValueError, match=r"`sample_input` has shape .*expected \(1, Y, X\)"):
        export_package(
            _untrained(tiny_spec),
            tiny_spec,
            sample_input=np.zeros(shape, dtype=np.uint8),
            output_path=target,
        )
    assert not target.exists()


def test_min_shape_larger_than_the_sample_is_a_value_error(tiny_spec, sample, tmp_path):
    data = tiny_spec.model_dump(mode="json")
    data["input"]["min_shape"] = [192, 192]
    data["tile"] = [256, 256]
    big = parse_spec(data)
    target = tmp_path / "big.zip"
    with pytest.raises(ValueError, match=r"every axis needs at least \[192, 192\]"):
        export_package(_untrained(big), big, sample_input=sample, output_path=target)
    assert not target.exists()


def test_sample_smaller_than_min_shape_is_a_value_error(tiny_spec, tmp_path):
    small = synthetic_nuclei((64, 48), seed=1)[0]
    with pytest.raises(ValueError, match=r"spatial shape \(64, 48\).*\[64, 64\]"):
        export_package(
            _untrained(tiny_spec), tiny_spec, sample_input=small, output_path=tmp_path / "s.zip"
        )


def test_output_path_must_end_in_zip(tiny_spec, sample, tmp_path):
    with pytest.raises(ValueError, match=r"must end in \.zip"):
        export_package(
            _untrained(tiny_spec), tiny_spec, sample_input=sample, output_path=tmp_path / "p.tar"
        )
