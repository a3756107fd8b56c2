"""check_compatibility: built-in packages pass; each broken package fails exactly its check."""

from __future__ import annotations

import io
import shutil
import socket
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from semiseg_zoo.export import TARGETS, CheckResult, check_compatibility, format_report
from semiseg_zoo.export.compatibility import CHECKS, summary_line
from semiseg_zoo.export.compatibility_files import foreign_imports
from semiseg_zoo.export.package_reader import NetworkAccessRefused, network_disabled
from semiseg_zoo.spec import data_root
from tests.package_edits import ENHANCER, MODELS, REPO_ROOT, read_member, rewrite_package

BUILTIN = sorted(MODELS.glob("*.zip"))
LEGACY_PYTHON = REPO_ROOT / ".venv-spec059" / "bin" / "python"
ZOO_MODELS = data_root() / "zoo_models"
needs_legacy = pytest.mark.skipif(
    not LEGACY_PYTHON.is_file(), reason="no .venv-spec059 (make check-legacy-spec)"
)


@pytest.fixture
def no_legacy(tmp_path) -> Path:
    """A legacy interpreter that does not exist: the `spec 0.5.9` check is skipped (fast)."""
    return tmp_path / "no-such-python"


def _check(package: Path, no_legacy: Path, targets=TARGETS) -> dict[str, CheckResult]:
    results = check_compatibility(package, targets, test_model=False, legacy_python=no_legacy)
    return {r.name: r for r in results}


def _failed(results: dict[str, CheckResult]) -> set[str]:
    return {name for name, r in results.items() if r.status == "failed"}


# --- built-in packages ---------------------------------------------------------------------------


def test_there_are_builtin_packages():
    assert len(BUILTIN) >= 10


@pytest.mark.parametrize("package", BUILTIN, ids=[p.stem for p in BUILTIN])
def test_builtin_package_passes_every_check_for_every_target(package, no_legacy):
    results = _check(package, no_legacy)
    assert list(results) == list(CHECKS)
    assert _failed(results) == set(), {n: r.detail for n, r in results.items()}
    skipped = {name for name, r in results.items() if r.status == "skipped"}
    expected = {"spec 0.5.9", "test_model"}
    if not package.name.startswith("enhancer-"):
        expected.add("shallow2deep tag")
    assert skipped == expected
    assert results["weights"].detail.startswith("present: onnx, pytorch_state_dict (unet.py:")
    assert "opset 17" in results["onnx opset"].detail


@needs_legacy
def test_spec_059_check_runs_the_legacy_validator():
    results = {r.name: r for r in check_compatibility(ENHANCER, ["ilastik"], test_model=False)}
    assert results["spec 0.5.9"].status == "passed"
    assert "bioimageio.spec 0.5.9" in results["spec 0.5.9"].detail
    assert all(r.status == "passed" for r in results.values())


@needs_legacy
def test_spec_059_rejects_a_mapping_documentation(tmp_path):
    package = rewrite_package(tmp_path / "doc-dict.zip", edit=_documentation_mapping)
    results = {r.name: r for r in check_compatibility(package, ["ilastik"], test_model=False)}
    assert _failed(results) == {"layout", "spec 0.5.9"}
    assert "documentation" in results["spec 0.5.9"].detail


def test_spec_059_is_skipped_without_its_interpreter(no_legacy):
    result = _check(ENHANCER, no_legacy, ["ilastik"])["spec 0.5.9"]
    assert result.status == "skipped"
    assert "run `make check-legacy-spec` to build the 0.5.9 environment" in result.detail
    assert str(no_legacy) in result.detail


def test_spec_059_interpreter_from_the_environment(monkeypatch, tmp_path):
    missing = tmp_path / "elsewhere" / "python"
    monkeypatch.setenv("SEMISEG_LEGACY_PYTHON", str(missing))
    results = check_compatibility(ENHANCER, ["ilastik"], test_model=False)
    result = next(r for r in results if r.name == "spec 0.5.9")
    assert (result.status, str(missing) in result.detail) == ("skipped", True)


