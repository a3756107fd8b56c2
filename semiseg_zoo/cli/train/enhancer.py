"""``semiseg-train enhancer``: shallow2deep from densely labeled source folders."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    UsageError,
    budget_steps,
    given_spec,
    job_settings,
    log_line,
    log_to_stderr,
    model_name,
    write_spec,
    wrote,
)

#: Seconds kept for each Random Forest of a time budget: 23 forests on DSB 2018 training
#: images took 7 s here (`train_enhancer.py --n-forests 3`, "forest maps ready in 7s").
SECONDS_PER_FOREST = 0.5


def train(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → forests → enhancer → tuned threshold → package."""
    from semiseg_zoo.nets import ARCHITECTURES
    from semiseg_zoo.spec import EnhancerSpec, SourceData, data_root
    from semiseg_zoo.training.enhancer.job import EnhancerJob, run_enhancer_job
    from semiseg_zoo.training.enhancer.source_data import load_source_images
    from semiseg_zoo.training.enhancer.user_data import (
        DEFAULT_FORESTS,
        DEFAULT_STEPS,
        default_enhancer_spec,
    )
    from semiseg_zoo.training.run_files import compute_from_args

    if args.forests is not None and args.forests < 1:
        raise UsageError(f"--forests must be at least 1, got {args.forests}")
    name = model_name(args)
    spec = given_spec(args, EnhancerSpec, "enhancer")
    log = log_to_stderr if args.write_spec == "-" else log_line
    if args.images is not None:
        log(f"checking {args.images} and {args.labels}")
        if spec is None:
            source = SourceData(raw=str(args.images), labels=str(args.labels),
                                boundaries_of_instances=args.target == "boundaries")  # fmt: skip
        else:
            source = spec.training.source.model_copy(
                update={"raw": str(args.images), "labels": str(args.labels)}
            )
        # Absolute folders: the data root plays no part.
        images = load_source_images(source, Path("/"))
        if spec is None:
            try:
                spec = default_enhancer_spec(
                    name, images=args.images, labels=args.labels, target=args.target,
                    n_images=len(images), steps=args.steps or DEFAULT_STEPS,
                    n_forests=args.forests or DEFAULT_FORESTS, seed=args.seed,
                )  # fmt: skip
            except ValueError as error:
                raise UsageError(str(error)) from None
    else:
        images = load_source_images(spec.training.source, args.data_root or data_root())
    if args.write_spec is not None:
        return write_spec(spec, args.write_spec)
    training = spec.training
    if len(images) <= training.val_images:
        raise UsageError(
            f"{len(images)} source images but `val_images` is {training.val_images}; give more"
        )
    n_forests = args.forests or training.n_forests
    log_line(
        f"shallow2deep: {n_forests} Random Forests on random patches of the training images "
        "(their maps cached in the run folder), then the enhancer learns the ground truth from "
        "the maps"
    )
    compute = compute_from_args(args)
    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    reserved = SECONDS_PER_FOREST * (n_forests + training.val_forests)
    steps = budget_steps(args, spec, net, compute, reserved_s=reserved)
    job = EnhancerJob(
        **job_settings(args, command, compute, steps or training.steps),
        steps=steps, n_forests=args.forests,
    )  # fmt: skip
    run_enhancer_job(spec, images, job, log=log_line)
    wrote(job.output, f"semiseg-enhance image.tif --scribbles strokes.tif --model {job.output} "
                      "-o out/")  # fmt: skip
    return 0
