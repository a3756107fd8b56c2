"""Our inference path (processing + runners + Model.predict) against bioimageio.core's."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from bioimageio.core import create_prediction_pipeline
from bioimageio.core import predict as core_predict
from bioimageio.core.digest_spec import create_sample_for_model, get_test_input_sample

from semiseg_zoo.inference import load_model, load_package
from semiseg_zoo.inference.processing import apply_steps
from semiseg_zoo.synthetic import synthetic_nuclei

FORMATS = ["onnx", "torchscript"]
HALO = 24


@pytest.fixture(scope="module")
def package(tiny_package_path):
    return load_package(tiny_package_path)


@pytest.fixture(scope="module")
def test_tensors(tiny_package_path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(tiny_package_path) as archive:
        test_input = np.load(io.BytesIO(archive.read("test_input.npy")))
        test_output = np.load(io.BytesIO(archive.read("test_output.npy")))
    return test_input, test_output


def _array(sample, member: str) -> np.ndarray:
    return np.asarray(sample.members[member].data)


def _core_sample(pipeline, array: np.ndarray):
    return create_sample_for_model(pipeline.model_descr, inputs={"input": array}, sample_id="s")


def _symmetric_pad(image: np.ndarray, halo: int) -> np.ndarray:
    return np.pad(image, [(0, 0), (halo, halo), (halo, halo)], mode="symmetric")


@pytest.mark.parametrize("weight_format", FORMATS)
def test_model_predict_equals_core_on_the_test_input(package, test_tensors, weight_format):
    """The comparison test_model makes: whole test input, no halo padding or cropping."""
    test_input, test_output = test_tensors
    pipeline = create_prediction_pipeline(package.description, weights_format=weight_format)
    with pipeline:
        core = pipeline.predict_sample_without_blocking(
            get_test_input_sample(package.description),
            skip_input_padding=True,
            skip_output_cropping=True,
        )
    core_output = _array(core, "output")[0]
    model = load_model(package, weight_format=weight_format, device="cpu")
    ours = model.predict(test_input[0], tile=None)
    assert ours.shape == core_output.shape == (3, 128, 128)
    np.testing.assert_allclose(ours, core_output, atol=1e-4, rtol=0)
    np.testing.assert_allclose(ours, test_output[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("weight_format", FORMATS)
def test_core_default_predict_is_ours_on_a_halo_padded_image(package, test_tensors, weight_format):
    """bioimageio.core.predict pads the raw input symmetrically by the output halo, normalises,
    predicts and crops the halo; doing the same around Model.predict reproduces it."""
    test_input, _ = test_tensors
    pipeline = create_prediction_pipeline(package.description, weights_format=weight_format)
    core_output = _array(core_predict(model=pipeline, inputs=test_input), "output")[0]
    model = load_model(package, weight_format=weight_format, device="cpu")
    padded = model.predict(_symmetric_pad(test_input[0], HALO), tile=None)
    ours = padded[:, HALO:-HALO, HALO:-HALO]
    np.testing.assert_allclose(ours, core_output, atol=1e-4, rtol=0)
    # away from the image border, padding makes no difference
    plain = model.predict(test_input[0], tile=None)
    inner = (slice(None), slice(HALO, -HALO), slice(HALO, -HALO))
    np.testing.assert_allclose(plain[inner], core_output[inner], atol=1e-4, rtol=0)


def test_our_tiling_equals_core_blockwise_prediction(package):
    image = synthetic_nuclei((200, 236), seed=3)[0]
    pipeline = create_prediction_pipeline(package.description, weights_format="onnx")
    core_output = _array(
        core_predict(
            model=pipeline, inputs=image[None, None].astype(np.float32), blocksize_parameter=1
        ),
        "output",
    )[0]
    model = load_model(package, weight_format="onnx", device="cpu")
    padded = model.predict(_symmetric_pad(image[None].astype(np.float32), HALO), tile=(96, 96))
    ours = padded[:, HALO:-HALO, HALO:-HALO]
    assert ours.shape == core_output.shape == (3, 200, 236)
    np.testing.assert_allclose(ours, core_output, atol=1e-4, rtol=0)


@pytest.mark.parametrize(
    "kind", ["uniform", "uint8-nuclei", "heavy-tail", "constant"], ids=lambda kind: kind
)
def test_scale_range_preprocessing_equals_core(package, kind):
    rng = np.random.default_rng(4)
    if kind == "uniform":
        tensor = rng.random((1, 1, 96, 80), dtype=np.float32) * 1000 - 200
    elif kind == "uint8-nuclei":
        tensor = synthetic_nuclei((96, 80), seed=2)[0][None, None].astype(np.float32)
    elif kind == "heavy-tail":
        tensor = rng.lognormal(0, 2, size=(1, 1, 96, 80)).astype(np.float32)
    else:
        tensor = np.full((1, 1, 96, 80), 7.0, dtype=np.float32)
    steps = package.description.inputs[0].preprocessing
    assert [step.id for step in steps if step.id != "ensure_dtype"] == ["scale_range"]
    ours = apply_steps(tensor.copy(), steps, "bcyx")

    pipeline = create_prediction_pipeline(package.description, weights_format="onnx")
    sample = _core_sample(pipeline, tensor.copy())
    pipeline.apply_preprocessing(sample)
    core = _array(sample, "input")
    assert ours.dtype == np.float32
    assert ours.shape == core.shape
    np.testing.assert_allclose(ours, core, atol=1e-5, rtol=1e-5)
    if kind == "uniform":
        # percentiles 1 and 99.8 map to 0 and 1
        assert np.percentile(ours, 1.0) == pytest.approx(0.0, abs=1e-5)
        assert np.percentile(ours, 99.8) == pytest.approx(1.0, abs=1e-5)
    if kind == "constant":
        np.testing.assert_array_equal(ours, 0.0)
