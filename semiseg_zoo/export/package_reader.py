"""Read a model package (zip, folder or rdf yaml) as it is on disk, and load its description
offline.

The compatibility checks look at the raw ``rdf.yaml`` (what an older bioimageio.spec, e.g.
ilastik's 0.5.9, will parse) and at the files themselves, so this module reads both without
going through pydantic; :func:`load_description_offline` then validates the same package with
the installed bioimageio.spec, file checks included, without touching the network.
"""

from __future__ import annotations

import posixpath
import socket
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semiseg_zoo.zoo import ZooError
from semiseg_zoo.zoo.rdf import find_rdf_name, parse_rdf

_URL_PREFIXES = ("http://", "https://")


def _pick_rdf(names: list[str], where: Path) -> str:
    name = find_rdf_name(names)
    if name is None:
        raise FileNotFoundError(
            f"{where} holds no rdf.yaml or bioimageio.yaml; pass a bioimage.io model package"
        )
    return name


def is_url(source: object) -> bool:
    """Whether a file reference is a remote URL rather than a file in the package."""
    return str(source).startswith(_URL_PREFIXES)


def urls_in(value: Any) -> set[str]:
    """Every ``http(s)://`` string anywhere in a (raw yaml) value."""
    if isinstance(value, str):
        return {value} if is_url(value) else set()
    if isinstance(value, dict):
        return set().union(*(urls_in(v) for v in value.values())) if value else set()
    if isinstance(value, list | tuple):
        return set().union(*(urls_in(v) for v in value)) if value else set()
    return set()


@dataclass(frozen=True)
class PackageFiles:
    """A package as stored: its raw rdf and read access to the files next to it.

    ``source`` is what bioimageio.spec loads (the zip, the folder or the yaml file); ``root`` is
    the zip or the folder that relative file references resolve against.
    """

    source: Path
    root: Path
    rdf_name: str
    raw: dict[str, Any]

    @property
    def is_zip(self) -> bool:
        return self.root.is_file()

    def read(self, reference: object) -> bytes:
        """The bytes of a file reference of the description (relative to the package, or an
        absolute local path).

        Raises
        ------
        ValueError
            If ``reference`` is a URL (offline checks read only files inside the package).
        FileNotFoundError
            If the file is not in the package.
        """
        text = str(reference)
        if is_url(text):
            raise ValueError(
                f"{text} is a URL, not a file in the package; these checks work offline and read "
                "only files inside the package: put the file into the package"
            )
        if Path(text).is_absolute():
            path = Path(text)
            if self.is_zip or not path.resolve().is_relative_to(self.root.resolve()):
                raise FileNotFoundError(
                    f"{text} is outside the package: put the file into the package and name it "
                    "by its relative path"
                )
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist")
            return path.read_bytes()
        name = posixpath.normpath(text.replace("\\", "/"))
        if name == ".." or name.startswith("../"):
            raise FileNotFoundError(f"{text} points outside the package: put the file into it")
        if self.is_zip:
            with zipfile.ZipFile(self.root) as archive:
                try:
                    return archive.read(name)
                except KeyError:
                    raise FileNotFoundError(f"{name} is not in {self.root.name}") from None
        path = self.root / name
        if not path.is_file():
            raise FileNotFoundError(f"{name} is not in {self.root}")
        return path.read_bytes()


def open_package(path: str | Path) -> PackageFiles:
    """Read the raw rdf of a package ``.zip``, a package folder or an ``rdf.yaml``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist or holds no rdf.
    ValueError
        If ``path`` is neither a zip, a folder nor a yaml file, or its rdf is not a mapping.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"package {path} does not exist; pass a package .zip, its folder or its rdf.yaml"
        )
    if path.is_dir():
        root = path
        rdf_name = _pick_rdf([p.name for p in path.iterdir() if p.is_file()], path)
        text = (path / rdf_name).read_bytes()
    elif zipfile.is_zipfile(path):
        root = path
        with zipfile.ZipFile(path) as archive:
            rdf_name = _pick_rdf(archive.namelist(), path)
            text = archive.read(rdf_name)
    elif path.suffix in (".yaml", ".yml"):
        root, rdf_name = path.parent, path.name
        text = path.read_bytes()
    else:
        raise ValueError(
            f"package {path} is neither a .zip, a folder nor a .yaml file; pass a bioimage.io "
            "model package"
        )
    try:
        raw = parse_rdf(text, source=f"{rdf_name} in {path}")
    except ZooError as error:
        raise ValueError(str(error)) from None
    return PackageFiles(source=path, root=root, rdf_name=rdf_name, raw=raw)


class NetworkAccessRefused(OSError):
    """Raised instead of opening a connection while :func:`network_disabled` is active."""


@contextmanager
def network_disabled() -> Iterator[None]:
    """Refuse internet connections and host name lookups while active.

    bioimageio.spec's file checks download remote files and look up URLs and GitHub users; a
    package on disk must validate without any of that, so anything that still tries fails here
    instead of reaching the network. Not thread-safe: other threads are cut off too while it is
    active.
    """

    def refuse(*args: object, **kwargs: object) -> Any:
        raise NetworkAccessRefused("network access refused: the package is checked offline")

    original_connect = socket.socket.connect
    original_connect_ex = socket.socket.connect_ex
    original_getaddrinfo = socket.getaddrinfo

    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse()
        return original_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            refuse()
        return original_connect_ex(sock, address)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = refuse
    try:
        yield
    finally:
        socket.socket.connect = original_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = original_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = original_getaddrinfo


def load_description_offline(package: PackageFiles) -> Any:
    """Validate ``package`` with the installed bioimageio.spec, file checks (hashes, test
    tensors) included, as the latest format; returns the description or an ``InvalidDescr``.

    URLs in the rdf are declared known so that bioimageio.spec does not request them, and the
    network is disabled while it loads.
    """
    from bioimageio.spec import load_description

    known_files: dict[str, Any] = dict.fromkeys(urls_in(package.raw))
    # bioimageio.spec also warns about what its summary reports; keep the console quiet.
    with network_disabled(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return load_description(
            package.source,
            format_version="latest",
            perform_io_checks=True,
            known_files=known_files,
        )
