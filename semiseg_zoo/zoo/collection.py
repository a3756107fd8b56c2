"""The collection index: bioimage.io's ``collection.json`` (or one of the same shape) → typed
entries, fetched with retries and kept in the cache for offline use."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from .errors import DownloadError, NotCachedError, ZooError
from .locations import is_http_url, local_path
from .settings import ZooSettings, zoo_settings

__all__ = [
    "CollectionEntry",
    "collection_cache_path",
    "fetch_index",
    "index_cache_path",
    "infer_kind",
    "load_collection",
    "normalize_doi",
    "parse_collection",
]

logger = logging.getLogger(__name__)

# Tags that reveal a semiseg network kind when an entry has no config.semiseg.kind.
_KIND_TAGS = (
    ("enhancer", ("shallow2deep",)),
    ("affinity", ("affinity", "affinities", "mutex-watershed")),
    ("embedding", ("embedding", "embeddings")),
)
_DOI_PREFIXES = ("https://doi.org/", "http://doi.org/", "https://dx.doi.org/", "http://dx.doi.org/")
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")


@dataclass(frozen=True)
class CollectionEntry:
    """One resource of a collection index.

    Attributes
    ----------
    id
        The index's id, e.g. ``"affable-shark"`` or ``"enhancer-nuclei-lm"``.
    name, description, type
        As the index gives them (``type``: ``"model"``, ``"dataset"``, ...).
    tags
        As the index gives them.
    kind
        semiseg network kind (``"teacher"``, ``"enhancer"``, ``"embedding"``, ``"affinity"``) from
        ``config.semiseg.kind`` or a ``kind`` field, else inferred from the tags; ``None`` if unknown.
    source
        Absolute URL of the package zip (``download_url``) or of its rdf YAML (``rdf_source``).
    sha256
        sha256 of ``source`` if the index gives it (``sha256`` / ``rdf_sha256``).
    dois
        Bare, lower-case DOIs (``10.5281/zenodo.123``) from ``doi``, ``concept_doi``, ``version_doi``.
    aliases
        Other names that find the entry: its ``nickname`` and ``bioimage-io/<id>``.
    version, license
        If the index gives them.
    authors
        Author names.
    """

    id: str
    name: str
    description: str
    type: str
    tags: tuple[str, ...]
    kind: str | None
    source: str
    sha256: str | None
    dois: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    version: str | None = None
    license: str | None = None
    authors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in self.__dict__.items()
        }


def normalize_doi(text: object) -> str | None:
    """The bare, lower-case form of a DOI (``10.xxxx/...``), or ``None`` if ``text`` is not one.

    Accepts ``10.5281/zenodo.123``, ``doi:10.5281/zenodo.123`` and ``https://doi.org/10...``.

    Examples
    --------
    >>> normalize_doi("https://doi.org/10.5281/Zenodo.5764892")
    '10.5281/zenodo.5764892'
    >>> normalize_doi("affable-shark") is None
    True
    """
    if not isinstance(text, str):
        return None
    value = text.strip()
    lower = value.lower()
    for prefix in (*_DOI_PREFIXES, "doi:"):
        if lower.startswith(prefix):
            value = value[len(prefix) :].strip()
            break
    return value.lower() if _DOI.match(value) else None


def infer_kind(tags: Sequence[str]) -> str | None:
    """The semiseg network kind the tags reveal (``shallow2deep`` → enhancer, ``affinity`` or
    ``mutex-watershed`` → affinity, ``embedding`` → embedding), else ``None``."""
    lowered = {tag.lower() for tag in tags}
    for kind, kind_tags in _KIND_TAGS:
        if lowered.intersection(kind_tags):
            return kind
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = " ".join(str(value).split())
        return text or None
    return None


def _author_names(value: Any) -> tuple[str, ...]:
    names = []
    for author in value if isinstance(value, list) else ():
        name = _text(author.get("name")) if isinstance(author, Mapping) else _text(author)
        if name:
            names.append(name)
    return tuple(names)


def _kind(raw: Mapping[str, Any], tags: Sequence[str]) -> str | None:
    config = raw.get("config")
    semiseg = config.get("semiseg") if isinstance(config, Mapping) else None
    if isinstance(semiseg, Mapping) and _text(semiseg.get("kind")):
        return _text(semiseg.get("kind"))
    return _text(raw.get("kind")) or infer_kind(tags)


def _source(raw: Mapping[str, Any], base_url: str) -> tuple[str, str | None] | None:
    for key, sha_key in (
        ("download_url", "sha256"),
        ("rdf_source", "rdf_sha256"),
        ("source", "sha256"),
    ):
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            source = urljoin(base_url, value.strip())
            sha256 = raw.get(sha_key)
            return source, sha256.strip().lower() if isinstance(sha256, str) else None
    return None


def _entry(raw: Any, base_url: str) -> CollectionEntry | None:
    if not isinstance(raw, Mapping):
        return None
    entry_id = _text(raw.get("id"))
    located = _source(raw, base_url)
    if entry_id is None or located is None:
        return None
    source, sha256 = located
    # A remote index may only point to remote packages, never into the user's file system.
    if is_http_url(base_url) and not is_http_url(source):
        return None
    tags = tuple(tag for tag in (_text(t) for t in raw.get("tags") or ()) if tag)
    dois = (normalize_doi(raw.get(key)) for key in ("doi", "concept_doi", "version_doi"))
    aliases = [_text(raw.get("nickname"))]
    if not entry_id.startswith("bioimage-io/"):
        aliases.append(f"bioimage-io/{entry_id}")
    return CollectionEntry(
        id=entry_id,
        name=_text(raw.get("name")) or entry_id,
        description=_text(raw.get("description")) or "",
        type=_text(raw.get("type")) or "model",
        tags=tags,
        kind=_kind(raw, tags),
        source=source,
        sha256=sha256,
        dois=tuple(dict.fromkeys(doi for doi in dois if doi)),
        aliases=tuple(dict.fromkeys(alias for alias in aliases if alias and alias != entry_id)),
        version=_text(raw.get("version")),
        license=_text(raw.get("license")),
        authors=_author_names(raw.get("authors")),
    )


def parse_collection(data: Any, *, base_url: str) -> list[CollectionEntry]:
    """Turn a parsed collection index into entries.

    Parameters
    ----------
    data
        ``{"collection": [entry, ...]}`` (bioimage.io's shape) or a bare list of entries.
    base_url
        The index's own URL; relative ``download_url``/``rdf_source``/``source`` resolve against it.

    Returns
    -------
    list of CollectionEntry
        In index order. Entries without an id or a source (or, in a remote index, with a source
        that is not http(s)) are left out and counted in one logged warning.

    Raises
    ------
    ZooError
        Naming ``base_url`` if ``data`` has neither shape.
    """
    items = data.get("collection") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise ZooError(
            f"collection index {base_url} has no list of entries: expected "
            '{"collection": [...]} or a JSON list'
        )
    entries = []
    for raw in items:
        entry = _entry(raw, base_url)
        if entry is not None:
            entries.append(entry)
    ignored = len(items) - len(entries)
    if ignored:
        logger.warning(
            "%d of %d entries of the collection index %s were ignored (no id, or no usable "
            "download_url/rdf_source)",
            ignored,
            len(items),
            base_url,
        )
    return entries


def _parse_json(content: bytes, *, source: str) -> Any:
    try:
        return json.loads(content)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ZooError(f"index {source} is not valid JSON ({error})") from None


def index_cache_path(settings: ZooSettings, url: str) -> Path:
    """Where the cached copy of the index at ``url`` lives:
    ``<cache>/collections/<sha256(url)[:16]>.json``."""
    key = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return settings.cache_dir / "collections" / f"{key}.json"


def collection_cache_path(settings: ZooSettings) -> Path:
    """Where the cached copy of ``settings.collection`` lives (see :func:`index_cache_path`)."""
    return index_cache_path(settings, settings.collection)


def _saved_at(path: Path) -> str:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).isoformat(sep=" ", timespec="minutes")


def fetch_index(
    url: str, settings: ZooSettings, *, refresh: bool = False, progress: bool = False
) -> tuple[Any, str]:
    """Read a JSON index (collection or id map) from a path or URL, through the cache.

    A local file (path or ``file://`` URL) is read in place. A remote one is fetched with retries
    (see :func:`~semiseg_zoo.zoo.download.download_file`) and a copy is kept at
    :func:`index_cache_path` (renamed into place, never half-written). The cached copy is used
    without a request when it is younger than ``settings.index_max_age`` (unless ``refresh``),
    when offline, and, with a logged warning, when the fetch fails.

    Returns
    -------
    tuple of (object, str)
        The parsed JSON and the URL relative links in it resolve against.

    Raises
    ------
    NotCachedError
        If offline and the index was never fetched.
    DownloadError
        If the fetch fails and there is no cached copy.
    ZooError
        Naming the URL if the content is not valid JSON.
    FileNotFoundError
        If a local index does not exist.
    ValueError
        If ``url`` is neither a path nor an http(s)/file URL.
    """
    path = local_path(url)
    if path is not None:
        if not path.is_file():
            raise FileNotFoundError(
                f"index {path} does not exist; point SEMISEG_COLLECTION (or --collection) to a "
                "collection.json file or URL"
            )
        return _parse_json(path.read_bytes(), source=str(path)), path.resolve().as_uri()
    if not is_http_url(url):
        raise ValueError(f"index {url!r} is neither an http(s) URL nor a local path")
    cached = index_cache_path(settings, url)
    if settings.offline:
        if not cached.is_file():
            raise NotCachedError(
                url, settings.cache_dir, what="collection index", command="semiseg-zoo list"
            )
        return _parse_json(cached.read_bytes(), source=f"{url} (cached as {cached})"), url
    if not refresh and cached.is_file():
        if time.time() - cached.stat().st_mtime < settings.index_max_age:
            return _parse_json(cached.read_bytes(), source=f"{url} (cached as {cached})"), url
    from .download import download_file

    fetched = cached.with_name(cached.name + ".download")
    try:
        download_file(url, fetched, sha256=None, settings=settings, progress=progress)
    except DownloadError as error:
        if not cached.is_file():
            raise
        logger.warning("%s; using the cached copy from %s", error, _saved_at(cached))
        return _parse_json(cached.read_bytes(), source=f"{url} (cached as {cached})"), url
    try:
        data = _parse_json(fetched.read_bytes(), source=url)
    except BaseException:
        fetched.unlink(missing_ok=True)
        raise
    fetched.replace(cached)  # atomic: readers see the old index or the new one
    return data, url


def load_collection(
    settings: ZooSettings | None = None, *, refresh: bool = False, progress: bool = False
) -> list[CollectionEntry]:
    """Load the collection index named by ``settings.collection``.

    A local index (path or ``file://`` URL) is read in place; a remote one goes through the cache
    (see :func:`fetch_index`): it is fetched with retries, kept at :func:`collection_cache_path`,
    reused while younger than ``settings.index_max_age``, used offline, and used with a warning
    (logged, shown on stderr) when a fetch fails.

    Parameters
    ----------
    settings
        Default: :func:`~semiseg_zoo.zoo.settings.zoo_settings`.
    refresh
        Fetch the index even if the cached copy is recent.
    progress
        Show a download progress bar on stderr.

    Returns
    -------
    list of CollectionEntry

    Raises
    ------
    NotCachedError
        If offline and the index was never fetched.
    DownloadError
        If the fetch fails and there is no cached copy.
    ZooError
        Naming the URL if the index is not valid JSON or has the wrong shape.
    FileNotFoundError
        If a local index does not exist.
    """
    settings = settings if settings is not None else zoo_settings()
    data, base_url = fetch_index(settings.collection, settings, refresh=refresh, progress=progress)
    return parse_collection(data, base_url=base_url)
