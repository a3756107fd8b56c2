"""Where training scripts put their outputs, and the rule that they never silently replace a
package (a finished training run's result)."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from semiseg_zoo.training.compute import ComputeSettings


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


def compute_from_args(args: argparse.Namespace) -> ComputeSettings:
    """The compute settings that ``semiseg_zoo.cli.training_options.add_schedule_arguments``
    asks for (sets the torch threads)."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    return ComputeSettings.resolve(args.device, args.precision, args.channels_last)


def run_script(
    body: Callable[[argparse.Namespace], int],
    parser: argparse.ArgumentParser,
    argv: list[str] | None = None,
) -> int:
    """The ``main`` of a training script: parse, run ``body``; a run stopped by SIGINT/SIGTERM
    (after its checkpoint) exits 130 with the one line that says how to resume."""
    import sys

    from semiseg_zoo.training.checkpoint import TrainingInterrupted

    sys.stdout.reconfigure(line_buffering=True)  # progress lines reach a log file at once
    args = parser.parse_args(argv)
    try:
        return body(args)
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130
