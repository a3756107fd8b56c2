"""Where the zoo caches packages and which collection index it reads: one typed settings object,
read from the environment once and passed down explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "COLLECTION_ENV",
    "DEFAULT_COLLECTION",
    "ID_MAP_ENV",
    "OFFLINE_ENV",
    "RDF_PATTERN_ENV",
    "TIMEOUT_ENV",
    "ZooSettings",
    "zoo_settings",
]

DEFAULT_COLLECTION = "https://uk1s3.embassy.ebi.ac.uk/public-datasets/bioimage.io/collection.json"
CACHE_ENV = "SEMISEG_CACHE"
COLLECTION_ENV = "SEMISEG_COLLECTION"
ID_MAP_ENV = "BIOIMAGEIO_ID_MAP"
RDF_PATTERN_ENV = "BIOIMAGEIO_COLLECTION_HTTP_PATTERN"
OFFLINE_ENV = "SEMISEG_OFFLINE"
TIMEOUT_ENV = "SEMISEG_HTTP_TIMEOUT"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off"}


@dataclass(frozen=True)
class ZooSettings:
    """How the zoo layer finds, downloads and caches packages.

    Attributes
    ----------
    cache_dir
        Root of the cache: ``packages/``, ``refs/`` and ``collections/`` live below it.
    collection
        The collection index (JSON): an http(s) URL, a local path or a ``file://`` URL.
    id_map
        Optional bioimage.io ``id_map.json`` (URL or path), ``{id: {"source": url, "sha256": hex}}``,
        consulted for ids the collection does not list.
    rdf_pattern
        Optional URL pattern of an id's rdf, e.g. ``"http://127.0.0.1:8000/{bioimageio_id}/rdf.yaml"``,
        tried last for ids the collection and the id map do not know.
    offline
        Never touch the network: only cached packages and cached indexes are used.
    timeout
        Seconds to wait for a connection or for the next bytes of a response.
    retries
        How many times a failed transfer (timeout, connection error, HTTP 5xx or 429, truncated
        body) is tried again; a download makes at most ``retries + 1`` requests.
    backoff
        Seconds to wait before the first retry; doubled before each further one.
    index_max_age
        A cached collection index younger than this many seconds is used without fetching it
        again (``refresh=True`` always fetches).
    """

    cache_dir: Path
    collection: str
    id_map: str | None = None
    rdf_pattern: str | None = None
    offline: bool = False
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5
    index_max_age: float = 600.0

    def __post_init__(self) -> None:
        if self.timeout <= 0:
            raise ValueError(f"`timeout` is {self.timeout} s; pass a positive number of seconds")
        if self.retries < 0:
            raise ValueError(f"`retries` is {self.retries}; pass 0 or more")
        if self.backoff < 0 or self.index_max_age < 0:
            raise ValueError(
                f"`backoff` ({self.backoff}) and `index_max_age` ({self.index_max_age}) "
                "must be 0 or more seconds"
            )


def _env_flag(name: str) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(
        f"{name}={os.environ[name]!r} is not a yes/no value; use 1/true/yes or 0/false/no"
    )


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise ValueError(
            f"{name}={value!r} is not a number of seconds; use e.g. {name}=30"
        ) from None


def zoo_settings(
    *,
    cache_dir: Path | str | None = None,
    collection: str | Path | None = None,
    id_map: str | None = None,
    rdf_pattern: str | None = None,
    offline: bool | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    backoff: float | None = None,
    index_max_age: float | None = None,
) -> ZooSettings:
    """Build :class:`ZooSettings` from the environment; keyword arguments that are not ``None`` win.

    Environment variables: ``SEMISEG_CACHE`` (default: the platform's user cache dir for
    ``semiseg-zoo``), ``SEMISEG_COLLECTION`` (default: bioimage.io's collection.json),
    ``BIOIMAGEIO_ID_MAP``, ``BIOIMAGEIO_COLLECTION_HTTP_PATTERN``, ``SEMISEG_OFFLINE``
    (``1``/``true``/``yes``) and ``SEMISEG_HTTP_TIMEOUT`` (seconds).

    Returns
    -------
    ZooSettings

    Raises
    ------
    ValueError
        If ``SEMISEG_OFFLINE`` or ``SEMISEG_HTTP_TIMEOUT`` cannot be read, or a value is out of range.

    Examples
    --------
    >>> zoo_settings(cache_dir="/tmp/zoo-cache", offline=True).offline
    True
    """
    if cache_dir is None:
        env_cache = os.environ.get(CACHE_ENV, "").strip()
        if env_cache:
            cache_dir = env_cache
        else:
            import platformdirs

            cache_dir = platformdirs.user_cache_dir("semiseg-zoo")
    if collection is None:
        collection = os.environ.get(COLLECTION_ENV, "").strip() or DEFAULT_COLLECTION
    if id_map is None:
        id_map = os.environ.get(ID_MAP_ENV, "").strip() or None
    if rdf_pattern is None:
        rdf_pattern = os.environ.get(RDF_PATTERN_ENV, "").strip() or None
    defaults = ZooSettings(cache_dir=Path(), collection="")
    return ZooSettings(
        cache_dir=Path(cache_dir).expanduser(),
        collection=str(collection),
        id_map=id_map,
        rdf_pattern=rdf_pattern,
        offline=_env_flag(OFFLINE_ENV) if offline is None else offline,
        timeout=_env_float(TIMEOUT_ENV, defaults.timeout) if timeout is None else timeout,
        retries=defaults.retries if retries is None else retries,
        backoff=defaults.backoff if backoff is None else backoff,
        index_max_age=defaults.index_max_age if index_max_age is None else index_max_age,
    )
