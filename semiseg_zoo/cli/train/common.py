"""What the ``semiseg-train`` kinds share: usage checks, the model name, logging, the spec
from ``--spec``, ``--write-spec``, steps from ``--steps``/``--time-budget`` and the job
settings."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

PROGRAM = "semiseg-train"


class UsageError(ValueError):
    """Arguments that do not fit together."""


def check_usage(args: argparse.Namespace) -> None:
    """Cheap checks of the arguments, before any file is read."""
    if args.steps is not None and args.time_budget is not None:
        raise UsageError("give --steps or --time-budget, not both")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if args.time_budget is not None and args.time_budget <= 0:
        raise UsageError(f"--time-budget must be positive minutes, got {args.time_budget}")
    if args.checkpoint_every <= 0:
        raise UsageError(f"--checkpoint-every must be positive, got {args.checkpoint_every}")
    if args.spec is None and (args.images is None or args.labels is None):
        raise UsageError("give --images and --labels (or --spec with its data folders)")
    if args.write_spec is None and args.output is None:
        raise UsageError("give -o/--output, the package zip to write (or --write-spec)")
    if args.output is not None and args.output.suffix != ".zip":
        raise UsageError(f"-o/--output must end in .zip, got {args.output}")
    if args.output is not None and args.output.exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if not 0 < getattr(args, "val_fraction", 0.5) < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")


def model_name(args: argparse.Namespace) -> str:
    """``--name``, or a valid name made from the output file's stem."""
    if args.name is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{4,}", args.name):
            raise UsageError(
                f"--name {args.name!r}: use at least 5 lowercase letters, digits, - or _, "
                "starting with a letter or digit"
            )
        return args.name
    stem = args.output.stem.lower() if args.output else "my-teacher"
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_") or "model"
    return name if len(name) >= 5 else f"{name}-model"


def log_line(line: str) -> None:
    """Progress for the user (stdout, flushed)."""
    print(line, flush=True)


def log_to_stderr(line: str) -> None:
    """Progress while the spec itself goes to stdout (``--write-spec`` without a file)."""
    print(line, file=sys.stderr, flush=True)


def given_spec(args: argparse.Namespace, spec_class: type, kind: str) -> Any:
    """The spec of ``--spec`` (``None`` without it), which must be of ``kind``."""
    if args.spec is None:
        return None
    from semiseg_zoo.spec import load_spec

    spec = load_spec(args.spec)
    if not isinstance(spec, spec_class):
        raise UsageError(
            f"{args.spec} is a {spec.kind} spec; `semiseg-train {kind}` needs a {kind} spec"
        )
    return spec


def write_spec(spec, where: str) -> int:
    """``--write-spec``: print the spec, or write it to ``where``."""
    import yaml

    # None is a value here (e.g. `annotated_fraction: null`), not an absent field.
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    if where == "-":
        print(text, end="")
    else:
        Path(where).write_text(text)
        log_line(f"wrote {where}; edit it and train with --spec {where}")
    return 0


def budget_steps(
    args: argparse.Namespace,
    spec: Any,
    net: Any,
    compute: Any,
    costs: Sequence[float] = (1.0,),
    *,
    reserved_s: float = 0.0,
) -> int | None:
    """``--steps``, or the steps per stage that fit ``--time-budget`` less ``reserved_s``:
    ``costs`` are the stages' per-step costs in plain training steps of ``net`` (timed here)."""
    if args.time_budget is None:
        return args.steps
    from semiseg_zoo.training.budget import seconds_per_step, steps_for_budget

    training = spec.training
    batch = [training.batch_size, spec.input.channels, *training.patch_shape]
    per_step = seconds_per_step(net, batch, compute)
    budget_s = max(60.0, args.time_budget * 60 - reserved_s)
    steps = steps_for_budget(budget_s, [per_step * cost for cost in costs])
    log_line(
        f"time budget {args.time_budget:g} min: {per_step:.3f} s per plain training step "
        f"measured here, so {steps} steps per stage"
    )
    return steps


def with_steps(spec: Any, steps: int | None) -> Any:
    """``spec`` with ``training.steps`` replaced (unchanged for ``None``)."""
    if steps is None:
        return spec
    training = type(spec.training).model_validate({**spec.training.model_dump(), "steps": steps})
    return spec.model_copy(update={"training": training})


def job_settings(args: argparse.Namespace, command: list[str], compute: Any, steps: int) -> dict:
    """Keyword arguments of :class:`semiseg_zoo.training.job.JobSettings` from the options."""
    output = args.output
    return {
        "run_dir": args.run_dir or output.with_name(output.stem + ".run"),
        "output": output,
        "compute": compute,
        "resume": args.resume,
        "checkpoint_every_s": args.checkpoint_every * 60,
        "overwrite": args.overwrite,
        "workers": args.workers,
        "log_every": max(1, min(250, steps // 10)),
        "command": command,
        "progress": not args.no_progress,
    }


def wrote(output: Path, use: str | None = None) -> None:
    """The last line of a successful run: what was written and how to use it."""
    use = use or f"semiseg-predict images/ -o out/ --model {output}"
    log_line(f"{PROGRAM}: wrote {output}; run `{use}`")
