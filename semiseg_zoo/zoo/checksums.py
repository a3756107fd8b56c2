"""sha256 of files and byte strings, and the one place a mismatch becomes a ChecksumError."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import IO

from .errors import ChecksumError

__all__ = ["sha256_file", "sha256_stream", "verify_sha256"]

_CHUNK = 1 << 20


def sha256_stream(stream: IO[bytes]) -> str:
    """sha256 (hex) of everything left in a binary stream."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(_CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 (hex) of a file's content."""
    with open(path, "rb") as stream:
        return sha256_stream(stream)


def verify_sha256(actual: str, expected: str | None, *, name: str) -> None:
    """Raise :class:`ChecksumError` naming ``name`` if ``expected`` is given and differs.

    The comparison ignores case and surrounding whitespace (indexes write hex either way).
    """
    if expected is None:
        return
    if actual.strip().lower() != expected.strip().lower():
        raise ChecksumError(name, expected.strip().lower(), actual)
