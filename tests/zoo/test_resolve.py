"""resolve_package end to end against the local zoo: ids, DOIs, URLs, cache, offline, checksums,
unsafe packages, resume, id map and rdf pattern."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
import yaml

from semiseg_zoo.zoo import (
    ChecksumError,
    DownloadError,
    NotCachedError,
    UnknownModelError,
    UnsafePackageError,
    ZooError,
    clear_cache,
    list_cached,
    resolve_package,
)

from .conftest import FIXTURE_DOI, cache_files, package_files
from .helpers import sha256_of, write_rdf_folder, write_zip

NUCLEI = "enhancer-nuclei-lm"


def _is_cached_zip(path: Path, settings) -> bool:
    return path.name == "package.zip" and path.parent.parent == settings.cache_dir / "packages"


@pytest.mark.parametrize(
    "reference",
    [
        NUCLEI,
        f"bioimage-io/{NUCLEI}",
        "nuclear-lamp",
        FIXTURE_DOI,
        f"doi:{FIXTURE_DOI}",
        f"https://doi.org/{FIXTURE_DOI}",
        "URL",
    ],
)
def test_resolve_downloads_and_verifies(local_zoo, reference):
    if reference == "URL":
        reference = local_zoo.base_url + f"{NUCLEI}.zip"
    path = resolve_package(reference, local_zoo.settings, progress=False)
    assert _is_cached_zip(path, local_zoo.settings)
    assert path.parent.name.startswith(("enhancer-nuclei-lm-", "127.0.0.1-enhancer-nuclei-lm"))
    assert sha256_of(path) == sha256_of(local_zoo.folder / f"{NUCLEI}.zip")
    assert len(local_zoo.server.requests_for(f"/{NUCLEI}.zip")) == 1
    assert [c.reference for c in list_cached(local_zoo.settings)] == [reference]
    assert not any(".part" in name for name in cache_files(local_zoo.settings.cache_dir))


def test_cached_package_is_reused_without_requests_and_offline(local_zoo):
    first = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    requests = len(local_zoo.server.requests)
    assert resolve_package(NUCLEI, local_zoo.settings, progress=False) == first
    assert len(local_zoo.server.requests) == requests
    offline = dataclasses.replace(local_zoo.settings, offline=True)
    assert resolve_package(NUCLEI, offline) == first
    # Another reference to the same package finds it offline through the cached index.
    assert resolve_package(FIXTURE_DOI, offline) == first
    assert len(local_zoo.server.requests) == requests


def test_same_package_by_another_reference_is_not_downloaded_again(local_zoo):
    first = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    assert resolve_package("nuclear-lamp", local_zoo.settings, progress=False) == first
    assert len(local_zoo.server.requests_for(f"/{NUCLEI}.zip")) == 1
    assert {c.reference for c in list_cached(local_zoo.settings)} == {NUCLEI, "nuclear-lamp"}


def test_refresh_downloads_again(local_zoo):
    first = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    assert resolve_package(NUCLEI, local_zoo.settings, progress=False, refresh=True) == first
    assert len(local_zoo.server.requests_for(f"/{NUCLEI}.zip")) == 2
    assert len(local_zoo.server.requests_for("/collection.json")) == 2


def test_offline_without_cache_names_the_reference(local_zoo):
    offline = dataclasses.replace(local_zoo.settings, offline=True)
    with pytest.raises(
        NotCachedError, match=rf"'{NUCLEI}' is not in the cache.*semiseg-zoo download {NUCLEI}"
    ):
        resolve_package(NUCLEI, offline)
    assert local_zoo.server.requests == []


def test_offline_switch_from_the_environment(local_zoo, monkeypatch):
    monkeypatch.setenv("SEMISEG_OFFLINE", "yes")
    monkeypatch.setenv("SEMISEG_COLLECTION", local_zoo.collection_url)
    with pytest.raises(NotCachedError, match=NUCLEI):
        resolve_package(NUCLEI)
    assert local_zoo.server.requests == []


def test_package_changed_in_the_index_is_downloaded_again(local_zoo):
    first = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    shutil_copy = (local_zoo.folder / "enhancer-mito-em.zip").read_bytes()
    (local_zoo.folder / f"{NUCLEI}.zip").write_bytes(shutil_copy)
    local_zoo.entry(NUCLEI)["sha256"] = hashlib.sha256(shutil_copy).hexdigest()
    local_zoo.write_index()
    settings = dataclasses.replace(local_zoo.settings, index_max_age=0)
    second = resolve_package(NUCLEI, settings, progress=False)
    assert second == first  # same source URL, same cache folder, new content
    assert sha256_of(second) == hashlib.sha256(shutil_copy).hexdigest()


@pytest.mark.data
def test_rdf_url_of_a_folder_package_gets_every_file_verified(third_party):
    url = third_party.base_url + "unet2d_diff_output_shape/bioimageio.yaml"
    path = resolve_package(url, third_party.settings, progress=False)
    assert path.name == "bioimageio.yaml"
    served = third_party.folder / "unet2d_diff_output_shape"
    expected = sorted(p.name for p in served.iterdir())
    assert sorted(p.name for p in path.parent.iterdir() if not p.name.startswith(".")) == expected
    for name in expected:
        assert sha256_of(path.parent / name) == sha256_of(served / name), name
    requested = {r.path.rsplit("/", 1)[-1] for r in third_party.server.requests}
    assert requested == set(expected)


@pytest.mark.data
def test_folder_package_by_id_with_multiple_tensors(third_party):
    path = resolve_package("unet2d_multi_tensor", third_party.settings, progress=False)
    names = {p.name for p in path.parent.iterdir()}
    assert {"weights.pt", "weights_torchscript_traced.pt", "multi_tensor_unet.py"} <= names
    assert {
        "test_input_0.npy",
        "test_input_1.npy",
        "test_output_0.npy",
        "test_output_1.npy",
    } <= names


def _assert_nothing_cached(settings) -> None:
    assert package_files(settings.cache_dir) == []
    assert list_cached(settings) == []


def test_wrong_zip_sha256_in_the_index(local_zoo):
    local_zoo.entry(NUCLEI)["sha256"] = "0" * 64
    local_zoo.write_index()
    with pytest.raises(ChecksumError, match=rf"{NUCLEI}\.zip: expected 0{{64}}"):
        resolve_package(NUCLEI, local_zoo.settings, progress=False)
    _assert_nothing_cached(local_zoo.settings)


@pytest.mark.data
def test_tampered_file_of_a_folder_package(third_party):
    tampered = third_party.folder / "unet2d_diff_output_shape" / "weights.pt"
    tampered.write_bytes(tampered.read_bytes() + b"evil")
    with pytest.raises(ChecksumError, match=r"weights\.pt: expected 2c475874"):
        resolve_package("unet2d_diff_output_shape", third_party.settings, progress=False)
    _assert_nothing_cached(third_party.settings)


def test_zip_member_that_differs_from_its_rdf(local_zoo, tmp_path):
    original = local_zoo.folder / f"{NUCLEI}.zip"
    members = {}
    with zipfile.ZipFile(original) as archive:
        for name in archive.namelist():
            members[name] = archive.read(name)
    members["weights.onnx"] = members["weights.onnx"][:-10] + b"0123456789"
    write_zip(local_zoo.folder / "tampered.zip", members)
    url = local_zoo.base_url + "tampered.zip"
    with pytest.raises(ChecksumError, match=r"weights\.onnx in .*tampered\.zip.*expected 47ec52bc"):
        resolve_package(url, local_zoo.settings, progress=False)
    _assert_nothing_cached(local_zoo.settings)


@pytest.mark.parametrize("member", ["../evil.txt", "/abs.txt", "symlink"])
def test_unsafe_zip_is_refused(local_zoo, tmp_path, member):
    members = {"rdf.yaml": b"type: model\nformat_version: 0.5.4\n"}
    symlinks = {}
    if member == "symlink":
        symlinks["weights.pt"] = "/etc/passwd"
    else:
        members[member] = b"evil"
    write_zip(local_zoo.folder / "unsafe.zip", members, symlinks=symlinks)
    with pytest.raises(UnsafePackageError, match=r"unsafe\.zip: member"):
        resolve_package(local_zoo.base_url + "unsafe.zip", local_zoo.settings, progress=False)
    _assert_nothing_cached(local_zoo.settings)
    assert not list(tmp_path.rglob("evil.txt")) and not list(tmp_path.rglob("abs.txt"))


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("../../secret.txt", "leaves the package folder"),
        ("/etc/passwd", "absolute path"),
        ("file:///etc/passwd", "file:// URL"),
        ("http://other.example.org/weights.pt", "declared file outside the package"),
        ("OTHER_PORT", "declared file outside the package"),
    ],
)
def test_rdf_declaring_files_outside_the_package_is_refused(local_zoo, tmp_path, source, message):
    if source == "OTHER_PORT":
        source = local_zoo.base_url.replace("127.0.0.1:", "127.0.0.1:1") + "weights.pt"
    (local_zoo.folder / "secret.txt").write_text("secret")
    rdf = {
        "type": "model",
        "format_version": "0.5.4",
        "covers": ["cover.png"],
        "weights": {"pytorch_state_dict": {"source": source, "sha256": "0" * 64}},
    }
    write_rdf_folder(local_zoo.folder / "pkg" / "sub", rdf, {"cover.png": b"png"})
    url = local_zoo.base_url + "pkg/sub/rdf.yaml"
    with pytest.raises(
        UnsafePackageError, match=rf"weights\.pytorch_state_dict\.source.*{message}"
    ):
        resolve_package(url, local_zoo.settings, progress=False)
    assert [r.path for r in local_zoo.server.requests] == ["/pkg/sub/rdf.yaml"]
    _assert_nothing_cached(local_zoo.settings)


def test_zip_declaring_a_url_is_refused(local_zoo):
    rdf = {"type": "model", "weights": {"onnx": {"source": "https://example.org/w.onnx"}}}
    write_zip(local_zoo.folder / "remote.zip", {"rdf.yaml": yaml.safe_dump(rdf).encode()})
    with pytest.raises(UnsafePackageError, match="declared file outside the package"):
        resolve_package(local_zoo.base_url + "remote.zip", local_zoo.settings, progress=False)
    _assert_nothing_cached(local_zoo.settings)


def test_zip_missing_a_declared_file(local_zoo):
    rdf = {"type": "model", "weights": {"onnx": {"source": "w.onnx"}}}
    write_zip(local_zoo.folder / "incomplete.zip", {"rdf.yaml": yaml.safe_dump(rdf).encode()})
    with pytest.raises(ZooError, match="does not contain that file"):
        resolve_package(local_zoo.base_url + "incomplete.zip", local_zoo.settings, progress=False)
    _assert_nothing_cached(local_zoo.settings)


def test_truncated_package_download_is_resumed(local_zoo):
    local_zoo.server.faults[f"/{NUCLEI}.zip"] = ["truncate"]
    path = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    size = (local_zoo.folder / f"{NUCLEI}.zip").stat().st_size
    requests = local_zoo.server.requests_for(f"/{NUCLEI}.zip")
    assert [r.range for r in requests] == [None, f"bytes={size // 2}-"]
    assert sha256_of(path) == local_zoo.entry(NUCLEI)["sha256"]


def test_failed_download_is_resumed_by_the_next_call(local_zoo):
    settings = dataclasses.replace(local_zoo.settings, retries=0)
    local_zoo.server.faults[f"/{NUCLEI}.zip"] = ["truncate"]
    with pytest.raises(DownloadError, match="truncated|connection error"):
        resolve_package(NUCLEI, settings, progress=False)
    assert list_cached(settings) == []
    path = resolve_package(NUCLEI, settings, progress=False)
    size = (local_zoo.folder / f"{NUCLEI}.zip").stat().st_size
    assert local_zoo.server.requests_for(f"/{NUCLEI}.zip")[-1].range == f"bytes={size // 2}-"
    assert sha256_of(path) == local_zoo.entry(NUCLEI)["sha256"]
    assert not [n for n in cache_files(settings.cache_dir) if ".partial" in n]


def test_missing_package_is_a_download_error(local_zoo):
    (local_zoo.folder / f"{NUCLEI}.zip").unlink()
    with pytest.raises(DownloadError, match=r"not found \(HTTP 404\)"):
        resolve_package(NUCLEI, local_zoo.settings, progress=False)
    assert len(local_zoo.server.requests_for(f"/{NUCLEI}.zip")) == 1
    _assert_nothing_cached(local_zoo.settings)


def test_unknown_id(local_zoo):
    with pytest.raises(
        UnknownModelError, match=r"'enhancer-mito-xx'.*did you mean 'enhancer-mito-em'"
    ):
        resolve_package("enhancer-mito-xx", local_zoo.settings, progress=False)


def test_local_paths_are_returned_unchanged(local_zoo, tmp_path):
    package = local_zoo.folder / f"{NUCLEI}.zip"
    assert resolve_package(str(package), local_zoo.settings) == package
    assert resolve_package(package.as_uri(), local_zoo.settings) == package
    assert local_zoo.server.requests == []
    with pytest.raises(FileNotFoundError, match="missing.zip does not exist"):
        resolve_package(str(tmp_path / "missing.zip"), local_zoo.settings)


def test_local_collection_with_relative_sources(local_zoo):
    settings = dataclasses.replace(
        local_zoo.settings, collection=str(local_zoo.folder / "collection.json")
    )
    index = local_zoo.index
    index["collection"][0]["download_url"] = f"{NUCLEI}.zip"
    local_zoo.write_index()
    assert resolve_package(NUCLEI, settings) == local_zoo.folder / f"{NUCLEI}.zip"


@pytest.mark.data
def test_id_map_and_rdf_pattern_for_ids_the_collection_lacks(third_party):
    zoo = third_party
    zoo.index["collection"] = [
        e for e in zoo.index["collection"] if e["id"] != "unet2d_multi_tensor"
    ]
    zoo.write_index()
    id_map = {
        "unet2d_multi_tensor": {
            "source": "unet2d_multi_tensor/bioimageio.yaml",
            "sha256": sha256_of(zoo.folder / "unet2d_multi_tensor" / "bioimageio.yaml"),
        }
    }
    (zoo.folder / "id_map.json").write_text(json.dumps(id_map))
    mapped = dataclasses.replace(zoo.settings, id_map=zoo.base_url + "id_map.json")
    path = resolve_package("unet2d_multi_tensor", mapped, progress=False)
    assert path.name == "bioimageio.yaml" and (path.parent / "weights.pt").is_file()

    clear_cache(zoo.settings)
    pattern = dataclasses.replace(
        zoo.settings, rdf_pattern=zoo.base_url + "{bioimageio_id}/bioimageio.yaml"
    )
    path = resolve_package("bioimage-io/unet2d_multi_tensor", pattern, progress=False)
    assert path.name == "bioimageio.yaml" and (path.parent / "multi_tensor_unet.py").is_file()
    with pytest.raises(DownloadError, match="not found"):
        resolve_package("no-such-model", pattern, progress=False)


@pytest.mark.data
def test_id_map_from_the_environment(third_party, monkeypatch):
    zoo = third_party
    (zoo.folder / "id_map.json").write_text(
        json.dumps(
            {"renamed": {"source": zoo.base_url + "unet2d_diff_output_shape/bioimageio.yaml"}}
        )
    )
    monkeypatch.setenv("SEMISEG_COLLECTION", zoo.collection_url)
    monkeypatch.setenv("SEMISEG_CACHE", str(zoo.settings.cache_dir))
    monkeypatch.setenv("BIOIMAGEIO_ID_MAP", zoo.base_url + "id_map.json")
    path = resolve_package("renamed", progress=False)
    assert path.parent.name.startswith("renamed-") and (path.parent / "resize_unet.py").is_file()


def test_list_and_clear_cache(local_zoo):
    nuclei = resolve_package(NUCLEI, local_zoo.settings, progress=False)
    resolve_package(FIXTURE_DOI, local_zoo.settings, progress=False)
    mito = resolve_package("enhancer-mito-em", local_zoo.settings, progress=False)
    cached = list_cached(local_zoo.settings)
    assert [c.reference for c in cached] == [FIXTURE_DOI, "enhancer-mito-em", NUCLEI]
    assert cached[2].path == nuclei and cached[2].size == nuclei.stat().st_size
    assert cached[2].source == local_zoo.base_url + f"{NUCLEI}.zip"
    assert clear_cache(local_zoo.settings, NUCLEI) == 0  # the DOI still uses the package
    assert nuclei.exists()
    assert clear_cache(local_zoo.settings, FIXTURE_DOI) == 1
    assert not nuclei.exists() and mito.exists()
    with pytest.raises(ZooError, match=f"'{NUCLEI}' is not in the cache"):
        clear_cache(local_zoo.settings, NUCLEI)
    assert clear_cache(local_zoo.settings) == 1
    assert cache_files(local_zoo.settings.cache_dir) == []


def test_default_settings_stay_in_the_test_cache(local_zoo, monkeypatch, tmp_path):
    monkeypatch.setenv("SEMISEG_COLLECTION", local_zoo.collection_url)
    path = resolve_package(NUCLEI, progress=False)
    assert path.is_relative_to(tmp_path / "env-cache")
