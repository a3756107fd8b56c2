"""Small builders shared by the zoo tests."""

from __future__ import annotations

import hashlib
import stat
import zipfile
from pathlib import Path

import yaml


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_zip(
    path: Path, members: dict[str, bytes], *, symlinks: dict[str, str] | None = None
) -> Path:
    """A zip with the given members (names written exactly as given) and symlink entries."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return path


def write_rdf_folder(folder: Path, rdf: dict, files: dict[str, bytes]) -> Path:
    """A package folder: ``rdf.yaml`` plus files."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    (folder / "rdf.yaml").write_text(yaml.safe_dump(rdf))
    return folder / "rdf.yaml"
