"""Write a collection index for packages you host yourself (and for the test fixtures)."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .checksums import sha256_file
from .collection import normalize_doi
from .rdf import read_rdf

__all__ = ["build_collection"]


def _nickname(rdf: Mapping[str, Any]) -> str | None:
    config = rdf.get("config")
    bioimageio = config.get("bioimageio") if isinstance(config, Mapping) else None
    for value in (rdf.get("nickname"), (bioimageio or {}).get("nickname")):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _kind(rdf: Mapping[str, Any]) -> str | None:
    config = rdf.get("config")
    semiseg = config.get("semiseg") if isinstance(config, Mapping) else None
    kind = semiseg.get("kind") if isinstance(semiseg, Mapping) else None
    return kind if isinstance(kind, str) else None


def _describe(rdf: Mapping[str, Any], default_id: str) -> dict[str, Any]:
    entry_id = str(rdf.get("id") or default_id)
    entry: dict[str, Any] = {
        "id": entry_id,
        "type": str(rdf.get("type") or "model"),
        "name": " ".join(str(rdf.get("name") or entry_id).split()),
        "description": " ".join(str(rdf.get("description") or "").split()),
        "tags": [str(tag) for tag in rdf.get("tags") or []],
    }
    authors = [a.get("name") for a in rdf.get("authors") or [] if isinstance(a, Mapping)]
    if authors:
        entry["authors"] = [{"name": name} for name in authors if name]
    for key in ("license", "version", "format_version"):
        if rdf.get(key) is not None:
            entry[key] = str(rdf[key])
    optional = {
        "kind": _kind(rdf),
        "nickname": _nickname(rdf),
        "doi": normalize_doi(rdf.get("doi")),
    }
    entry.update({key: value for key, value in optional.items() if value})
    return entry


def build_collection(packages: Sequence[Path], base_url: str) -> dict[str, Any]:
    """A collection index (bioimage.io's ``collection.json`` shape) for packages served at
    ``base_url``.

    Each package zip becomes an entry with ``download_url`` = ``base_url`` + its file name and the
    zip's ``sha256``; each package folder (``rdf.yaml``, ``bioimageio.yaml`` or
    ``*.bioimageio.yaml``) one with ``rdf_source`` = ``base_url`` + folder + rdf name and
    ``rdf_sha256``. The id is the rdf's ``id``, else the zip's stem or the folder's name.

    Parameters
    ----------
    packages
        Package zips and folders, as they will be served below ``base_url``.
    base_url
        Where the packages will be served, e.g. ``"https://example.org/zoo/"``.

    Returns
    -------
    dict
        ``{"collection": [entry, ...]}``; write it with ``json.dump`` as ``collection.json``.

    Raises
    ------
    ValueError
        If a path is neither a zip nor a folder, or two packages have the same id.
    FileNotFoundError, ZooError
        If a package does not exist or has no readable rdf.
    """
    base = base_url if base_url.endswith("/") else base_url + "/"
    entries: list[dict[str, Any]] = []
    for package in map(Path, packages):
        if package.is_dir():
            rdf, rdf_name = read_rdf(package)
            entry = _describe(rdf, package.name)
            entry["rdf_source"] = f"{base}{quote(package.name)}/{quote(rdf_name)}"
            entry["rdf_sha256"] = sha256_file(package / rdf_name)
        elif package.is_file() and zipfile.is_zipfile(package):
            rdf, _ = read_rdf(package)
            entry = _describe(rdf, package.stem)
            entry["download_url"] = f"{base}{quote(package.name)}"
            entry["sha256"] = sha256_file(package)
        elif not package.exists():
            raise FileNotFoundError(f"package {package} does not exist")
        else:
            raise ValueError(f"{package} is neither a package zip nor a package folder")
        if any(other["id"] == entry["id"] for other in entries):
            raise ValueError(
                f"two packages have the id {entry['id']!r}; give one of them another `id` in its rdf"
            )
        entries.append(entry)
    return {"collection": entries}
