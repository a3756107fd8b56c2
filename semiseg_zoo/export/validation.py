"""Validate a package and run bioimageio.core's ``test_model`` on each weight format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class PackageTestError(RuntimeError):
    """A package failed bioimage.io validation or ``test_model``."""


def _failures(summary) -> str:
    lines = []
    for detail in summary.details:
        if detail.status == "failed":
            errors = "; ".join(str(e.msg) for e in detail.errors) or ""
            lines.append(f"  - {detail.name}: {errors}")
    return "\n".join(lines)


def check_package(path: Path, weight_formats: Sequence[str]) -> None:
    """Raise :class:`PackageTestError` unless ``path`` passes ``test_model`` for every format."""
    from bioimageio.core import test_model

    for weight_format in weight_formats:
        summary = test_model(str(path), weight_format=weight_format)
        if summary.status != "passed":
            raise PackageTestError(
                f"{path}: bioimageio.core test_model failed for {weight_format}:\n"
                f"{_failures(summary)}"
            )
