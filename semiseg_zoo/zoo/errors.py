"""The exceptions of the zoo layer: each message says what went wrong and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "ChecksumError",
    "DownloadError",
    "NotCachedError",
    "UnknownModelError",
    "UnsafePackageError",
    "ZooError",
]


class ZooError(RuntimeError):
    """A package or collection index could not be found, fetched, verified or read."""


class NotCachedError(ZooError):
    """Offline (``SEMISEG_OFFLINE`` or ``--offline``) and the reference is not in the cache.

    Parameters
    ----------
    reference
        What the user asked for: an id, DOI, URL or collection index URL.
    cache_dir
        The cache that was searched.
    what
        What is missing, for the message (``"package"`` or ``"collection index"``).
    command
        The command that would fill the cache; default ``semiseg-zoo download <reference>``.
    """

    def __init__(
        self, reference: str, cache_dir: object, *, what: str = "package", command: str = ""
    ) -> None:
        self.reference = reference
        command = command or f"semiseg-zoo download {reference}"
        super().__init__(
            f"{what} {reference!r} is not in the cache {cache_dir} and downloads are switched "
            f"off (offline); run `{command}` while online, or unset SEMISEG_OFFLINE "
            "(drop --offline)"
        )


class DownloadError(ZooError):
    """An HTTP download failed (status, timeout or connection error), after its retries.

    Parameters
    ----------
    url
        The URL that was requested.
    reason
        What went wrong, e.g. ``"HTTP 500 Internal Server Error"`` or ``"timed out"``.
    attempts
        How many requests were made.
    status
        The last HTTP status code, if a response arrived.
    """

    def __init__(self, url: str, reason: str, *, attempts: int, status: int | None = None) -> None:
        self.url = url
        self.status = status
        self.attempts = attempts
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        super().__init__(f"could not download {url}: {reason} (after {tries})")


class ChecksumError(ZooError):
    """A file's sha256 differs from the one its index or rdf declares.

    Parameters
    ----------
    file
        The file (URL, path or member name) whose content was checked.
    expected, actual
        The declared and the computed sha256 (hex).
    """

    def __init__(self, file: str, expected: str, actual: str) -> None:
        self.file = file
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"sha256 mismatch for {file}: expected {expected}, got {actual}; the download is "
            "corrupt or the file was changed on the server, so it was discarded"
        )


class UnsafePackageError(ZooError):
    """A package tries to reach outside itself: path traversal, absolute paths, symlinks, or a
    declared file outside the package."""


class UnknownModelError(ZooError):
    """An id, nickname or DOI that the collection index (and id map) does not know.

    Parameters
    ----------
    reference
        What the user asked for.
    known
        The ids and aliases the index knows, to suggest close matches from.
    where
        Where it was looked up (the collection index URL), for the message.
    """

    def __init__(self, reference: str, known: Iterable[str] = (), *, where: str = "") -> None:
        self.reference = reference
        self.suggestions = difflib.get_close_matches(reference, list(known), n=3, cutoff=0.6)
        place = f" in the collection {where}" if where else ""
        hint = (
            f"; did you mean {', '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else "; `semiseg-zoo search TEXT` lists the models that are available"
        )
        super().__init__(f"no model {reference!r}{place}{hint}")
