"""load_package: sources (zip, folder, rdf), broken inputs, trust of the architecture code."""

from __future__ import annotations

import hashlib
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from semiseg_zoo.inference import PackageError, list_builtin_models, load_package, make_runner
from semiseg_zoo.spec import data_root

ZOO_MODELS = data_root() / "zoo_models"
KERAS_RDF = ZOO_MODELS / "unet2d_keras_tf" / "v0_4.bioimageio.yaml"


@pytest.fixture
def extracted(tiny_package_path, tmp_path) -> Path:
    folder = tmp_path / "extracted"
    with zipfile.ZipFile(tiny_package_path) as archive:
        archive.extractall(folder)
    return folder


def _rewrite_rdf(folder: Path, edit) -> None:
    rdf_path = folder / "rdf.yaml"
    rdf = yaml.safe_load(rdf_path.read_text())
    edit(rdf)
    rdf_path.write_text(yaml.safe_dump(rdf, sort_keys=False))


# --- sources ----------------------------------------------------------------------------------


def test_load_from_zip(tiny_package_path):
    package = load_package(tiny_package_path)
    assert package.name == "tiny-nuclei-2d"
    assert package.source == tiny_package_path
    assert package.builtin is False
    assert package.own_architecture is True
    assert package.semiseg_config["kind"] == "teacher"
    assert package.weight_formats == ["onnx", "torchscript", "pytorch_state_dict"]


def test_load_from_zip_given_as_str(tiny_package_path):
    assert load_package(str(tiny_package_path)).name == "tiny-nuclei-2d"


def test_load_from_extracted_folder(extracted):
    package = load_package(extracted)
    assert package.name == "tiny-nuclei-2d"
    assert package.source == extracted / "rdf.yaml"
    assert package.own_architecture is True


def test_load_from_rdf_path(extracted):
    package = load_package(extracted / "rdf.yaml")
    assert package.source == extracted / "rdf.yaml"
    assert package.description.inputs[0].axes[2].size.min == 64


def test_folder_package_runs_like_the_zip(extracted, tiny_package_path):
    from semiseg_zoo.inference import load_model

    image = np.load(extracted / "test_input.npy")[0]
    expected = np.load(extracted / "test_output.npy")[0]
    for source in (extracted, tiny_package_path):
        model = load_model(source, weight_format="onnx", device="cpu")
        np.testing.assert_allclose(model.predict(image, tile=None), expected, atol=1e-5)


# --- broken inputs ----------------------------------------------------------------------------


def test_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"neither a file or folder nor a built-in"):
        load_package(tmp_path / "absent.zip")


def test_unknown_name_is_file_not_found():
    with pytest.raises(FileNotFoundError, match=r"'no-such-model'"):
        load_package("no-such-model")


def test_random_bytes_named_zip_is_package_error(tmp_path):
    path = tmp_path / "random.zip"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(PackageError, match=r"not a readable zip archive"):
        load_package(path)


def test_truncated_zip_is_package_error(tiny_package_path, tmp_path):
    data = tiny_package_path.read_bytes()
    path = tmp_path / "truncated.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(PackageError, match=r"truncated\.zip"):
        load_package(path)


def test_zip_with_corrupt_member_is_package_error(tiny_package_path, tmp_path):
    data = bytearray(tiny_package_path.read_bytes())
    with zipfile.ZipFile(tiny_package_path) as archive:
        info = archive.getinfo("weights.onnx")
    # flip bytes in the middle of the compressed data of weights.onnx
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 100
    data[start : start + 16] = bytes(255 - b for b in data[start : start + 16])
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"'weights\.onnx' is corrupt"):
        load_package(path)


@pytest.mark.parametrize("member", ["README.md", "weights.onnx"])
def test_zip_with_broken_deflate_stream_is_package_error(tiny_package_path, tmp_path, member):
    data = bytearray(tiny_package_path.read_bytes())
    with zipfile.ZipFile(tiny_package_path) as archive:
        info = archive.getinfo(member)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start : start + 8] = b"\xff" * 8
    path = tmp_path / "broken.zip"
    path.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"broken\.zip"):
        load_package(path)


def test_zip_without_rdf_is_package_error(tmp_path):
    path = tmp_path / "no_rdf.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("README.md", "# nothing here")
    with pytest.raises(PackageError, match=r"holds no rdf\.yaml or bioimageio\.yaml"):
        load_package(path)


