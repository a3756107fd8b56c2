"""Collection index: parsing, caching (offline, fallback, freshness), search and lookup."""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest

from semiseg_zoo.zoo import (
    CollectionEntry,
    DownloadError,
    NotCachedError,
    UnknownModelError,
    ZooError,
    build_collection,
    find_entry,
    load_collection,
    normalize_doi,
    parse_collection,
    search_collection,
)
from semiseg_zoo.zoo.collection import collection_cache_path

from .conftest import FIXTURE_DOI, REPO_ROOT
from .helpers import sha256_of

ZIPS = {"enhancer-nuclei-lm", "enhancer-mito-em"}
THIRD = {"unet2d_diff_output_shape", "unet2d_multi_tensor"}


def _ids(entries: list[CollectionEntry]) -> set[str]:
    return {entry.id for entry in entries}


def test_load_collection_parses_the_served_index(local_zoo):
    entries = load_collection(local_zoo.settings)
    assert _ids(entries) == ZIPS | set(local_zoo.third_party)
    nuclei = next(e for e in entries if e.id == "enhancer-nuclei-lm")
    assert nuclei.kind == "enhancer" and nuclei.type == "model"
    assert nuclei.source == local_zoo.base_url + "enhancer-nuclei-lm.zip"
    assert nuclei.sha256 == sha256_of(local_zoo.folder / "enhancer-nuclei-lm.zip")
    assert nuclei.dois == (FIXTURE_DOI,)
    assert nuclei.aliases == ("nuclear-lamp", "bioimage-io/enhancer-nuclei-lm")
    assert "shallow2deep" in nuclei.tags
    assert nuclei.license == "CC-BY-4.0" and nuclei.authors == ("semiseg-zoo developers",)
    for name in local_zoo.third_party:
        entry = next(e for e in entries if e.id == name)
        assert entry.source == f"{local_zoo.base_url}{name}/bioimageio.yaml"
        assert entry.sha256 == sha256_of(local_zoo.folder / name / "bioimageio.yaml")
        assert entry.kind is None


def test_search_by_tag_kind_and_text(local_zoo):
    entries = load_collection(local_zoo.settings)
    assert _ids(search_collection(entries, kind="enhancer")) == ZIPS
    assert _ids(search_collection(entries, tags=["SHALLOW2DEEP", "nuclei"])) == {
        "enhancer-nuclei-lm"
    }
    assert _ids(search_collection(entries, tags=["shallow2deep", "no-such-tag"])) == set()
    assert _ids(search_collection(entries, text="MITO")) == {"enhancer-mito-em"}
    assert _ids(search_collection(entries, text="nuclear-lamp")) == {"enhancer-nuclei-lm"}
    assert _ids(search_collection(entries, type="dataset")) == set()
    assert _ids(search_collection(entries, type=None)) == _ids(entries)
    if local_zoo.third_party:
        assert _ids(search_collection(entries, text="multi tensor")) == {"unet2d_multi_tensor"}


@pytest.mark.parametrize(
    "reference",
    [
        "enhancer-nuclei-lm",
        "Enhancer-Nuclei-LM",
        "bioimage-io/enhancer-nuclei-lm",
        "nuclear-lamp",
        FIXTURE_DOI,
        f"doi:{FIXTURE_DOI}",
        f"https://doi.org/{FIXTURE_DOI}",
    ],
)
def test_find_entry(local_zoo, reference):
    assert find_entry(load_collection(local_zoo.settings), reference).id == "enhancer-nuclei-lm"


def test_unknown_id_suggests_close_matches(local_zoo):
    entries = load_collection(local_zoo.settings)
    with pytest.raises(
        UnknownModelError, match=r"no model 'enhancer-nucleus-lm'.*'enhancer-nuclei-lm'"
    ):
        find_entry(entries, "enhancer-nucleus-lm", where="here")
    with pytest.raises(UnknownModelError, match=r"10\.5281/zenodo\.99"):
        find_entry(entries, "10.5281/zenodo.99")


def test_index_is_cached_and_used_offline(local_zoo):
    online = load_collection(local_zoo.settings)
    assert collection_cache_path(local_zoo.settings).is_file()
    requests = len(local_zoo.server.requests)
    offline = load_collection(dataclasses.replace(local_zoo.settings, offline=True))
    assert offline == online
    assert len(local_zoo.server.requests) == requests


def test_offline_without_cached_index(local_zoo):
    settings = dataclasses.replace(local_zoo.settings, offline=True)
    with pytest.raises(NotCachedError, match=r"collection\.json.*semiseg-zoo list"):
        load_collection(settings)
    assert local_zoo.server.requests == []


def test_recent_index_is_reused_and_refresh_fetches(local_zoo):
    load_collection(local_zoo.settings)
    load_collection(local_zoo.settings)
    assert len(local_zoo.server.requests_for("/collection.json")) == 1
    load_collection(local_zoo.settings, refresh=True)
    assert len(local_zoo.server.requests_for("/collection.json")) == 2


