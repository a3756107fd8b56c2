"""Every file a bioimage.io resource description (format 0.4 and 0.5) points to, and the check
that none of them lies outside the package."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UnsafePackageError
from .locations import has_url_scheme, is_http_url

__all__ = ["DeclaredFile", "check_inside_package", "declared_files", "package_path"]

_DRIVE = re.compile(r"^[A-Za-z]:")
# 0.4 ``inputs``-level lists of file names.
_TENSOR_LISTS_04 = ("test_inputs", "test_outputs", "sample_inputs", "sample_outputs")
# 0.5 per-tensor file fields.
_TENSOR_FILES_05 = ("test_tensor", "sample_tensor")
_DEPENDENCY_MANAGERS = ("conda:", "pip:")


@dataclass(frozen=True)
class DeclaredFile:
    """One file an rdf declares.

    Attributes
    ----------
    source
        As written in the rdf: a path relative to the rdf, or a URL.
    sha256
        The declared sha256 (hex), if the rdf gives one.
    field
        Where in the rdf, e.g. ``"weights.onnx.source"`` or ``"test_inputs[0]"``.
    """

    source: str
    sha256: str | None
    field: str

    @property
    def is_url(self) -> bool:
        """``True`` if ``source`` is an http(s) URL (not a file of the package itself)."""
        return is_http_url(self.source)


def _sha(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip() else None


class _Collector:
    def __init__(self) -> None:
        self.files: list[DeclaredFile] = []

    def add(self, value: Any, field: str, sha256: Any = None) -> None:
        """A plain string (0.4 style) or a ``{source, sha256}`` mapping (0.5 style)."""
        if isinstance(value, str) and value.strip():
            self.files.append(DeclaredFile(value.strip(), _sha(sha256), field))
        elif isinstance(value, Mapping):
            source = value.get("source")
            if isinstance(source, str) and source.strip():
                sha = value.get("sha256", sha256)
                self.files.append(DeclaredFile(source.strip(), _sha(sha), f"{field}.source"))

    def add_list(self, values: Any, field: str) -> None:
        if isinstance(values, (list, tuple)):
            for index, value in enumerate(values):
                self.add(value, f"{field}[{index}]")
        else:
            self.add(values, field)


def _architecture(collector: _Collector, entry: Mapping[str, Any], field: str) -> None:
    architecture = entry.get("architecture")
    if isinstance(architecture, str):
        # 0.4: "path/to/file.py:Callable" (a file) or "package.module.Callable" (an import).
        file_part, _, _ = architecture.rpartition(":")
        if file_part.endswith(".py"):
            collector.add(file_part, f"{field}.architecture", entry.get("architecture_sha256"))
    elif isinstance(architecture, Mapping):
        collector.add(architecture, f"{field}.architecture")


def _dependencies(collector: _Collector, owner: Mapping[str, Any], field: str) -> None:
    for key in ("dependencies", "environment"):
        value = owner.get(key)
        if isinstance(value, str):
            # 0.4: "conda:environment.yaml" or "pip:requirements.txt".
            for manager in _DEPENDENCY_MANAGERS:
                if value.startswith(manager):
                    value = value[len(manager) :]
                    break
            collector.add(value, f"{field}{key}")
        elif isinstance(value, Mapping):
            collector.add(value, f"{field}{key}")


def declared_files(rdf: Mapping[str, Any]) -> list[DeclaredFile]:
    """List the files a bioimage.io rdf (format 0.4 or 0.5) points to.

    Covered: ``documentation``, ``covers``, a file ``icon``, ``attachments`` (0.4 ``{files: [...]}``,
    0.5 list of ``{source, sha256}``), 0.4 ``test_inputs``/``test_outputs``/``sample_inputs``/
    ``sample_outputs``, 0.5 inputs/outputs ``test_tensor``/``sample_tensor``, every weight entry's
    ``source``, its ``architecture`` (0.5 ``{source, sha256}``, 0.4 ``"file.py:Class"`` with
    ``architecture_sha256``) and its ``dependencies``/``environment`` (0.4 ``"conda:env.yaml"``,
    0.5 ``{source, sha256}``), and top-level ``dependencies``.

    Parameters
    ----------
    rdf
        The parsed rdf YAML.

    Returns
    -------
    list of DeclaredFile
        In rdf order; a file named twice appears twice (with both fields).

    Examples
    --------
    >>> rdf = {"weights": {"onnx": {"source": "weights.onnx", "sha256": "AB"}}, "covers": ["c.png"]}
    >>> [(f.field, f.source, f.sha256) for f in declared_files(rdf)]
    [('covers[0]', 'c.png', None), ('weights.onnx.source', 'weights.onnx', 'ab')]
    """
    collector = _Collector()
    collector.add(rdf.get("documentation"), "documentation")
    collector.add_list(rdf.get("covers"), "covers")
    icon = rdf.get("icon")
    if isinstance(icon, str) and len(icon) > 2 and "." in icon:  # else an emoji
        collector.add(icon, "icon")
    attachments = rdf.get("attachments")
    if isinstance(attachments, Mapping):
        collector.add_list(attachments.get("files"), "attachments.files")
    else:
        collector.add_list(attachments, "attachments")
    for key in _TENSOR_LISTS_04:
        collector.add_list(rdf.get(key), key)
    for group in ("inputs", "outputs"):
        tensors = rdf.get(group)
        if not isinstance(tensors, list):
            continue
        for index, tensor in enumerate(tensors):
            if isinstance(tensor, Mapping):
                for key in _TENSOR_FILES_05:
                    collector.add(tensor.get(key), f"{group}[{index}].{key}")
    weights = rdf.get("weights")
    if isinstance(weights, Mapping):
        for weight_format, entry in weights.items():
            if not isinstance(entry, Mapping):
                continue
            field = f"weights.{weight_format}"
            collector.add(entry, field)
            _architecture(collector, entry, field)
            _dependencies(collector, entry, f"{field}.")
    _dependencies(collector, rdf, "")
    return collector.files


def _outside_reason(source: str) -> str | None:
    if source.lower().startswith("file:"):
        return "a file:// URL"
    if has_url_scheme(source):
        return "a URL with an unsupported scheme"
    if source.startswith(("/", "\\")) or _DRIVE.match(source):
        return "an absolute path"
    normalised = posixpath.normpath(source.replace("\\", "/"))
    if normalised == ".." or normalised.startswith("../"):
        return "a path that leaves the package folder"
    if normalised == ".":
        return "the package folder itself, not a file"
    return None


def package_path(source: str) -> str:
    """The normalised, ``/``-separated path of a relative source inside its package.

    Raises
    ------
    UnsafePackageError
        If ``source`` is absolute, a non-http URL or leaves the package folder.

    Examples
    --------
    >>> package_path("./weights/../weights.pt")
    'weights.pt'
    """
    reason = _outside_reason(source)
    if reason is not None:
        raise UnsafePackageError(f"{source!r} is {reason}")
    return posixpath.normpath(source.replace("\\", "/"))


def check_inside_package(files: Iterable[DeclaredFile], *, package_name: str) -> None:
    """Refuse a package whose rdf declares a local file outside the package.

    http(s) URLs are let through: the caller decides whether they are inside the package.

    Parameters
    ----------
    files
        From :func:`declared_files`.
    package_name
        For the message (the zip's or the rdf's name or URL).

    Raises
    ------
    UnsafePackageError
        Naming the package, the rdf field and the source, for an absolute local path, a
        ``file://`` (or other non-http) URL, or a relative path with ``..`` that leaves the package.
    """
    for declared in files:
        if declared.is_url:
            continue
        reason = _outside_reason(declared.source)
        if reason is not None:
            raise UnsafePackageError(
                f"refusing package {package_name}: {declared.field} = {declared.source!r} is "
                f"{reason}; a package may only declare files inside itself"
            )
