"""Check that a model package loads in bioimageio.core, ilastik and Fiji's deepImageJ.

The checklist is the "Compatibility" contract of DESIGN.md; each item is one named check that
matters for some of the targets ``core`` (bioimageio.core 0.11), ``ilastik`` (tiktorch with
bioimageio.spec 0.5.9) and ``deepimagej`` (deepImageJ 3 / JDLL). Everything runs offline.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import compatibility_checks as checks
from . import compatibility_files as files
from .package_reader import open_package

TARGETS: tuple[str, ...] = ("core", "ilastik", "deepimagej")

CheckStatus = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    ``targets`` are the requested targets the check matters for; ``detail`` says what was found
    and, on failure, what is expected and how to fix it.
    """

    name: str
    targets: tuple[str, ...]
    status: CheckStatus
    detail: str


_ALL = TARGETS
_TOOLS = ("ilastik", "deepimagej")

Check = Callable[[checks.CheckContext], checks.Outcome]

# name → (targets it matters for, check, needs the validated description); in report order.
CHECKS: dict[str, tuple[tuple[str, ...], Check, bool]] = {
    "description": (_ALL, checks.check_description, False),
    "format": (_TOOLS, checks.check_format, False),
    "tensors": (_TOOLS, checks.check_tensors, True),
    "axes": (_ALL, checks.check_axes, True),
    "input sizes": (_TOOLS, checks.check_input_sizes, True),
    "output size": (_TOOLS, checks.check_output_size, True),
    "weights": (_ALL, files.check_weights, True),
    "onnx opset": (_TOOLS, files.check_onnx_opset, True),
    "activation in network": (_TOOLS, checks.check_activation, True),
    "preprocessing": (_TOOLS, checks.check_preprocessing, True),
    "test tensors": (_ALL, files.check_test_tensors, True),
    "cover": (_ALL, files.check_cover, False),
    "documentation": (_ALL, files.check_documentation, False),
    "layout": (("ilastik",), checks.check_layout, False),
    "shallow2deep tag": (("ilastik",), checks.check_shallow2deep_tag, False),
    "spec 0.5.9": (("ilastik",), files.check_legacy_spec, False),
    "test_model": (("core",), files.check_test_model, True),
}


def _validated_targets(targets: Sequence[str]) -> tuple[str, ...]:
    if isinstance(targets, str):
        raise TypeError(f"`targets` must be a sequence of target names, got the string {targets!r}")
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise ValueError(
            f"`targets` is {list(targets)!r}; expected one or more of {', '.join(TARGETS)}"
        )
    return tuple(t for t in TARGETS if t in targets)


def check_compatibility(
    package: Path,
    targets: Sequence[str] = TARGETS,
    *,
    test_model: bool = True,
    trust_code: bool = False,
    legacy_python: Path | None = None,
) -> list[CheckResult]:
    """Run the compatibility checklist on a model package, offline.

    Parameters
    ----------
    package:
        A package ``.zip``, a package folder or its ``rdf.yaml``/``bioimageio.yaml``.
    targets:
        Which of ``"core"``, ``"ilastik"``, ``"deepimagej"`` to check for; only the checks that
        matter for these run and are reported.
    test_model:
        Run bioimageio.core's ``test_model`` for every weight format present (target
        ``core``; slow).
    trust_code:
        Let ``test_model`` run ``pytorch_state_dict`` weights whose architecture file is not
        semiseg-zoo's own network source (that imports the package's Python); without it that
        format is left untested and the check says so.
    legacy_python:
        The interpreter with bioimageio.spec 0.5.9 for the ``spec 0.5.9`` check (default:
        ``$SEMISEG_LEGACY_PYTHON``, else ``.venv-spec059/bin/python`` in the repository); the
        check is skipped, never passed, when it does not exist.

    Returns
    -------
    list of CheckResult
        One per check, in checklist order. Checks that need a valid description are
        ``skipped`` when the ``description`` check failed.

    Raises
    ------
    FileNotFoundError
        If ``package`` does not exist or holds no rdf.
    ValueError
        If ``package`` is not a zip, folder or yaml file, or ``targets`` names unknown targets.

    Examples
    --------
    >>> results = check_compatibility(Path("model.zip"), ["ilastik"])  # doctest: +SKIP
    >>> [r.name for r in results if r.status == "failed"]  # doctest: +SKIP
    []
    """
    wanted = _validated_targets(targets)
    context = checks.CheckContext(
        package=open_package(package),
        targets=wanted,
        test_model=test_model,
        trust_code=trust_code,
        legacy_python=None if legacy_python is None else Path(legacy_python),
    )
    results = []
    for name, (check_targets, check, needs_description) in CHECKS.items():
        relevant = tuple(t for t in check_targets if t in wanted)
        if not relevant:
            continue
        if needs_description and context.description is None:
            status, detail = (
                "skipped",
                "not checked: the package is not a valid model (see `description`)",
            )
        else:
            status, detail = check(context)
        results.append(CheckResult(name=name, targets=relevant, status=status, detail=detail))
    return results


def summary_line(results: Sequence[CheckResult]) -> str:
    """``"N passed, M failed, K skipped"``."""
    counts = {s: sum(r.status == s for r in results) for s in ("passed", "failed", "skipped")}
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"


def format_report(results: Sequence[CheckResult], *, width: int = 120) -> str:
    """A table of the results (status, check, targets, detail; details wrapped to ``width``)
    ending with the line ``"N passed, M failed, K skipped"``."""
    header = ("STATUS", "CHECK", "TARGETS", "DETAIL")
    rows = [(r.status.upper(), r.name, ",".join(r.targets), r.detail) for r in results]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(3)]
    indent = sum(widths) + 2 * 3
    detail_width = max(40, width - indent)
    lines = []
    for row in [header, *rows]:
        prefix = "  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + "  "
        wrapped = textwrap.wrap(row[3], detail_width, break_on_hyphens=False) or [""]
        lines.append(prefix + wrapped[0])
        lines += [" " * indent + more for more in wrapped[1:]]
    lines.append(summary_line(results))
    return "\n".join(lines)


__all__ = ["TARGETS", "CheckResult", "check_compatibility", "format_report", "summary_line"]
