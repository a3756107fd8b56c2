"""Declared files of bioimage.io rdfs (0.4 and 0.5) and the inside-the-package check."""

from __future__ import annotations

import pytest

from semiseg_zoo.zoo import (
    DeclaredFile,
    UnsafePackageError,
    check_inside_package,
    declared_files,
    read_rdf,
)
from semiseg_zoo.zoo.rdf_files import package_path

from .conftest import REPO_ROOT

RDF_04 = {
    "format_version": "0.4.9",
    "documentation": "README.md",
    "covers": ["cover.png", "https://example.org/cover2.png"],
    "icon": "🦈",
    "attachments": {"files": ["per_sample_scale_range.ijm"]},
    "test_inputs": ["test_input.npy"],
    "test_outputs": ["test_output.npy"],
    "sample_inputs": ["sample_input_0.tif"],
    "sample_outputs": ["sample_output_0.tif"],
    "weights": {
        "pytorch_state_dict": {
            "source": "weights.pt",
            "sha256": "AA" * 32,
            "architecture": "unet.py:UNet2d",
            "architecture_sha256": "bb" * 32,
            "dependencies": "conda:environment.yaml",
        },
        "keras_hdf5": {"source": "keras.h5", "dependencies": "pip:requirements.txt"},
        "torchscript": {"source": "ts.pt", "architecture": "torch_em.model.UNet2d"},
    },
    "config": {"deepimagej": {"prediction": {"preprocess": [{"kwargs": "macro.ijm"}]}}},
}

RDF_05 = {
    "format_version": "0.5.4",
    "documentation": "documentation.md",
    "covers": ["cover.jpg"],
    "icon": "icon.png",
    "attachments": [{"source": "notes.txt", "sha256": "cc" * 32}],
    "inputs": [
        {
            "id": "input0",
            "test_tensor": {"source": "test_input_0.npy", "sha256": "01" * 32},
            "sample_tensor": {"source": "sample_input_0.tif", "sha256": "02" * 32},
        }
    ],
    "outputs": [{"id": "output0", "test_tensor": {"source": "test_output_0.npy"}}],
    "weights": {
        "pytorch_state_dict": {
            "source": "weights.pt",
            "sha256": "03" * 32,
            "architecture": {"source": "arch.py", "sha256": "04" * 32, "callable": "Net"},
            "dependencies": {"source": "environment.yaml", "sha256": "05" * 32},
        },
        "tensorflow_saved_model_bundle": {
            "source": "tf.zip",
            "environment": {"source": "env.yaml"},
        },
        "onnx": None,
    },
}


def _triples(files: list[DeclaredFile]) -> set[tuple[str, str, str | None]]:
    return {(f.field, f.source, f.sha256) for f in files}


def test_declared_files_of_a_04_rdf():
    assert _triples(declared_files(RDF_04)) == {
        ("documentation", "README.md", None),
        ("covers[0]", "cover.png", None),
        ("covers[1]", "https://example.org/cover2.png", None),
        ("attachments.files[0]", "per_sample_scale_range.ijm", None),
        ("test_inputs[0]", "test_input.npy", None),
        ("test_outputs[0]", "test_output.npy", None),
        ("sample_inputs[0]", "sample_input_0.tif", None),
        ("sample_outputs[0]", "sample_output_0.tif", None),
        ("weights.pytorch_state_dict.source", "weights.pt", "aa" * 32),
        ("weights.pytorch_state_dict.architecture", "unet.py", "bb" * 32),
        ("weights.pytorch_state_dict.dependencies", "environment.yaml", None),
        ("weights.keras_hdf5.source", "keras.h5", None),
        ("weights.keras_hdf5.dependencies", "requirements.txt", None),
        ("weights.torchscript.source", "ts.pt", None),
    }


def test_declared_files_of_a_05_rdf():
    assert _triples(declared_files(RDF_05)) == {
        ("documentation", "documentation.md", None),
        ("covers[0]", "cover.jpg", None),
        ("icon", "icon.png", None),
        ("attachments[0].source", "notes.txt", "cc" * 32),
        ("inputs[0].test_tensor.source", "test_input_0.npy", "01" * 32),
        ("inputs[0].sample_tensor.source", "sample_input_0.tif", "02" * 32),
        ("outputs[0].test_tensor.source", "test_output_0.npy", None),
        ("weights.pytorch_state_dict.source", "weights.pt", "03" * 32),
        ("weights.pytorch_state_dict.architecture.source", "arch.py", "04" * 32),
        ("weights.pytorch_state_dict.dependencies.source", "environment.yaml", "05" * 32),
        ("weights.tensorflow_saved_model_bundle.source", "tf.zip", None),
        ("weights.tensorflow_saved_model_bundle.environment.source", "env.yaml", None),
    }


def test_declared_files_of_a_builtin_package_cover_every_member():
    rdf, _ = read_rdf(REPO_ROOT / "semiseg_zoo" / "models" / "enhancer-nuclei-lm.zip")
    files = declared_files(rdf)
    assert {f.source for f in files} == {
        "README.md",
        "cover.png",
        "test_input.npy",
        "sample_input.tif",
        "test_output.npy",
        "sample_output.tif",
        "weights.onnx",
        "weights.pt",
        "unet.py",
        "weights_torchscript.pt",
    }
    with_sha = {f.source for f in files if f.sha256}
    assert len(with_sha) == 8 and "README.md" not in with_sha


def test_url_flag():
    files = declared_files(RDF_04)
    assert [f.source for f in files if f.is_url] == ["https://example.org/cover2.png"]


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("../../secret.txt", "leaves the package"),
        ("weights/../../secret.txt", "leaves the package"),
        ("..\\secret.txt", "leaves the package"),
        ("/etc/passwd", "absolute path"),
        ("C:\\Windows\\win.ini", "absolute path"),
        ("\\\\server\\share\\x", "absolute path"),
        ("file:///etc/passwd", "file:// URL"),
        ("ftp://example.org/x.pt", "unsupported scheme"),
    ],
)
def test_sources_outside_the_package_are_refused(source, reason):
    rdf = {"weights": {"onnx": {"source": source}}}
    with pytest.raises(
        UnsafePackageError, match=rf"refusing package pkg: weights\.onnx\.source = .*{reason}"
    ):
        check_inside_package(declared_files(rdf), package_name="pkg")


def test_sources_inside_the_package_pass():
    rdf = {
        "covers": ["./cover.png", "docs/../cover.png", "https://example.org/c.png"],
        "weights": {"onnx": {"source": "sub/w.onnx"}},
    }
    check_inside_package(declared_files(rdf), package_name="pkg")
    assert package_path("docs/../cover.png") == "cover.png"
    assert package_path(".\\sub\\w.onnx") == "sub/w.onnx"
