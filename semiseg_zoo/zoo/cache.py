"""The package cache on disk.

Layout below ``settings.cache_dir``::

    packages/<key>/              one complete package: package.zip, or an rdf YAML and its files
    packages/.partial-<key>/     a package being downloaded (kept after a failed transfer to resume)
    packages/<key>/.semiseg-zoo.json   its manifest (source URL, sha256, main file, date)
    refs/<sha256(reference)[:16]>.json  what the user asked for (id, DOI, URL) → <key>
    collections/<sha256(url)[:16]>.json cached collection indexes

A package is built in ``.partial-<key>`` and renamed to ``<key>`` only when every file is downloaded
and verified, so ``packages/<key>/`` is either absent or complete. Two processes downloading the
same package at the same moment share the partial folder; the sha256 checks catch the result.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .atomic import atomic_write_json
from .errors import DownloadError, ZooError
from .settings import ZooSettings

__all__ = [
    "CachedPackage",
    "cached_package",
    "clear_cache",
    "install_package",
    "list_cached",
    "lookup_reference",
    "package_key",
    "record_reference",
    "staging_folder",
]

MANIFEST = ".semiseg-zoo.json"
_SLUG = re.compile(r"[^a-z0-9._-]+")


@dataclass(frozen=True)
class CachedPackage:
    """A reference the cache can answer without the network.

    Attributes
    ----------
    reference
        What was asked for (id, DOI or URL).
    path
        The cached package zip or rdf YAML.
    size
        Bytes of the cached package (all its files).
    date
        When the package was downloaded (UTC).
    source
        The URL it was downloaded from.
    """

    reference: str
    path: Path
    size: int
    date: dt.datetime
    source: str


def _digest(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def package_key(name: str, source: str) -> str:
    """A readable, file-system-safe folder name: a slug of ``name`` + ``-`` + sha256(source)[:12].

    Examples
    --------
    >>> package_key("Affable Shark!", "https://example.org/rdf.yaml")[:14]
    'affable-shark-'
    """
    slug = _SLUG.sub("-", name.lower()).strip("-._")[:64].strip("-._") or "package"
    return f"{slug}-{_digest(source, 12)}"


def _packages(settings: ZooSettings) -> Path:
    return settings.cache_dir / "packages"


def _refs(settings: ZooSettings) -> Path:
    return settings.cache_dir / "refs"


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _manifest(folder: Path) -> dict[str, Any] | None:
    manifest = _read_json(folder / MANIFEST)
    if manifest is None or not isinstance(manifest.get("main"), str):
        return None
    return manifest


def cached_package(settings: ZooSettings, key: str, *, sha256: str | None) -> Path | None:
    """The main file of the complete cached package ``key``, or ``None``.

    Parameters
    ----------
    settings
        Where the cache is.
    key
        From :func:`package_key`.
    sha256
        If given, the cached package counts only if it was downloaded with this declared sha256.
    """
    folder = _packages(settings) / key
    manifest = _manifest(folder)
    if manifest is None:
        return None
    if sha256 is not None and (manifest.get("sha256") or "").lower() != sha256.lower():
        return None
    main = folder / manifest["main"]
    return main if main.exists() else None


@contextmanager
def staging_folder(settings: ZooSettings, key: str) -> Iterator[Path]:
    """The folder ``packages/.partial-<key>`` to build package ``key`` in.

    It survives a :class:`DownloadError` or an interrupt (a later call resumes the ``.part``
    files in it) and is removed on any other error (a checksum mismatch, an unsafe package); on
    success :func:`install_package` has renamed it to ``packages/<key>``.
    """
    staging = _packages(settings) / f".partial-{key}"
    staging.mkdir(parents=True, exist_ok=True)
    try:
        yield staging
    except (DownloadError, KeyboardInterrupt):
        if staging.is_dir() and not any(p.is_file() for p in staging.rglob("*")):
            shutil.rmtree(staging, ignore_errors=True)
        raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def install_package(
    settings: ZooSettings, key: str, staging: Path, *, main: str, source: str, sha256: str | None
) -> Path:
    """Write the manifest into a complete staging folder and rename it to ``packages/<key>``
    (replacing an older copy). Returns the main file (package zip or rdf YAML)."""
    atomic_write_json(
        staging / MANIFEST,
        {
            "source": source,
            "sha256": sha256,
            "main": main,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        },
    )
    folder = _packages(settings) / key
    trash = None
    if folder.exists():
        trash = folder.with_name(f".trash-{key}-{os.getpid()}")
        os.replace(folder, trash)
    try:
        os.replace(staging, folder)
    except OSError:
        # Another process installed the same package meanwhile: use its copy.
        existing = cached_package(settings, key, sha256=sha256)
        if existing is None:
            raise
        return existing
    finally:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
    return folder / main


def _ref_file(settings: ZooSettings, reference: str) -> Path:
    return _refs(settings) / f"{_digest(reference, 16)}.json"


def record_reference(settings: ZooSettings, reference: str, path: Path) -> None:
    """Remember that ``reference`` resolved to the cached package file ``path``."""
    folder = path.parent
    if folder.parent != _packages(settings):
        raise ValueError(f"{path} is not a package file in the cache {settings.cache_dir}")
    atomic_write_json(
        _ref_file(settings, reference),
        {"reference": reference, "key": folder.name, "main": path.name},
    )


def lookup_reference(settings: ZooSettings, reference: str) -> Path | None:
    """The cached package file ``reference`` resolved to before, if it is still complete."""
    data = _read_json(_ref_file(settings, reference))
    if data is None or data.get("reference") != reference or not isinstance(data.get("key"), str):
        return None
    return cached_package(settings, data["key"], sha256=None)


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def list_cached(settings: ZooSettings) -> list[CachedPackage]:
    """Every cached reference whose package is complete, sorted by reference.

    Several references (an id and its DOI) may share one package.
    """
    found = []
    refs = _refs(settings)
    for ref_file in sorted(refs.glob("*.json")) if refs.is_dir() else ():
        data = _read_json(ref_file)
        if data is None or not isinstance(data.get("key"), str):
            continue
        path = cached_package(settings, data["key"], sha256=None)
        if path is None:
            continue
        manifest = _manifest(path.parent) or {}
        try:
            date = dt.datetime.fromisoformat(str(manifest.get("date")))
        except ValueError:
            date = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
        found.append(
            CachedPackage(
                reference=str(data.get("reference")),
                path=path,
                size=_folder_size(path.parent),
                date=date,
                source=str(manifest.get("source", "")),
            )
        )
    return sorted(found, key=lambda cached: cached.reference)


def clear_cache(settings: ZooSettings, reference: str | None = None) -> int:
    """Remove cached packages.

    Parameters
    ----------
    settings
        Where the cache is.
    reference
        Remove only this reference, and its package if no other reference uses it; ``None``
        removes every package, reference and cached collection index (other files in the cache
        folder are left alone).

    Returns
    -------
    int
        The number of package folders removed.

    Raises
    ------
    ZooError
        If ``reference`` is not in the cache.
    """
    if reference is None:
        packages = _packages(settings)
        count = (
            sum(1 for p in packages.iterdir() if p.is_dir() and not p.name.startswith("."))
            if packages.is_dir()
            else 0
        )
        for name in ("packages", "refs", "collections"):
            shutil.rmtree(settings.cache_dir / name, ignore_errors=True)
        return count
    ref_file = _ref_file(settings, reference)
    data = _read_json(ref_file)
    if data is None or data.get("reference") != reference:
        raise ZooError(
            f"{reference!r} is not in the cache {settings.cache_dir}; `semiseg-zoo cache` lists "
            "the cached references"
        )
    ref_file.unlink()
    key = data.get("key")
    others = [
        other
        for other in (_read_json(p) for p in _refs(settings).glob("*.json"))
        if other is not None and other.get("key") == key
    ]
    folder = _packages(settings) / str(key)
    if others or not folder.is_dir():
        return 0
    shutil.rmtree(folder)
    return 1