@pytest.mark.slow
def test_test_model_passes_for_every_weight_format_of_the_smallest_package(no_legacy):
    results = check_compatibility(ENHANCER, ["core"], test_model=True, legacy_python=no_legacy)
    result = next(r for r in results if r.name == "test_model")
    assert result.status == "passed", result.detail
    assert result.detail.startswith("onnx passed, pytorch_state_dict passed, torchscript passed")


@pytest.mark.slow
def test_test_model_fails_when_the_test_output_is_not_reproduced(tmp_path, no_legacy):
    output = np.load(io.BytesIO(read_member(ENHANCER, "test_output.npy")))
    package = rewrite_package(tmp_path / "wrong.zip", files={"test_output.npy": _npy(1 - output)})
    results = check_compatibility(package, ["core"], test_model=True, legacy_python=no_legacy)
    result = next(r for r in results if r.name == "test_model")
    assert result.status == "failed"
    assert "onnx failed" in result.detail and "torchscript failed" in result.detail


@pytest.mark.slow
def test_test_model_imports_a_foreign_architecture_only_with_trust_code(tmp_path, no_legacy):
    marker = tmp_path / "code-ran"
    source = read_member(ENHANCER, "unet.py").decode()
    foreign = source + f"\nfrom pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
    package = rewrite_package(tmp_path / "foreign.zip", files={"unet.py": foreign.encode()})

    results = check_compatibility(package, ["core"], test_model=True, legacy_python=no_legacy)
    result = next(r for r in results if r.name == "test_model")
    assert result.status == "passed", result.detail
    assert result.detail.startswith("onnx passed, torchscript passed")
    assert "pytorch_state_dict not tested" in result.detail
    assert not marker.exists()

    trusted = check_compatibility(
        package, ["core"], test_model=True, trust_code=True, legacy_python=no_legacy
    )
    assert next(r for r in trusted if r.name == "test_model").status == "passed"
    assert marker.read_text() == "ran"


# --- targets, inputs ------------------------------------------------------------------------------


def test_only_checks_for_the_requested_targets_run(no_legacy):
    results = check_compatibility(ENHANCER, ["deepimagej"], legacy_python=no_legacy)
    assert [r.name for r in results] == [
        name for name, (targets, _, _) in CHECKS.items() if "deepimagej" in targets
    ]
    assert {r.targets for r in results} == {("deepimagej",)}
    assert "layout" not in {r.name for r in results}
    assert "test_model" not in {r.name for r in results}


def test_core_target_runs_test_model_and_the_metadata_checks_only(no_legacy):
    results = check_compatibility(ENHANCER, ["core"], test_model=False, legacy_python=no_legacy)
    assert [r.name for r in results] == [
        "description",
        "axes",
        "weights",
        "test tensors",
        "cover",
        "documentation",
        "test_model",
    ]


def test_unknown_target_is_rejected():
    with pytest.raises(ValueError, match=r"`targets` is \['fiji'\]; expected one or more of core"):
        check_compatibility(ENHANCER, ["fiji"])
    with pytest.raises(TypeError, match="sequence of target names, got the string 'ilastik'"):
        check_compatibility(ENHANCER, "ilastik")


def test_missing_and_non_package_paths_are_rejected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        check_compatibility(tmp_path / "absent.zip")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(ValueError, match=r"neither a \.zip, a folder nor a \.yaml"):
        check_compatibility(other)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("README.md", "no rdf")
    with pytest.raises(FileNotFoundError, match="holds no rdf.yaml"):
        check_compatibility(empty)


def test_a_package_folder_and_its_rdf_yaml_are_checked_like_the_zip(tmp_path, no_legacy):
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(ENHANCER) as archive:
        archive.extractall(folder)
    for source in (folder, folder / "rdf.yaml"):
        results = _check(source, no_legacy)
        assert _failed(results) == set(), {n: r.detail for n, r in results.items()}


