"""Download one file over HTTP(S) with retries, resume and sha256 verification.

The bytes go to ``<destination>.part``; only a complete, verified file is renamed to
``destination``, so a destination that exists is always whole.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from tqdm import tqdm

from .checksums import sha256_file, verify_sha256
from .errors import DownloadError, NotCachedError
from .locations import is_http_url, local_path
from .settings import ZooSettings

__all__ = ["download_file", "part_path"]

_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-\d+/(\d+|\*)$")
_UNSATISFIED_RANGE = re.compile(r"^bytes\s+\*/(\d+)$")


class _Retry(Exception):
    """A failure worth another attempt (timeout, connection error, 5xx/429, truncated body)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _GiveUp(Exception):
    """A failure that another attempt will not fix (404, 403, ...)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def part_path(destination: Path) -> Path:
    """Where :func:`download_file` keeps the incomplete download of ``destination``."""
    return destination.with_name(destination.name + ".part")


def _label(url: str) -> str:
    name = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return name or url


def _attempt(client: httpx.Client, url: str, part: Path, *, progress: bool) -> None:
    """One GET; appends to ``part`` when the server honours the ``Range`` request."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    try:
        with client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 416 and offset:
                match = _UNSATISFIED_RANGE.match(response.headers.get("content-range", ""))
                if match and int(match.group(1)) == offset:
                    return  # the .part already holds the whole file
                part.unlink()
                raise _Retry(f"the server refused to resume at byte {offset} (HTTP 416)", status)
            if status in (404, 410):
                raise _GiveUp(f"not found (HTTP {status})", status)
            if status == 429 or status >= 500:
                raise _Retry(f"HTTP {status} {response.reason_phrase}".rstrip(), status)
            if status not in (200, 206):
                raise _GiveUp(f"HTTP {status} {response.reason_phrase}".rstrip(), status)
            if status == 206:
                match = _CONTENT_RANGE.match(response.headers.get("content-range", ""))
                if match is None or int(match.group(1)) != offset:
                    part.unlink(missing_ok=True)
                    raise _Retry("the server answered a different byte range; starting over")
            else:
                offset = 0  # the server ignored the Range header: start from the beginning
            length_header = response.headers.get("content-length")
            length = int(length_header) if length_header and length_header.isdigit() else None
            # Content-Length counts encoded bytes; only compare when the body is not encoded.
            encoded = response.headers.get("content-encoding", "identity") != "identity"
            total = offset + length if length is not None else None
            received = 0
            with (
                open(part, "ab" if offset else "wb") as out,
                tqdm(
                    total=total,
                    initial=offset,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=_label(url),
                    file=sys.stderr,
                    disable=not progress,
                    leave=False,
                ) as bar,
            ):
                for chunk in response.iter_bytes():
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if length is not None and not encoded and received < length:
                raise _Retry(f"transfer truncated at {offset + received} of {total} bytes", status)
    except httpx.TimeoutException:
        raise _Retry(f"timed out (no data for {client.timeout.read} s)") from None
    except httpx.TransportError as error:
        raise _Retry(f"connection error: {' '.join(str(error).split())}") from None
    except httpx.RequestError as error:
        raise _GiveUp(f"{type(error).__name__}: {error}") from None


def _finish(part: Path, destination: Path, sha256: str | None, *, name: str) -> Path:
    if sha256 is not None:
        try:
            verify_sha256(sha256_file(part), sha256, name=name)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, destination)
    return destination


def _copy_local(source: Path, destination: Path, sha256: str | None) -> Path:
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist or is not a file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(destination)
    shutil.copyfile(source, part)
    return _finish(part, destination, sha256, name=str(source))


def download_file(
    url: str,
    destination: Path,
    *,
    sha256: str | None,
    settings: ZooSettings,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``destination``, resuming, retrying and verifying.

    The bytes go to ``<destination>.part``. An existing ``.part`` is resumed with a
    ``Range: bytes=N-`` request (a server that answers 200 instead of 206 restarts it). Timeouts,
    connection errors, HTTP 5xx and 429, and bodies shorter than their Content-Length are tried
    again (resuming) up to ``settings.retries`` times, waiting ``settings.backoff`` seconds,
    doubled each time; other HTTP errors fail at once. The complete file is checked against
    ``sha256`` and only then renamed to ``destination``. Local paths and ``file://`` URLs are
    copied (and verified), offline too.

    Parameters
    ----------
    url
        http(s) URL, ``file://`` URL or local path.
    destination
        The file to write; its folder is created; an existing file is replaced.
    sha256
        Expected sha256 (hex) of the content, or ``None`` to skip the check.
    settings
        Timeout, retries, backoff and the offline switch.
    progress
        Show a progress bar (bytes, with total size) on stderr.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    NotCachedError
        If ``settings.offline`` and ``url`` is an http(s) URL.
    DownloadError
        Naming the URL, the HTTP status or error and the number of attempts; the ``.part`` is kept
        so that a later call resumes.
    ChecksumError
        If the content's sha256 differs from ``sha256``; the ``.part`` is deleted.
    FileNotFoundError
        If a local source does not exist.
    ValueError
        If ``url`` has a scheme other than http, https or file.
    """
    destination = Path(destination)
    source = local_path(url)
    if source is not None:
        return _copy_local(source, destination, sha256)
    if not is_http_url(url):
        raise ValueError(f"cannot download {url!r}: use an http(s):// or file:// URL or a path")
    if settings.offline:
        raise NotCachedError(url, settings.cache_dir, what="file")
    destination.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(destination)
    client = httpx.Client(
        timeout=settings.timeout,
        follow_redirects=True,
        headers={"Accept-Encoding": "identity", "User-Agent": "semiseg-zoo"},
    )
    attempts = 0
    with client:
        while True:
            attempts += 1
            try:
                _attempt(client, url, part, progress=progress)
                break
            except _GiveUp as failure:
                raise DownloadError(
                    url, failure.reason, attempts=attempts, status=failure.status
                ) from None
            except _Retry as failure:
                if attempts > settings.retries:
                    raise DownloadError(
                        url, failure.reason, attempts=attempts, status=failure.status
                    ) from None
                time.sleep(settings.backoff * 2 ** (attempts - 1))
    return _finish(part, destination, sha256, name=url)
