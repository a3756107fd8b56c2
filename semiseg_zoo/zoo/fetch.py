"""Download one package into the cache: a zip (verified against its own rdf) or an rdf YAML URL
with every file it declares (each verified against its declared sha256)."""

from __future__ import annotations

import posixpath
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from .cache import install_package, package_key, staging_folder
from .checksums import sha256_file
from .download import download_file
from .errors import UnsafePackageError, ZooError
from .rdf import parse_rdf
from .rdf_files import DeclaredFile, check_inside_package, declared_files, package_path
from .settings import ZooSettings
from .verify import verify_zip_package

__all__ = ["PackageSource", "fetch_package"]

ZIP_NAME = "package.zip"
_DOWNLOAD_NAME = "source.download"


@dataclass(frozen=True)
class PackageSource:
    """Where a package comes from.

    Attributes
    ----------
    url
        http(s) URL of the package zip or of its rdf YAML.
    sha256
        Declared sha256 of what ``url`` serves, if known.
    name
        Readable name for the cache folder (the id, or host and path of the URL).
    """

    url: str
    sha256: str | None
    name: str

    @property
    def key(self) -> str:
        """The cache folder name (see :func:`~semiseg_zoo.zoo.cache.package_key`)."""
        return package_key(self.name, self.url)


def _folder_url(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rsplit("/", 1)[0] + "/", "", ""))


def _rdf_name(url: str) -> str:
    name = posixpath.basename(urlsplit(url).path)
    return name if name.endswith((".yaml", ".yml")) else "rdf.yaml"


def _plan(declared: DeclaredFile, base: str, *, rdf_url: str) -> tuple[str, str]:
    """(package-relative path, URL) of one declared file of an rdf served at ``rdf_url``."""
    if declared.is_url:
        source, folder = urlsplit(declared.source), urlsplit(base)
        inside = (source.scheme, source.netloc) == (folder.scheme, folder.netloc) and (
            source.path.startswith(folder.path)
        )
        if not inside or source.query:
            raise UnsafePackageError(
                f"refusing package {rdf_url}: {declared.field} = {declared.source!r} is a "
                f"declared file outside the package (not below {base})"
            )
        return package_path(unquote(source.path[len(folder.path) :])), declared.source
    relative = package_path(declared.source)
    return relative, base + quote(relative)


def _fetch_rdf_files(
    rdf_url: str, staging: Path, rdf_name: str, settings: ZooSettings, *, progress: bool
) -> None:
    rdf = parse_rdf((staging / rdf_name).read_bytes(), source=rdf_url)
    files = declared_files(rdf)
    check_inside_package(files, package_name=rdf_url)
    base = _folder_url(rdf_url)
    planned: dict[str, tuple[str, str | None]] = {}
    for declared in files:  # check everything before the first download
        relative, url = _plan(declared, base, rdf_url=rdf_url)
        if relative == rdf_name:
            continue
        _, known_sha = planned.get(relative, (url, None))
        if known_sha and declared.sha256 and known_sha != declared.sha256:
            raise ZooError(
                f"package {rdf_url} declares two different sha256 for {relative}; fix its rdf"
            )
        planned[relative] = (url, declared.sha256 or known_sha)
    for relative, (url, sha256) in planned.items():
        target = staging / relative
        if not target.resolve().is_relative_to(staging.resolve()):
            raise UnsafePackageError(f"refusing package {rdf_url}: {relative!r} leaves the package")
        if target.is_file() and sha256 is not None and sha256_file(target) == sha256:
            continue  # complete from an earlier, interrupted call
        download_file(url, target, sha256=sha256, settings=settings, progress=progress)


def fetch_package(source: PackageSource, settings: ZooSettings, *, progress: bool = True) -> Path:
    """Download a package into ``<cache>/packages/<key>/`` and return its main file.

    A zip becomes ``package.zip`` after :func:`~semiseg_zoo.zoo.verify.verify_zip_package`; an rdf
    YAML is saved under its own name with every relative file it declares beside it. Everything
    is built in ``packages/.partial-<key>/`` and renamed into place when complete.

    Parameters
    ----------
    source
        URL, declared sha256 and name of the package.
    settings
        Cache, timeout, retries.
    progress
        Progress bars on stderr.

    Returns
    -------
    Path
        ``<cache>/packages/<key>/package.zip`` or ``<cache>/packages/<key>/<rdf name>``.

    Raises
    ------
    DownloadError, ChecksumError, UnsafePackageError, ZooError
        Nothing is installed then; only a :class:`DownloadError` keeps the partial folder (to resume).
    """
    key = source.key
    with staging_folder(settings, key) as staging:
        for stale in staging.glob(f"{_DOWNLOAD_NAME}*"):
            if stale.name != f"{_DOWNLOAD_NAME}.part":
                stale.unlink()
        downloaded = download_file(
            source.url,
            staging / _DOWNLOAD_NAME,
            sha256=source.sha256,
            settings=settings,
            progress=progress,
        )
        if zipfile.is_zipfile(downloaded):
            main = ZIP_NAME
            downloaded.replace(staging / main)
            verify_zip_package(staging / main, package_name=source.url)
        else:
            main = _rdf_name(source.url)
            downloaded.replace(staging / main)
            _fetch_rdf_files(source.url, staging, main, settings, progress=progress)
        return install_package(
            settings, key, staging, main=main, source=source.url, sha256=source.sha256
        )
