"""``semiseg-train affinity``: CRAC on sparsely annotated 2D images or 3D volumes."""

from __future__ import annotations

import argparse

from .common import (
    budget_steps,
    given_spec,
    job_settings,
    log_line,
    log_to_stderr,
    model_name,
    with_steps,
    write_spec,
    wrote,
)

SPARSE = (
    "labels cover only some objects: CRAC (an implicit affinity network and an explicit one, "
    "the cosine of pixel embeddings, supervised on the annotated pairs and cross-supervised on "
    "each other's confident affinities elsewhere)"
)
DENSE = "every object is labeled: CRAC's two networks, supervised on every pair"
#: A CRAC step (two networks, targets, cross-supervision) in plain training steps of the
#: implicit net: the precision check measured 0.25 s per step (bfloat16, ISBI, on a CPU shared
#: with other runs) against 0.078 s per plain step (benchmarks/training_speed.py).
STEP_COST = 3.2


def train(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → CRAC training → the best net and recipe on validation → package."""
    from semiseg_zoo.spec import AffinitySpec, data_root
    from semiseg_zoo.training.affinity.job import AffinityJob, run_affinity_job
    from semiseg_zoo.training.affinity.steps import implicit_net, load_split
    from semiseg_zoo.training.affinity.user_data import (
        DEFAULT_STEPS,
        AffinityFolders,
        default_affinity_spec,
        load_affinity_folders,
    )
    from semiseg_zoo.training.run_files import compute_from_args

    name = model_name(args)
    spec = given_spec(args, AffinitySpec, "affinity")
    log = log_to_stderr if args.write_spec == "-" else log_line
    if args.images is not None:
        folders = AffinityFolders(
            args.images, args.labels, args.val_images, args.val_labels, args.dense,
            args.val_fraction,
        )  # fmt: skip
        log(f"checking {folders.images} and {folders.labels}")
        split, ndim, channels = load_affinity_folders(folders, args.seed)
        if spec is None:
            spec = default_affinity_spec(
                name, ndim=ndim, channels=channels, folders=folders, split=split,
                steps=args.steps or DEFAULT_STEPS[ndim], seed=args.seed,
            )  # fmt: skip
    else:
        split = load_split(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return write_spec(spec, args.write_spec)
    sparse = split.sparse or spec.training.annotated_fraction is not None
    log_line(SPARSE if sparse else DENSE)
    compute = compute_from_args(args)
    spec = with_steps(spec, budget_steps(args, spec, implicit_net(spec), compute, [STEP_COST]))
    job = AffinityJob(**job_settings(args, command, compute, spec.training.steps))
    run_affinity_job(spec, split, job, log=log_line)
    wrote(job.output)
    return 0
