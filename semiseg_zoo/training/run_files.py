"""Where training scripts put their outputs, and the rule that they never silently replace a
package (a finished training run's result)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path


def refuse_to_overwrite(output: Path, overwrite: bool) -> None:
    """Stop before any training if ``output`` exists and ``--overwrite`` was not given.

    Raises
    ------
    SystemExit
        If ``output`` exists and ``overwrite`` is false, or ``output`` is not a ``.zip``.
    """
    if output.suffix != ".zip":
        raise SystemExit(f"--output must end in .zip, got {output}")
    if output.exists() and not overwrite:
        raise SystemExit(
            f"{output} exists; pass --overwrite to replace it or choose another --output"
        )


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--output``, ``--overwrite``, ``--run-dir`` and ``--data-root``, shared by the
    training scripts."""
    parser.add_argument("--output", type=Path, help="package zip (default runs/<name>/<name>.zip)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an existing --output package"
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        help="checkpoints, caches and validation results (default runs/<name>), wherever "
        "--output puts the package",
    )
    parser.add_argument("--data-root", type=Path, help="overrides SEMISEG_DATA")


def write_json(path: Path, payload: dict) -> None:
    """Write ``payload`` as indented JSON atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(payload, indent=2))
    os.replace(temporary, path)


def git_commit(repo: Path) -> str:
    """The commit checked out in ``repo`` (empty if it is not a git checkout)."""
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=repo
    ).stdout.strip()
