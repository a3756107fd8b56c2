"""zoo_settings: environment variables, overrides and bad values."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from semiseg_zoo.zoo import DEFAULT_COLLECTION, ZooSettings, zoo_settings


def test_environment_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMISEG_CACHE", str(tmp_path / "c"))
    monkeypatch.setenv("SEMISEG_COLLECTION", "http://127.0.0.1:8000/collection.json")
    monkeypatch.setenv("BIOIMAGEIO_ID_MAP", "http://127.0.0.1:8000/id_map.json")
    monkeypatch.setenv(
        "BIOIMAGEIO_COLLECTION_HTTP_PATTERN", "http://127.0.0.1:8000/{bioimageio_id}/rdf.yaml"
    )
    monkeypatch.setenv("SEMISEG_OFFLINE", "TRUE")
    monkeypatch.setenv("SEMISEG_HTTP_TIMEOUT", "7.5")
    assert zoo_settings() == ZooSettings(
        cache_dir=tmp_path / "c",
        collection="http://127.0.0.1:8000/collection.json",
        id_map="http://127.0.0.1:8000/id_map.json",
        rdf_pattern="http://127.0.0.1:8000/{bioimageio_id}/rdf.yaml",
        offline=True,
        timeout=7.5,
    )


def test_overrides_win(monkeypatch, tmp_path):
    monkeypatch.setenv("SEMISEG_OFFLINE", "1")
    monkeypatch.setenv("SEMISEG_HTTP_TIMEOUT", "7.5")
    settings = zoo_settings(
        cache_dir=tmp_path / "o", collection="c.json", offline=False, timeout=2, retries=0
    )
    assert settings.cache_dir == tmp_path / "o" and settings.collection == "c.json"
    assert (settings.offline, settings.timeout, settings.retries) == (False, 2, 0)


def test_defaults(monkeypatch):
    for name in ("SEMISEG_CACHE", "SEMISEG_COLLECTION"):
        monkeypatch.delenv(name)
    settings = zoo_settings()
    assert settings.cache_dir == Path(platformdirs.user_cache_dir("semiseg-zoo"))
    assert settings.collection == DEFAULT_COLLECTION
    assert (settings.offline, settings.timeout, settings.retries, settings.backoff) == (
        False,
        30.0,
        3,
        0.5,
    )
    assert settings.id_map is None and settings.rdf_pattern is None


@pytest.mark.parametrize("value", ["0", "no", "false", ""])
def test_offline_off(monkeypatch, value):
    monkeypatch.setenv("SEMISEG_OFFLINE", value)
    assert zoo_settings().offline is False


def test_bad_values(monkeypatch):
    monkeypatch.setenv("SEMISEG_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="SEMISEG_OFFLINE='maybe' is not a yes/no value"):
        zoo_settings()
    monkeypatch.delenv("SEMISEG_OFFLINE")
    monkeypatch.setenv("SEMISEG_HTTP_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="SEMISEG_HTTP_TIMEOUT='soon' is not a number"):
        zoo_settings()
    with pytest.raises(ValueError, match="`timeout` is 0 s"):
        zoo_settings(timeout=0)
    with pytest.raises(ValueError, match="`retries` is -1"):
        zoo_settings(timeout=1, retries=-1)


def test_zoo_does_not_import_torch():
    code = "import sys, semiseg_zoo.zoo; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
