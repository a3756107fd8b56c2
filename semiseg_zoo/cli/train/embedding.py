"""``semiseg-train embedding``: SPOCO on folders (full or sparse labels) or a spec."""

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
    "labels cover only some objects: SPOCO's positive-unlabeled loss (pull/push and the "
    "single-object Dice on the annotated objects, the unlabeled push term and embedding "
    "consistency with the momentum network elsewhere); unannotated pixels are never taken as "
    "background"
)
FULL = (
    "every object is labeled: SPOCO's discriminative loss (pull, push, single-object Dice, "
    "background as one instance) and embedding consistency with the momentum network"
)
#: A SPOCO step in plain training steps of the same net: the per-instance loss dominates. The
#: precision check measured 0.75 s per SPOCO step (bfloat16, on a CPU shared with other runs)
#: against 0.16 s per plain step (benchmarks/training_speed.py), so budgets err on the short side.
STEP_COST = 4.6


def train(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → SPOCO training → the best clustering on validation → package."""
    from semiseg_zoo.spec import EmbeddingSpec, data_root
    from semiseg_zoo.training.embedding.job import EmbeddingJob, run_embedding_job
    from semiseg_zoo.training.embedding.steps import build_net, load_split
    from semiseg_zoo.training.embedding.user_data import (
        DEFAULT_STEPS,
        EmbeddingFolders,
        default_embedding_spec,
        load_embedding_folders,
    )
    from semiseg_zoo.training.run_files import compute_from_args

    name = model_name(args)
    spec = given_spec(args, EmbeddingSpec, "embedding")
    log = log_to_stderr if args.write_spec == "-" else log_line
    if args.images is not None:
        folders = EmbeddingFolders(
            args.images, args.labels, args.sparse, args.val_images, args.val_labels,
            args.val_fraction,
        )  # fmt: skip
        log(f"checking {folders.images} and {folders.labels}")
        train_items, val_items, channels = load_embedding_folders(folders, args.seed)
        if spec is None:
            smallest = min(min(item.image.shape[1:]) for item in train_items)
            spec = default_embedding_spec(
                name, channels=channels, folders=folders, n_train=len(train_items),
                n_val=len(val_items), steps=args.steps or DEFAULT_STEPS,
                patch=192 if smallest >= 192 else 128 if smallest >= 128 else 64, seed=args.seed,
            )  # fmt: skip
    else:
        train_items, val_items = load_split(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return write_spec(spec, args.write_spec)
    sparse = spec.training.train.sparse or spec.training.object_fraction is not None
    log_line(SPARSE if sparse else FULL)
    compute = compute_from_args(args)
    spec = with_steps(spec, budget_steps(args, spec, build_net(spec), compute, [STEP_COST]))
    job = EmbeddingJob(**job_settings(args, command, compute, spec.training.steps))
    run_embedding_job(spec, train_items, val_items, job, log=log_line)
    wrote(job.output)
    return 0
