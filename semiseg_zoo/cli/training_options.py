"""Command-line options shared by ``semiseg-train`` and the training scripts: where a run puts
its outputs, and its schedule and compute settings. Imports nothing heavy, so ``--help`` is fast;
the values mirror ``semiseg_zoo.training`` (a test checks that they agree)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: ``semiseg_zoo.training.DEFAULT_CHECKPOINT_EVERY_S`` in minutes.
CHECKPOINT_EVERY_MINUTES = 3.0
#: ``semiseg_zoo.training.PRECISIONS``.
PRECISIONS = ("float32", "bfloat16", "float16")


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


def add_schedule_arguments(parser: argparse.ArgumentParser) -> None:
    """How long, where and how a run trains, and how it checkpoints and resumes; shared by the
    training scripts and ``semiseg-train``."""
    group = parser.add_argument_group("Schedule and compute")
    group.add_argument("--steps", type=int, help="overrides the steps of every training stage")
    group.add_argument(
        "--resume",
        action="store_true",
        help="continue a stopped run from the checkpoints in its run folder (same command)",
    )
    group.add_argument(
        "--checkpoint-every",
        type=float,
        default=CHECKPOINT_EVERY_MINUTES,
        metavar="MINUTES",
        help="wall-clock minutes between checkpoints (default %(default)g)",
    )
    group.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    group.add_argument(
        "--precision",
        default="auto",
        choices=["auto", *PRECISIONS],
        help="auto: bfloat16 autocast on CPU (measured fastest) and mixed precision on a GPU",
    )
    group.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels-last memory layout (default: on, measured faster)",
    )
    group.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    group.add_argument(
        "--workers",
        type=int,
        default=0,
        help="processes that prepare batches ahead of the step (default 0: data loading takes "
        "under 5%% of a step here)",
    )
