"""Build broken model packages for tests: copy a package zip, edit its rdf.yaml with pyyaml and
replace or drop files, keeping the sha256 of every replaced file in the rdf consistent."""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
MODELS = REPO_ROOT / "semiseg_zoo" / "models"
ENHANCER = MODELS / "enhancer-nuclei-lm.zip"  # the smallest built-in package (an enhancer)


def read_rdf(package: Path) -> dict[str, Any]:
    with zipfile.ZipFile(package) as archive:
        return yaml.safe_load(archive.read("rdf.yaml"))


def read_member(package: Path, name: str) -> bytes:
    with zipfile.ZipFile(package) as archive:
        return archive.read(name)


def _set_sha256(value: Any, name: str, digest: str) -> None:
    """Every ``{source: name, sha256: ...}`` mapping in the rdf gets ``digest``."""
    if isinstance(value, dict):
        if value.get("source") == name and "sha256" in value:
            value["sha256"] = digest
        for item in value.values():
            _set_sha256(item, name, digest)
    elif isinstance(value, list):
        for item in value:
            _set_sha256(item, name, digest)


def rewrite_package(
    target: Path,
    *,
    source: Path = ENHANCER,
    edit: Callable[[dict[str, Any]], None] | None = None,
    files: Mapping[str, bytes | None] | None = None,
) -> Path:
    """Copy ``source`` to ``target``, apply ``edit`` to its rdf and replace (bytes) or drop
    (``None``) the named ``files``."""
    files = dict(files or {})
    with zipfile.ZipFile(source) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
        members = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    del members["rdf.yaml"]
    for name, data in files.items():
        if data is None:
            members.pop(name, None)
        else:
            members[name] = data
            _set_sha256(rdf, name, hashlib.sha256(data).hexdigest())
    if edit is not None:
        edit(rdf)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as out:
        for name, data in members.items():
            out.writestr(name, data)
        out.writestr("rdf.yaml", yaml.safe_dump(rdf, sort_keys=False))
    return target
