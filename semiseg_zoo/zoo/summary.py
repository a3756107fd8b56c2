"""What a package holds, read from its rdf YAML alone (no torch, no bioimageio.core): format
version, tensors and their axes, weight formats."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .rdf import read_rdf

__all__ = ["PackageSummary", "TensorSummary", "summarize_package"]

# bioimage.io 0.5 axis types → one-letter axes; a space axis is named by its id (default "x").
_AXIS_LETTERS = {"batch": "b", "channel": "c", "index": "i", "time": "t"}


@dataclass(frozen=True)
class TensorSummary:
    """One input or output tensor: its id (0.5) or name (0.4) and its axes (``"bcyx"``)."""

    id: str
    axes: str


@dataclass(frozen=True)
class PackageSummary:
    """What :func:`summarize_package` reads from a package's rdf."""

    path: Path
    name: str | None
    type: str | None
    format_version: str | None
    kind: str | None
    inputs: tuple[TensorSummary, ...]
    outputs: tuple[TensorSummary, ...]
    weight_formats: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict."""
        return {
            "path": str(self.path),
            "name": self.name,
            "type": self.type,
            "format_version": self.format_version,
            "kind": self.kind,
            "inputs": [{"id": t.id, "axes": t.axes} for t in self.inputs],
            "outputs": [{"id": t.id, "axes": t.axes} for t in self.outputs],
            "weight_formats": list(self.weight_formats),
        }


def _axes(value: Any) -> str:
    if isinstance(value, str):  # 0.4: "bcyx"
        return value
    letters = []
    for axis in value if isinstance(value, list) else ():
        if not isinstance(axis, Mapping):
            continue
        axis_type = str(axis.get("type", ""))
        if axis_type == "space":
            letters.append(str(axis.get("id") or "x"))
        else:
            letters.append(_AXIS_LETTERS.get(axis_type, "?"))
    return "".join(letters)


def _tensors(value: Any, default: str) -> tuple[TensorSummary, ...]:
    tensors = []
    for index, tensor in enumerate(value if isinstance(value, list) else ()):
        if isinstance(tensor, Mapping):
            name = (
                tensor.get("id")
                or tensor.get("name")
                or (default if index == 0 else f"{default}{index}")
            )
            tensors.append(TensorSummary(id=str(name), axes=_axes(tensor.get("axes"))))
    return tuple(tensors)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def summarize_package(path: Path) -> PackageSummary:
    """Summarise a package zip, folder or rdf YAML from its rdf.

    Parameters
    ----------
    path
        A local package (as :func:`~semiseg_zoo.zoo.resolve.resolve_package` returns).

    Returns
    -------
    PackageSummary

    Raises
    ------
    FileNotFoundError, ZooError
        If there is no readable rdf.
    """
    rdf, _ = read_rdf(Path(path))
    config = rdf.get("config")
    semiseg = config.get("semiseg") if isinstance(config, Mapping) else None
    weights = rdf.get("weights")
    return PackageSummary(
        path=Path(path),
        name=_text(rdf.get("name")),
        type=_text(rdf.get("type")),
        format_version=_text(rdf.get("format_version")),
        kind=_text(semiseg.get("kind")) if isinstance(semiseg, Mapping) else None,
        inputs=_tensors(rdf.get("inputs"), "input"),
        outputs=_tensors(rdf.get("outputs"), "output"),
        weight_formats=tuple(str(name) for name, entry in weights.items() if entry)
        if isinstance(weights, Mapping)
        else (),
    )
