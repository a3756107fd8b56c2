"""Validate a package and run bioimageio.core's ``test_model`` on each weight format."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


class PackageTestError(RuntimeError):
    """A package failed bioimage.io validation or ``test_model``."""


def _failure_lines(details: Sequence[Any]) -> list[str]:
    lines = []
    for detail in details:
        if detail.status == "failed":
            errors = "; ".join(str(e.msg) for e in detail.errors) or ""
            lines.append(f"{detail.name}: {errors}")
    return lines


def run_test_model(source: Any, weight_formats: Sequence[str]) -> dict[str, list[str]]:
    """Run ``bioimageio.core.test_model`` once per weight format.

    Parameters
    ----------
    source:
        A package path, or a model description already loaded with file checks (it is then
        tested as loaded, not read again; its validation summary collects the test details).
    weight_formats:
        The formats to test, e.g. ``("pytorch_state_dict", "torchscript", "onnx")``.

    Returns
    -------
    dict
        Format → the failed sub-tests (``"<test name>: <errors>"``); an empty list means the
        format passed.
    """
    from bioimageio.core import test_model

    results: dict[str, list[str]] = {}
    for weight_format in weight_formats:
        loaded = getattr(source, "validation_summary", None)
        # A loaded description accumulates details in its summary: keep only this run's.
        start = len(loaded.details) if loaded is not None else 0
        summary = test_model(source, weight_format=weight_format)
        failures = _failure_lines(summary.details[start:])
        if summary.status != "passed" and not failures and loaded is None:
            failures = [f"test_model status {summary.status!r}"]
        results[weight_format] = failures
    return results


def check_package(path: Path, weight_formats: Sequence[str]) -> None:
    """Raise :class:`PackageTestError` unless ``path`` passes ``test_model`` for every format."""
    for weight_format in weight_formats:
        failures = run_test_model(str(path), [weight_format])[weight_format]
        if failures:
            details = "\n".join(f"  - {line}" for line in failures)
            raise PackageTestError(
                f"{path}: bioimageio.core test_model failed for {weight_format}:\n{details}"
            )