def test_an_invalid_description_fails_and_dependent_checks_are_skipped(tmp_path, no_legacy):
    package = rewrite_package(tmp_path / "bad-hash.zip", edit=_wrong_onnx_hash)
    results = _check(package, no_legacy)
    assert _failed(results) == {"description"}
    assert "weights.onnx" in results["description"].detail
    assert results["tensors"].status == "skipped"
    assert "not a valid model" in results["tensors"].detail
    # Checks on the raw rdf and the files still run.
    assert results["cover"].status == results["layout"].status == "passed"


# --- broken packages: each fails exactly its check -----------------------------------------------


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def _two_inputs(rdf: dict[str, Any]) -> None:
    second = {**rdf["inputs"][0], "id": "input2"}
    rdf["inputs"].append(second)


def _sigmoid_output(rdf: dict[str, Any]) -> None:
    rdf["outputs"][0]["postprocessing"] = [{"id": "sigmoid"}]


def _two_preprocessing_ops(rdf: dict[str, Any]) -> None:
    rdf["inputs"][0]["preprocessing"] = [
        {"id": "scale_range", "kwargs": {"axes": ["y", "x"], "max_percentile": 99.8}},
        {"id": "clip", "kwargs": {"min": 0.0, "max": 1.0}},
    ]


def _fixed_input_size(rdf: dict[str, Any]) -> None:
    for axis in rdf["inputs"][0]["axes"][2:]:
        axis["size"] = 256


def _output_without_halo(rdf: dict[str, Any]) -> None:
    for axis in rdf["outputs"][0]["axes"][2:]:
        del axis["halo"]


def _no_cover(rdf: dict[str, Any]) -> None:
    del rdf["covers"]


def _documentation_mapping(rdf: dict[str, Any]) -> None:
    import hashlib

    digest = hashlib.sha256(read_member(ENHANCER, "README.md")).hexdigest()
    rdf["documentation"] = {"source": "README.md", "sha256": digest}


def _without_shallow2deep_tag(rdf: dict[str, Any]) -> None:
    rdf["tags"].remove("shallow2deep")


def _wrong_onnx_hash(rdf: dict[str, Any]) -> None:
    rdf["weights"]["onnx"]["sha256"] = "0" * 64


def _onnx_with_opset(version: int) -> bytes:
    import onnx

    model = onnx.load(io.BytesIO(read_member(ENHANCER, "weights.onnx")))
    for entry in model.opset_import:
        if entry.domain in ("", "ai.onnx"):
            entry.version = version
    return model.SerializeToString()


def _constant_test_input() -> bytes:
    shape = np.load(io.BytesIO(read_member(ENHANCER, "test_input.npy"))).shape
    return _npy(np.full(shape, 0.5))


def _readme_without_validation() -> bytes:
    text = read_member(ENHANCER, "README.md").decode()
    return text.replace("## Validation", "## Scores").encode()


def _architecture_importing_scipy() -> bytes:
    return b"import scipy.ndimage\n" + read_member(ENHANCER, "unet.py")


BROKEN: dict[str, tuple[str, Callable[[dict[str, Any]], None] | None, Callable[[], dict]]] = {
    # case: (the one failing check, rdf edit, replaced files)
    "two inputs": ("tensors", _two_inputs, dict),
    "output sigmoid": ("activation in network", _sigmoid_output, dict),
    "two preprocessing ops": ("preprocessing", _two_preprocessing_ops, dict),
    "fixed input size": ("input sizes", _fixed_input_size, dict),
    "output without halo": ("output size", _output_without_halo, dict),
    "onnx opset 18": ("onnx opset", None, lambda: {"weights.onnx": _onnx_with_opset(18)}),
    "constant test input": (
        "test tensors",
        None,
        lambda: {"test_input.npy": _constant_test_input()},
    ),
    "missing cover": ("cover", _no_cover, lambda: {"cover.png": None}),
    "README without Validation": (
        "documentation",
        None,
        lambda: {"README.md": _readme_without_validation()},
    ),
    "documentation mapping": ("layout", _documentation_mapping, dict),
    "enhancer without shallow2deep tag": ("shallow2deep tag", _without_shallow2deep_tag, dict),
    "architecture imports scipy": (
        "weights",
        None,
        lambda: {"unet.py": _architecture_importing_scipy()},
    ),
}

