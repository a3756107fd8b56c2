"""``semiseg-export``: check model packages (and, later, write them).

``semiseg-export check PACKAGE ...`` runs the compatibility checklist for bioimageio.core,
ilastik and deepImageJ on each package, offline, and prints one table per package.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from .errors import fail

PROGRAM = "semiseg-export"
TARGET_NAMES = ("core", "ilastik", "deepimagej")
EXPECTED_ERRORS = (ValueError, TypeError, FileNotFoundError, OSError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Check (and, in future commands, write) bioimage.io model packages.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="check that packages load in bioimageio.core, ilastik and deepImageJ",
        description=(
            "Run the compatibility checklist (DESIGN.md) on each package, offline: one table "
            "per package. Exit 0 when every check passed (skipped checks are allowed and "
            "listed), 1 when any failed, 2 for bad arguments."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = check.add_argument_group("Input")
    group.add_argument(
        "packages", nargs="+", metavar="PACKAGE", type=Path, help="package .zip, folder or rdf.yaml"
    )
    group = check.add_argument_group("Checks")
    group.add_argument(
        "--target",
        default=",".join(TARGET_NAMES),
        help=f"comma-separated targets among {', '.join(TARGET_NAMES)}",
    )
    group.add_argument(
        "--no-test-model",
        action="store_true",
        help="skip bioimageio.core's test_model (slow)",
    )
    group.add_argument(
        "--trust-code",
        action="store_true",
        help="let test_model import the architecture file of pytorch_state_dict weights that "
        "are not semiseg-zoo's own network source (runs the package's Python)",
    )
    group.add_argument(
        "--legacy-python",
        type=Path,
        metavar="PATH",
        help="python with bioimageio.spec 0.5.9 for the ilastik check (default: "
        "$SEMISEG_LEGACY_PYTHON or .venv-spec059/bin/python; build it with "
        "`make check-legacy-spec`)",
    )
    group = check.add_argument_group("Output")
    group.add_argument("--json", action="store_true", help="print the results as JSON")
    group.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    return parser


def parse_targets(value: str) -> tuple[str, ...]:
    """``"ilastik, core"`` → ``("core", "ilastik")``; raises ValueError naming unknown ones."""
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = [name for name in names if name not in TARGET_NAMES]
    if unknown or not names:
        raise ValueError(
            f"--target {value!r}: unknown or no target(s) {unknown}; use a comma-separated "
            f"list of {', '.join(TARGET_NAMES)}"
        )
    return tuple(t for t in TARGET_NAMES if t in names)


def _check(args: argparse.Namespace) -> int:
    try:
        targets = parse_targets(args.target)
        missing = [str(p) for p in args.packages if not p.exists()]
        if missing:
            raise FileNotFoundError(f"package not found: {', '.join(missing)}")
        from semiseg_zoo.export.compatibility import (
            check_compatibility,
            format_report,
            summary_line,
        )
        from semiseg_zoo.export.package_reader import open_package

        for package in args.packages:  # cheap: every argument is a package before any check
            open_package(package)
    except EXPECTED_ERRORS as error:
        return fail(PROGRAM, error, verbose=args.verbose)

    reports = []
    for package in args.packages:
        try:
            results = check_compatibility(
                package,
                targets,
                test_model=not args.no_test_model,
                trust_code=args.trust_code,
                legacy_python=args.legacy_python,
            )
        except EXPECTED_ERRORS as error:
            return fail(PROGRAM, f"{package}: {error}", verbose=args.verbose)
        reports.append((package, results))
        if not args.json:
            if len(args.packages) > 1:
                print(("\n" if len(reports) > 1 else "") + f"== {package}")
            print(format_report(results))
            sys.stdout.flush()

    failed = [str(p) for p, results in reports if any(r.status == "failed" for r in results)]
    if args.json:
        document = [
            {
                "package": str(package),
                "passed": str(package) not in failed,
                "summary": summary_line(results),
                "results": [asdict(r) for r in results],
            }
            for package, results in reports
        ]
        print(json.dumps(document, indent=2))
    elif len(reports) > 1:
        print(
            f"\n{len(reports) - len(failed)} of {len(reports)} packages passed every check"
            + (f"; failed: {', '.join(failed)}" if failed else "")
        )
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 all checks passed, 1 a check failed, 2 bad
    usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_usage(sys.stderr)
        return fail(PROGRAM, "give a command, e.g. `semiseg-export check PACKAGE`")
    return _check(args)


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