def test_failed_fetch_falls_back_to_cached_index_with_a_warning(local_zoo, caplog):
    expected = load_collection(local_zoo.settings)
    local_zoo.server.faults["/collection.json"] = ["500"] * 3
    with caplog.at_level(logging.WARNING, logger="semiseg_zoo.zoo"):
        entries = load_collection(local_zoo.settings, refresh=True)
    assert entries == expected
    assert "HTTP 500" in caplog.text and "using the cached copy from 20" in caplog.text


def test_failed_fetch_without_cache(local_zoo):
    local_zoo.server.faults["/collection.json"] = ["500"] * 3
    with pytest.raises(DownloadError, match=r"collection\.json: HTTP 500"):
        load_collection(local_zoo.settings)


def test_invalid_json_names_the_url(local_zoo):
    (local_zoo.folder / "collection.json").write_text("{not json")
    with pytest.raises(ZooError, match=rf"{local_zoo.collection_url} is not valid JSON"):
        load_collection(local_zoo.settings)
    assert not collection_cache_path(local_zoo.settings).exists()


def test_wrong_shape_names_the_url(local_zoo):
    (local_zoo.folder / "collection.json").write_text('{"models": []}')
    with pytest.raises(ZooError, match=rf"{local_zoo.collection_url} has no list of entries"):
        load_collection(local_zoo.settings)


def test_parse_bare_list_relative_sources_and_kinds(caplog):
    data = [
        {"id": "a", "rdf_source": "a/rdf.yaml", "rdf_sha256": "AB", "tags": ["mutex-watershed"]},
        {
            "id": "b",
            "download_url": "https://other.org/b.zip",
            "config": {"semiseg": {"kind": "teacher"}},
        },
        {"id": "c", "source": "c.zip", "tags": ["embeddings"], "concept_doi": "10.5281/zenodo.7"},
        {"id": "d", "download_url": "d.zip", "kind": "enhancer", "id_emoji": "🦈"},
        {"id": "no-source"},
        {"name": "no id", "download_url": "x.zip"},
        {"id": "local", "download_url": "file:///etc/passwd"},
        "not a mapping",
    ]
    with caplog.at_level(logging.WARNING, logger="semiseg_zoo.zoo"):
        entries = parse_collection(data, base_url="https://zoo.example.org/index/collection.json")
    assert [e.id for e in entries] == ["a", "b", "c", "d"]
    assert "4 of 8 entries" in caplog.text
    a, b, c, d = entries
    assert a.source == "https://zoo.example.org/index/a/rdf.yaml" and a.sha256 == "ab"
    assert (a.kind, b.kind, c.kind, d.kind) == ("affinity", "teacher", "embedding", "enhancer")
    assert c.dois == ("10.5281/zenodo.7",)
    assert d.aliases == ("bioimage-io/d",) and d.name == "d"


def test_parse_rejects_other_shapes():
    with pytest.raises(ZooError, match="index.json has no list of entries"):
        parse_collection({"collection": {"a": 1}}, base_url="index.json")


def test_normalize_doi():
    assert normalize_doi("doi:10.5281/ZENODO.1") == "10.5281/zenodo.1"
    assert normalize_doi("http://dx.doi.org/10.1000/xyz") == "10.1000/xyz"
    assert normalize_doi("10.5281") is None and normalize_doi(None) is None


def test_build_collection(tmp_path):
    package = REPO_ROOT / "semiseg_zoo" / "models" / "enhancer-mito-em.zip"
    folder = tmp_path / "pkg"
    folder.mkdir()
    (folder / "v0_4.bioimageio.yaml").write_text(
        "type: model\nname: Folder Model\nid: my-model\ntags: [a]\ndoi: 10.5281/zenodo.42\n"
        "config: {bioimageio: {nickname: happy-fish}, semiseg: {kind: affinity}}\n"
    )
    index = build_collection([package, folder], "https://zoo.example.org/pub")
    zipped, folded = index["collection"]
    assert zipped["id"] == "enhancer-mito-em" and zipped["kind"] == "enhancer"
    assert zipped["download_url"] == "https://zoo.example.org/pub/enhancer-mito-em.zip"
    assert zipped["sha256"] == sha256_of(package)
    assert folded == {
        "id": "my-model",
        "type": "model",
        "name": "Folder Model",
        "description": "",
        "tags": ["a"],
        "kind": "affinity",
        "nickname": "happy-fish",
        "doi": "10.5281/zenodo.42",
        "rdf_source": "https://zoo.example.org/pub/pkg/v0_4.bioimageio.yaml",
        "rdf_sha256": sha256_of(folder / "v0_4.bioimageio.yaml"),
    }
    entries = parse_collection(
        json.loads(json.dumps(index)), base_url="https://zoo.example.org/pub/"
    )
    assert entries[1].aliases == ("happy-fish", "bioimage-io/my-model")


def test_build_collection_errors(tmp_path):
    package = REPO_ROOT / "semiseg_zoo" / "models" / "enhancer-mito-em.zip"
    with pytest.raises(ValueError, match="two packages have the id 'enhancer-mito-em'"):
        build_collection([package, package], "https://x/")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="neither a package zip nor a package folder"):
        build_collection([tmp_path / "notes.txt"], "https://x/")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZooError, match="holds no rdf.yaml"):
        build_collection([tmp_path / "empty"], "https://x/")