EXPECTED_DETAIL = {
    "two inputs": "2 input(s) (input, input2)",
    "output sigmoid": "output has postprocessing sigmoid",
    "two preprocessing ops": "input has 2 ops (scale_range, clip)",
    "fixed input size": "input y: fixed 256; input x: fixed 256; ilastik needs ParameterizedSize",
    "output without halo": "output y has no halo; output x has no halo",
    "onnx opset 18": "default-domain opset 18 (rdf declares 17)",
    "constant test input": "input test tensor is constant (0.5)",
    "missing cover": "no cover image in the package",
    "README without Validation": "README.md has no 'Validation' section heading",
    "documentation mapping": "`documentation` is a dict in rdf.yaml",
    "enhancer without shallow2deep tag": "enhancer without the `shallow2deep` tag",
    "architecture imports scipy": "its architecture file unet.py imports scipy",
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_package_fails_exactly_its_check(case, tmp_path, no_legacy):
    check, edit, files = BROKEN[case]
    package = rewrite_package(tmp_path / "broken.zip", edit=edit, files=files())
    results = _check(package, no_legacy)
    assert _failed(results) == {check}, {n: r.detail for n, r in results.items()}
    assert EXPECTED_DETAIL[case] in results[check].detail


def test_a_cover_outside_the_package_fails(tmp_path, no_legacy):
    def cover_outside(rdf: dict[str, Any]) -> None:
        rdf["covers"] = ["../cover.png"]

    package = rewrite_package(tmp_path / "outside.zip", edit=cover_outside)
    result = _check(package, no_legacy)["cover"]
    assert result.status == "failed"
    assert "../cover.png points outside the package" in result.detail


def test_fixed_input_size_passes_for_deepimagej_alone(tmp_path, no_legacy):
    package = rewrite_package(tmp_path / "fixed.zip", edit=_fixed_input_size)
    result = _check(package, no_legacy, ["deepimagej"])["input sizes"]
    assert result.status == "passed"
    assert "deepImageJ runs a fixed-size model by tiling" in result.detail


def test_foreign_architecture_import_does_not_matter_for_deepimagej(tmp_path, no_legacy):
    files = {"unet.py": _architecture_importing_scipy()}
    package = rewrite_package(tmp_path / "foreign.zip", files=files)
    results = _check(package, no_legacy, ["deepimagej"])
    assert _failed(results) == set()
    assert "unet.py:UNet2d, foreign imports" in results["weights"].detail
    assert _failed(_check(package, no_legacy, ["ilastik"])) == {"weights"}


def test_missing_onnx_weights_skip_the_opset_check_and_still_pass_weights(tmp_path, no_legacy):
    def drop_onnx(rdf: dict[str, Any]) -> None:
        del rdf["weights"]["onnx"]

    package = rewrite_package(
        tmp_path / "no-onnx.zip", edit=drop_onnx, files={"weights.onnx": None}
    )
    results = _check(package, no_legacy)
    assert _failed(results) == set()
    assert results["onnx opset"].status == "skipped"
    assert "missing onnx" in results["weights"].detail


def test_deepimagej_needs_torchscript_or_onnx(tmp_path, no_legacy):
    def state_dict_only(rdf: dict[str, Any]) -> None:
        del rdf["weights"]["onnx"], rdf["weights"]["torchscript"]

    files = {"weights.onnx": None, "weights_torchscript.pt": None}
    package = rewrite_package(tmp_path / "sd.zip", edit=state_dict_only, files=files)
    results = _check(package, no_legacy)
    assert _failed(results) == {"weights"}
    assert "deepimagej needs torchscript or onnx" in results["weights"].detail
    assert _failed(_check(package, no_legacy, ["core", "ilastik"])) == set()


def test_foreign_imports_lists_everything_but_torch_numpy_and_stdlib():
    code = (
        "from __future__ import annotations\nimport os, math\nimport torch.nn as nn\n"
        "from numpy import zeros\nimport scipy.ndimage\nfrom . import helpers\n"
        "from .util import x\nfrom typing_extensions import Self\n"
        "def f():\n    import skimage\n"
    )
    assert foreign_imports(code) == [".", ".util", "scipy", "skimage", "typing_extensions"]
    with pytest.raises(SyntaxError):
        foreign_imports("def (")


# --- third-party packages ------------------------------------------------------------------------


def test_third_party_multi_tensor_package_fails_tensors(no_legacy):
    rdf = ZOO_MODELS / "unet2d_multi_tensor" / "bioimageio.yaml"
    if not rdf.is_file():
        pytest.skip(f"{rdf} is absent")
    results = _check(rdf, no_legacy)
    assert results["description"].status == "passed"
    assert "tensors" in _failed(results)
    assert (
        "2 input(s) (input0, input1), 2 output(s) (output0, output1)" in results["tensors"].detail
    )


def test_third_party_format_04_package_fails_format_with_a_note_to_re_export(no_legacy):
    rdf = ZOO_MODELS / "unet2d_fixed_shape" / "v0_4.bioimageio.yaml"
    if not rdf.is_file():
        pytest.skip(f"{rdf} is absent")
    result = _check(rdf, no_legacy)["format"]
    assert result.status == "failed"
    assert result.detail.startswith("format_version 0.4.9; ilastik and deepImageJ need a 0.5")
    assert "re-export" in result.detail


# --- offline --------------------------------------------------------------------------------------


def test_network_disabled_refuses_connections_and_lookups():
    with network_disabled(), pytest.raises(NetworkAccessRefused):
        socket.create_connection(("example.org", 80), timeout=1)
    with network_disabled(), pytest.raises(NetworkAccessRefused):
        socket.getaddrinfo("example.org", 443)
    assert socket.getaddrinfo.__module__ == "socket"  # restored


def test_urls_in_the_rdf_are_not_requested(tmp_path, no_legacy, monkeypatch):
    import httpx

    requested = []

    def record(*args, **kwargs):
        requested.append(args)
        raise httpx.ConnectError("offline test")

    for name in ("request", "stream", "get", "head"):
        monkeypatch.setattr(httpx, name, record)

    def add_urls(rdf: dict[str, Any]) -> None:
        rdf["git_repo"] = "https://github.com/example/semiseg-zoo-test"
        rdf["cite"][0]["url"] = "https://example.org/paper"

    package = rewrite_package(tmp_path / "urls.zip", edit=add_urls)
    results = _check(package, no_legacy)
    assert results["description"].status == "passed", results["description"].detail
    assert requested == []


# --- report ---------------------------------------------------------------------------------------


def test_format_report_is_a_table_with_a_summary_line():
    results = [
        CheckResult("description", TARGETS, "passed", "valid"),
        CheckResult("layout", ("ilastik",), "failed", "`documentation` is a dict " * 12),
        CheckResult("test_model", ("core",), "skipped", "not run"),
    ]
    report = format_report(results, width=100)
    lines = report.splitlines()
    assert lines[0].split() == ["STATUS", "CHECK", "TARGETS", "DETAIL"]
    assert lines[1].split()[:4] == ["PASSED", "description", "core,ilastik,deepimagej", "valid"]
    assert lines[2].split()[:3] == ["FAILED", "layout", "ilastik"]
    assert lines[3].startswith(" " * 20) and "dict" in lines[3]  # the wrapped detail
    assert max(len(line) for line in lines) <= 100
    assert lines[-2].split()[:2] == ["SKIPPED", "test_model"]
    assert lines[-1] == "1 passed, 1 failed, 1 skipped"
    assert summary_line(results) == lines[-1]


def test_report_of_a_builtin_package_lists_every_check(no_legacy):
    results = check_compatibility(ENHANCER, test_model=False, legacy_python=no_legacy)
    report = format_report(results)
    for name in CHECKS:
        assert name in report
    assert report.splitlines()[-1] == "15 passed, 0 failed, 2 skipped"


def test_the_package_is_not_modified(tmp_path, no_legacy):
    package = shutil.copy(ENHANCER, tmp_path / "copy.zip")
    before = Path(package).read_bytes()
    _check(Path(package), no_legacy)
    assert Path(package).read_bytes() == before
