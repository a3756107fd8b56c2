"""Reference (local path, URL, DOI, id, nickname) → a local, verified package file."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from .cache import cached_package, lookup_reference, record_reference
from .collection import fetch_index, load_collection, normalize_doi
from .errors import DownloadError, NotCachedError, UnknownModelError, ZooError
from .fetch import PackageSource, fetch_package
from .locations import has_url_scheme, is_http_url, local_path
from .search import find_entry
from .settings import ID_MAP_ENV, RDF_PATTERN_ENV, ZooSettings, zoo_settings

__all__ = ["locate_package", "resolve_package"]

logger = logging.getLogger(__name__)

_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_PACKAGE_SUFFIXES = (".zip", ".yaml", ".yml")


def _looks_like_path(reference: str) -> bool:
    if reference.startswith("bioimage-io/"):
        return False
    return (
        "/" in reference
        or "\\" in reference
        or reference.startswith((".", "~"))
        or reference.lower().endswith(_PACKAGE_SUFFIXES)
    )


def _url_name(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or ''}{parts.path}"


def _from_id_map(
    model_id: str, id_map: str, settings: ZooSettings, *, refresh: bool
) -> PackageSource | None:
    data, base_url = fetch_index(id_map, settings, refresh=refresh)
    if not isinstance(data, Mapping):
        raise ZooError(f"id map {id_map} ({ID_MAP_ENV}) is not a JSON object of ids")
    item = data.get(model_id)
    if isinstance(item, str):
        item = {"source": item}
    if not isinstance(item, Mapping) or not isinstance(item.get("source"), str):
        return None
    sha256 = item.get("sha256")
    return PackageSource(
        url=urljoin(base_url, item["source"]),
        sha256=sha256.lower() if isinstance(sha256, str) else None,
        name=model_id,
    )


def _from_pattern(model_id: str, pattern: str) -> PackageSource | None:
    if not _SAFE_ID.match(model_id):
        return None
    try:
        url = pattern.format(bioimageio_id=model_id)
    except (KeyError, IndexError, ValueError):
        raise ValueError(
            f"{RDF_PATTERN_ENV}={pattern!r} is not a valid pattern; use "
            "{bioimageio_id} as the only placeholder"
        ) from None
    return PackageSource(url=url, sha256=None, name=model_id)


def locate_package(
    reference: str, settings: ZooSettings | None = None, *, refresh: bool = False
) -> PackageSource:
    """Where the package a URL, DOI, id or nickname names comes from (no package download).

    An http(s) URL is its own source. A DOI, id, ``bioimage-io/<id>`` or nickname is looked up
    in the collection index; ids it does not list are tried in ``settings.id_map`` and then as
    ``settings.rdf_pattern.format(bioimageio_id=id)``.

    Parameters
    ----------
    reference
        What the user asked for.
    settings
        Default: :func:`~semiseg_zoo.zoo.settings.zoo_settings`.
    refresh
        Fetch the collection index even if the cached copy is recent.

    Returns
    -------
    PackageSource

    Raises
    ------
    UnknownModelError
        If nothing knows the reference (with close matches from the collection).
    DownloadError, NotCachedError, ZooError
        If the collection index cannot be read and no id map or pattern can stand in.
    """
    settings = settings if settings is not None else zoo_settings()
    reference = reference.strip()
    doi = normalize_doi(reference)
    if doi is None and is_http_url(reference):
        return PackageSource(url=reference, sha256=None, name=_url_name(reference))
    try:
        entries = load_collection(settings, refresh=refresh)
    except ZooError as error:
        collection_error: ZooError = error
    else:
        try:
            entry = find_entry(entries, reference, where=settings.collection)
        except UnknownModelError as error:
            collection_error = error
        else:
            return PackageSource(url=entry.source, sha256=entry.sha256, name=entry.id)
    if doi is None:
        model_id = reference.removeprefix("bioimage-io/")
        if settings.id_map and not settings.offline:
            source = _from_id_map(model_id, settings.id_map, settings, refresh=refresh)
            if source is not None:
                return source
        if settings.rdf_pattern:
            source = _from_pattern(model_id, settings.rdf_pattern)
            if source is not None:
                return source
    raise collection_error


def _resolve_offline(reference: str, settings: ZooSettings) -> Path:
    cached = lookup_reference(settings, reference)
    if cached is not None:
        return cached
    try:
        source = locate_package(reference, settings)
    except ZooError:
        raise NotCachedError(reference, settings.cache_dir) from None
    source_path = local_path(source.url)
    if source_path is not None and source_path.exists():
        return source_path
    cached = cached_package(settings, source.key, sha256=source.sha256)
    if cached is None:
        raise NotCachedError(reference, settings.cache_dir)
    record_reference(settings, reference, cached)
    return cached


def resolve_package(
    reference: str,
    settings: ZooSettings | None = None,
    *,
    progress: bool = True,
    refresh: bool = False,
) -> Path:
    """A local path to the package ``reference`` names, downloading and verifying it if needed.

    Parameters
    ----------
    reference
        One of: an existing local package (zip, folder or rdf YAML; returned unchanged); an
        http(s) URL of a package zip or of an rdf YAML; a DOI (``10.5281/zenodo.123``,
        ``doi:...``, ``https://doi.org/...``); a collection id, ``bioimage-io/<id>`` or nickname.
    settings
        Default: :func:`~semiseg_zoo.zoo.settings.zoo_settings` (environment variables).
    progress
        Progress bars on stderr while downloading.
    refresh
        Download the collection index and the package again even if they are cached.

    Returns
    -------
    Path
        ``<cache>/packages/<key>/package.zip`` for zips, ``<cache>/packages/<key>/<rdf name>``
        for rdf URLs (its files beside it), or the local path itself.

    Raises
    ------
    FileNotFoundError
        If ``reference`` looks like a local path that does not exist.
    NotCachedError
        If offline (``settings.offline``) and the package is not in the cache.
    UnknownModelError
        If no collection entry, id-map entry or pattern knows the id or DOI.
    DownloadError
        If a download fails after its retries (names the URL, the status and the attempts).
    ChecksumError
        If the package or one of its files differs from its declared sha256; nothing is cached.
    UnsafePackageError
        If the package would write or read outside itself; nothing is cached.

    Notes
    -----
    Online, an already cached, complete package from the same source with the same declared
    sha256 is reused without a download; the collection index is fetched again only when its
    cached copy is older than ``settings.index_max_age``. Every resolved reference is recorded
    (``<cache>/refs/``) so that it resolves offline later.

    Examples
    --------
    >>> path = resolve_package("affable-shark")  # doctest: +SKIP
    """
    settings = settings if settings is not None else zoo_settings()
    reference = reference.strip()
    if not reference:
        raise ValueError("the package reference is empty; pass an id, DOI, URL or path")
    is_doi = normalize_doi(reference) is not None
    if not is_doi and not is_http_url(reference):
        path = local_path(reference)
        if path is not None and path.exists():
            return path
        if path is None and has_url_scheme(reference):
            raise ValueError(f"cannot resolve {reference!r}: use an http(s) URL, a path or an id")
        if path is not None and (
            reference.lower().startswith("file:") or _looks_like_path(reference)
        ):
            raise FileNotFoundError(f"package {reference} does not exist")
    if settings.offline:
        return _resolve_offline(reference, settings)
    try:
        source = locate_package(reference, settings, refresh=refresh)
    except DownloadError as error:
        cached = None if refresh else lookup_reference(settings, reference)
        if cached is None:
            raise
        logger.warning("%s; using the cached package %s", error, cached)
        return cached
    source_path = local_path(source.url)
    if source_path is not None:  # a local collection pointing at local packages
        if not source_path.exists():
            raise FileNotFoundError(f"package {source.url} (for {reference!r}) does not exist")
        return source_path
    cached = None if refresh else cached_package(settings, source.key, sha256=source.sha256)
    path = cached if cached is not None else fetch_package(source, settings, progress=progress)
    record_reference(settings, reference, path)
    return path
