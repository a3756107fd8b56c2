"""Open a downloaded package zip without trusting it: no member may land outside the folder it is
extracted into (absolute paths, ``..`` components, backslash tricks, symlinks)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path

from .errors import UnsafePackageError, ZooError

__all__ = ["check_archive", "extract_archive", "unsafe_member_reason"]

_DRIVE = re.compile(r"^[A-Za-z]:")


def unsafe_member_reason(name: str) -> str | None:
    """Why a member name would escape the extraction folder, or ``None`` if it is safe.

    Examples
    --------
    >>> unsafe_member_reason("weights/model.onnx") is None
    True
    >>> unsafe_member_reason("../evil.txt")
    'a ".." path component'
    """
    if not name:
        return "an empty name"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "an absolute path"
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        return 'a ".." path component'
    if any(_DRIVE.match(part) for part in parts):
        return "a drive letter inside the path"
    return None


def check_archive(path: Path, *, name: str | None = None) -> list[str]:
    """Check every member of a zip before anything is extracted.

    Parameters
    ----------
    path
        The package zip.
    name
        How messages name the archive (e.g. the URL it came from); default: its file name.

    Returns
    -------
    list of str
        The member names, in archive order.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ZooError
        If ``path`` is not a readable zip file.
    UnsafePackageError
        Naming the archive and the member, for an absolute path (``/x``, ``C:\\x``, ``\\\\x``), a
        ``..`` component (with ``/`` or ``\\`` separators) or a symlink entry.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"package archive {path} does not exist")
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as error:
        raise ZooError(f"{path} is not a zip file ({error}); re-download it") from None
    for info in infos:
        reason = unsafe_member_reason(info.filename)
        if reason is None and stat.S_ISLNK(info.external_attr >> 16):
            reason = "a symbolic link"
        if reason is not None:
            raise UnsafePackageError(
                f"refusing package {name or path.name}: member {info.filename!r} is {reason}"
            )
    return [info.filename for info in infos]


def extract_archive(path: Path, destination: Path) -> Path:
    """Check a zip with :func:`check_archive`, then extract it so that ``destination`` is either
    absent or complete: the members go into a temporary folder beside it, renamed into place.

    Parameters
    ----------
    path
        The package zip.
    destination
        The folder to create; must not exist yet.

    Returns
    -------
    Path
        ``destination``.

    Raises
    ------
    FileExistsError
        If ``destination`` exists.
    UnsafePackageError, ZooError, FileNotFoundError
        See :func:`check_archive`; nothing is written then.
    """
    destination = Path(destination)
    if destination.exists():
        raise FileExistsError(f"{destination} exists; remove it or extract somewhere else")
    check_archive(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        with zipfile.ZipFile(path) as archive:
            archive.extractall(staging)
        os.replace(staging, destination)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return destination
