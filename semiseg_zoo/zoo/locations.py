"""Tell URLs from local paths: http(s) URLs are downloaded, local paths and ``file://`` URLs are
read in place."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

__all__ = ["has_url_scheme", "is_http_url", "local_path"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_http_url(location: str) -> bool:
    """``True`` for ``http://`` and ``https://`` URLs.

    Examples
    --------
    >>> is_http_url("https://example.org/rdf.yaml"), is_http_url("rdf.yaml")
    (True, False)
    """
    return urlsplit(location).scheme.lower() in ("http", "https") and "://" in location


def has_url_scheme(location: str) -> bool:
    """``True`` for anything that looks like ``scheme://...`` (http, file, ftp, s3, ...)."""
    return bool(_SCHEME.match(location))


def local_path(location: str | Path) -> Path | None:
    """The local path that ``location`` names (a path or a ``file://`` URL), else ``None``.

    Examples
    --------
    >>> str(local_path("file:///tmp/x.zip")), local_path("https://example.org/x.zip")
    ('/tmp/x.zip', None)
    """
    if isinstance(location, Path):
        return location
    if location.lower().startswith("file://"):
        parts = urlsplit(location)
        return Path(url2pathname(unquote(parts.path)))
    if has_url_scheme(location):
        return None
    return Path(location).expanduser()
