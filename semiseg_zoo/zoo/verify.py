"""Check a package zip against its own rdf: every declared file is inside the zip and has the
sha256 the rdf declares."""

from __future__ import annotations

import zipfile
from pathlib import Path

from .archive import check_archive
from .checksums import sha256_stream, verify_sha256
from .errors import UnsafePackageError, ZooError
from .rdf import read_rdf
from .rdf_files import check_inside_package, declared_files, package_path

__all__ = ["verify_zip_package"]


def verify_zip_package(path: Path, *, package_name: str | None = None) -> list[str]:
    """Check a package zip before anyone uses it.

    Runs :func:`~semiseg_zoo.zoo.archive.check_archive`, reads the rdf
    (``rdf.yaml``/``bioimageio.yaml``/``*.bioimageio.yaml``), refuses declared files outside the
    package (absolute paths, ``..``, ``file://`` and also http(s) URLs, which a zip package does
    not need) and compares every declared sha256 with the member's content.

    Parameters
    ----------
    path
        The package zip.
    package_name
        For messages (e.g. the URL it came from); default: the zip's file name.

    Returns
    -------
    list of str
        The package-relative paths of the declared files that were checked.

    Raises
    ------
    UnsafePackageError
        For unsafe members or declared files outside the package.
    ChecksumError
        Naming the package, the member and both sha256s, if a member differs from its rdf.
    ZooError
        If the zip has no rdf or lacks a declared file.
    """
    path = Path(path)
    name = package_name or path.name
    members = set(check_archive(path, name=name))
    rdf, _ = read_rdf(path)
    files = declared_files(rdf)
    check_inside_package(files, package_name=name)
    checked = []
    with zipfile.ZipFile(path) as archive:
        for declared in files:
            if declared.is_url:
                raise UnsafePackageError(
                    f"refusing package {name}: {declared.field} = {declared.source!r} is a "
                    "declared file outside the package (a URL); a package zip must contain "
                    "every file it declares"
                )
            member = package_path(declared.source)
            if member not in members:
                raise ZooError(
                    f"package {name} declares {declared.field} = {declared.source!r} but does "
                    "not contain that file; the package is incomplete"
                )
            if declared.sha256 is not None:
                with archive.open(member) as stream:
                    actual = sha256_stream(stream)
                verify_sha256(
                    actual, declared.sha256, name=f"{member} in {name} ({declared.field})"
                )
            checked.append(member)
    return checked
