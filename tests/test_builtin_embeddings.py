"""Built-in SPOCO embedding packages: what they promise and that they segment out of the box."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

import semiseg_zoo
from semiseg_zoo.inference import list_builtin_models, load_model
from semiseg_zoo.synthetic import synthetic_nuclei, synthetic_rosette

MAX_PACKAGE_BYTES = 10 * 1024 * 1024
EMBEDDINGS = [name for name in list_builtin_models() if name.startswith("embedding-")]


def test_cvppp_embedding_model_ships() -> None:
    assert "embedding-leaves-cvppp" in EMBEDDINGS


@pytest.mark.parametrize("name", EMBEDDINGS)
def test_embedding_package(name: str) -> None:
    model = load_model(name, weight_format="onnx", device="cpu")
    package = model.package
    assert package.source.stat().st_size <= MAX_PACKAGE_BYTES
    config = package.semiseg_config
    assert config["kind"] == "embedding"
    assert config["embedding"]["dimension"] == len(model.output_channel_names) == 16
    assert config["postprocessing"]["method"] in {"embedding_mws", "mean_shift", "hdbscan"}
    assert any("Sparse Object-level Supervision" in c.text for c in package.description.cite)
    assert {"sbd", "abs_dic", "ap50", "clustering_seconds_per_image"} <= set(config["validation"])
    with zipfile.ZipFile(package.source) as archive:
        test_input = np.load(io.BytesIO(archive.read("test_input.npy")))
        test_output = np.load(io.BytesIO(archive.read("test_output.npy")))
    output = model.predict(test_input[0], axes="cyx", tile=None)
    assert output.shape == test_output[0].shape
    np.testing.assert_allclose(output, test_output[0], atol=1e-3)
    with pytest.raises(ValueError, match="test-time augmentation is not available"):
        model.predict(test_input[0], axes="cyx", tta=True)


@pytest.mark.parametrize("name", EMBEDDINGS)
def test_embedding_model_segments_a_synthetic_image(name: str) -> None:
    model = load_model(name, device="cpu")
    if model.n_channels == 3:
        image, expected = synthetic_rosette((256, 256), seed=5)
    else:
        image, expected = synthetic_nuclei((256, 256), seed=5)
    labels = semiseg_zoo.segment(image, model)
    assert labels.shape == expected.shape and labels.dtype == np.uint32
    foreground = labels > 0
    # The background cluster is found: most predicted foreground lies on objects and most
    # object pixels are predicted as foreground (measured: 0.71 for the weak DSB model, 0.8+
    # for the CVPPP one; labelling the background as objects would give about 0.1).
    assert (expected[foreground] > 0).mean() >= 0.65
    assert foreground[expected > 0].mean() >= 0.5
    assert labels.max() >= 1