def test_folder_without_rdf_is_package_error(tmp_path):
    with pytest.raises(PackageError, match=r"folder has no rdf\.yaml"):
        load_package(tmp_path)


def test_invalid_yaml_content_is_package_error(tmp_path):
    path = tmp_path / "rdf.yaml"
    path.write_text("name: [unclosed\n  : : -\n")
    with pytest.raises(PackageError, match=r"could not read the package"):
        load_package(path)


def test_zip_with_invalid_yaml_is_package_error(tmp_path):
    path = tmp_path / "bad_yaml.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("rdf.yaml", "format_version: 0.5.9\ntype: model\nname: {{{\n")
    with pytest.raises(PackageError, match=r"bad_yaml\.zip"):
        load_package(path)


def test_invalid_description_lists_the_validator_reasons(extracted):
    _rewrite_rdf(extracted, lambda rdf: rdf.pop("inputs"))
    with pytest.raises(PackageError, match=r"inputs"):
        load_package(extracted)


def test_non_package_suffix_is_package_error(tmp_path):
    path = tmp_path / "model.txt"
    path.write_text("hello")
    with pytest.raises(PackageError, match=r"expected a package \.zip, a folder or an rdf"):
        load_package(path)


# --- trusting the architecture code ----------------------------------------------------------


def _modify_architecture(folder: Path) -> str:
    source = folder / "unet.py"
    source.write_text(source.read_text() + "\nMODIFIED = True\n")
    return hashlib.sha256(source.read_bytes()).hexdigest()


def test_modified_architecture_with_its_hash_is_foreign_code(extracted):
    digest = _modify_architecture(extracted)

    def set_hash(rdf):
        rdf["weights"]["pytorch_state_dict"]["architecture"]["sha256"] = digest

    _rewrite_rdf(extracted, set_hash)
    package = load_package(extracted)
    assert package.own_architecture is False
    with pytest.raises(PackageError, match=r"--trust-code"):
        make_runner(package, weight_format="pytorch_state_dict", device="cpu")
    runner = make_runner(package, weight_format="pytorch_state_dict", device="cpu", trust_code=True)
    assert runner.weight_format == "pytorch_state_dict"
    test_input = np.load(extracted / "test_input.npy")
    assert runner(np.zeros_like(test_input)).shape == (1, 3, 128, 128)
    # auto never picks foreign code while other formats exist
    assert make_runner(package, device="cpu").weight_format == "onnx"


def test_foreign_state_dict_only_package_needs_trust_code(extracted):
    digest = _modify_architecture(extracted)

    def only_state_dict(rdf):
        rdf["weights"]["pytorch_state_dict"]["architecture"]["sha256"] = digest
        rdf["weights"] = {"pytorch_state_dict": rdf["weights"]["pytorch_state_dict"]}

    _rewrite_rdf(extracted, only_state_dict)
    package = load_package(extracted)
    assert package.weight_formats == ["pytorch_state_dict"]
    with pytest.raises(PackageError, match=r"would run foreign code; pass --trust-code"):
        make_runner(package, device="cpu")
    assert make_runner(package, device="cpu", trust_code=True).weight_format == "pytorch_state_dict"


def test_modified_architecture_with_stale_hash_is_not_own(extracted):
    _modify_architecture(extracted)
    package = load_package(extracted)
    assert package.own_architecture is False


def test_modified_architecture_with_stale_hash_is_never_imported(extracted):
    """Whatever own_architecture says, the modified file must not run (core checks its hash)."""
    _modify_architecture(extracted)
    package = load_package(extracted)
    with pytest.raises(ValueError, match=r"(?i)sha256 mismatch|--trust-code"):
        make_runner(package, weight_format="pytorch_state_dict", device="cpu")


def test_missing_weight_format_names_the_formats_present(extracted):
    _rewrite_rdf(extracted, lambda rdf: rdf["weights"].pop("onnx"))
    package = load_package(extracted)
    with pytest.raises(PackageError, match=r"no onnx weights \(it has \['torchscript', 'pytorch"):
        make_runner(package, weight_format="onnx", device="cpu")
    assert make_runner(package, device="cpu").weight_format == "torchscript"


@pytest.mark.data
@pytest.mark.skipif(not KERAS_RDF.is_file(), reason=f"{KERAS_RDF} is absent (no ../shared/data)")
def test_keras_only_package_cannot_run_and_names_its_formats():
    package = load_package(KERAS_RDF)
    assert package.weight_formats == ["keras_hdf5"]
    assert package.own_architecture is False
    with pytest.raises(
        PackageError, match=r"no weights this tool can run; the package has \['keras_hdf5'\]"
    ):
        make_runner(package, device="cpu")
    with pytest.raises(PackageError, match=r"no torchscript weights \(it has \['keras_hdf5'\]\)"):
        make_runner(package, weight_format="torchscript", device="cpu")


def test_bad_device_is_a_value_error(tiny_package_path):
    package = load_package(tiny_package_path)
    with pytest.raises(ValueError, match=r"`device` must be auto, cpu or cuda"):
        make_runner(package, device="tpu")  # type: ignore[arg-type]


# --- built-in models ----------------------------------------------------------------------------


@pytest.fixture
def builtin_dir(tiny_package_path, tmp_path, monkeypatch) -> Path:
    import semiseg_zoo.inference.package as package_module

    folder = tmp_path / "models"
    folder.mkdir()
    shutil.copyfile(tiny_package_path, folder / "tiny-nuclei-2d.zip")
    shutil.copyfile(tiny_package_path, folder / "another.zip")
    (folder / "notes.txt").write_text("not a model")
    monkeypatch.setattr(package_module, "BUILTIN_DIR", folder)
    return folder


def test_list_builtin_models(builtin_dir):
    assert list_builtin_models() == ["another", "tiny-nuclei-2d"]


def test_load_builtin_model_by_name(builtin_dir):
    package = load_package("tiny-nuclei-2d")
    assert package.builtin is True
    assert package.source == builtin_dir / "tiny-nuclei-2d.zip"
    assert package.own_architecture is True


def test_unknown_name_lists_the_builtin_models(builtin_dir):
    with pytest.raises(FileNotFoundError, match=r"built-in: another, tiny-nuclei-2d"):
        load_package("teacher-nuclei-3d")


# --- untrusted packages: code, archives, declared files -------------------------------------------


def test_architecture_code_runs_only_with_trust_code(extracted, tmp_path):
    """A foreign architecture file that acts on import is never imported without trust."""
    marker = tmp_path / "code-ran"
    source = extracted / "unet.py"
    source.write_text(
        source.read_text()
        + f"\nfrom pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
    )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()

    def only_state_dict(rdf):
        weights = rdf["weights"]["pytorch_state_dict"]
        weights["architecture"]["sha256"] = digest
        rdf["weights"] = {"pytorch_state_dict": weights}

    _rewrite_rdf(extracted, only_state_dict)
    from semiseg_zoo.inference import load_model

    with pytest.raises(PackageError, match=r"would run foreign code; pass --trust-code"):
        load_model(extracted, device="cpu")
    assert not marker.exists()
    model = load_model(extracted, device="cpu", trust_code=True)
    assert marker.read_text() == "ran"
    assert model.runner.weight_format == "pytorch_state_dict"


@pytest.mark.parametrize("member", ["../escape.txt", "/etc/absolute.txt", "a/../../b.txt"])
def test_zip_with_unsafe_member_paths_is_refused(tiny_package_path, tmp_path, member):
    path = tmp_path / "unsafe.zip"
    shutil.copyfile(tiny_package_path, path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(member, "payload")
    with pytest.raises(PackageError, match=r"unsafe\.zip"):
        load_package(path)
    assert not (tmp_path.parent / "escape.txt").exists()


@pytest.mark.parametrize("source", ["../outside.npy", "/etc/passwd", "file:///etc/passwd"])
def test_declared_file_outside_the_package_is_refused(extracted, source):
    def point_outside(rdf):
        rdf["inputs"][0]["test_tensor"]["source"] = source

    _rewrite_rdf(extracted, point_outside)
    with pytest.raises(PackageError, match=r"outside"):
        load_package(extracted)


def test_weights_altered_after_export_are_refused(extracted):
    from semiseg_zoo.inference import load_model

    weights = extracted / "weights.onnx"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(PackageError, match=r"weights\.onnx"):
        load_model(extracted, weight_format="onnx", device="cpu")
