"""``semiseg-train teacher``: folders or a spec → resumable teacher training → package."""

from __future__ import annotations

import argparse

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

METHODS = {
    "supervised": "every labeled image is fully annotated, so the network learns from its "
    "labels alone (weighted cross-entropy)",
    "actis": "ACTIS: a supervised baseline first, then a mean teacher turns the unlabeled "
    "images into confident pseudo-labels for the student",
    "inconsistency": "Inconsistency Masks: an ensemble of baselines labels the unlabeled images "
    "and masks out where its members disagree",
}


def _stage_costs(spec) -> list[float]:
    """Per-step costs of the stages in plain training steps (for ``--time-budget``)."""
    training = spec.training
    if training.mode == "actis":
        # An estimate, not a measurement: the teacher's 8 TTA forward passes of the unlabeled
        # batch (a forward pass taken as a third of a training step) and the student's step on
        # labeled + unlabeled patches.
        actis = training.actis
        share = (actis.labeled_per_batch + actis.unlabeled_per_batch * (1 + 8 / 3)) / (
            training.batch_size
        )
        return [1.0, share]
    if training.mode == "inconsistency":
        params = training.inconsistency
        return [1.0] * (params.ensemble_size + params.generations * params.students_per_generation)
    return [1.0]


def train(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → data and spec → resumable training → tuned, exported package."""
    from semiseg_zoo.spec import TeacherSpec, data_root
    from semiseg_zoo.training.job import JobSettings
    from semiseg_zoo.training.run_files import compute_from_args
    from semiseg_zoo.training.teacher import (
        TeacherSchedule,
        build_net,
        load_teacher_data,
        run_teacher_job,
    )
    from semiseg_zoo.training.teacher.user_data import (
        DEFAULT_ACTIS_STEPS,
        DEFAULT_STEPS,
        TeacherFolders,
        default_teacher_spec,
        load_teacher_folders,
        smallest_side,
    )

    method = args.method or ("actis" if args.unlabeled else "supervised")
    if method != "supervised" and args.unlabeled is None and args.spec is None:
        raise UsageError(f"--method {method} learns from images without labels: give --unlabeled")
    name = model_name(args)
    spec = given_spec(args, TeacherSpec, "teacher")
    log = log_to_stderr if args.write_spec == "-" else log_line
    if args.images is not None:
        folders = TeacherFolders(
            args.images, args.labels, args.unlabeled, args.val_images, args.val_labels,
            args.val_fraction,
        )  # fmt: skip
        log(f"checking {folders.images} and {folders.labels}")
        data, channels = load_teacher_folders(folders, args.seed)
        if spec is None:
            spec = default_teacher_spec(
                name, channels=channels, method=method, folders=folders,
                steps=args.steps or DEFAULT_STEPS, actis_steps=args.steps or DEFAULT_ACTIS_STEPS,
                patch=128 if smallest_side(data) >= 128 else 64, seed=args.seed,
            )  # fmt: skip
    else:
        data = load_teacher_data(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return write_spec(spec, args.write_spec)
    log_line(data.describe())
    log_line(f"method {spec.training.mode}: {METHODS[spec.training.mode]}")
    compute = compute_from_args(args)
    steps = budget_steps(args, spec, build_net(spec)[0], compute, _stage_costs(spec))
    job = JobSettings(**job_settings(args, command, compute, steps or spec.training.steps))
    run_teacher_job(
        spec, data, run_dir=job.run_dir, output=job.output,
        schedule=TeacherSchedule(compute, steps=steps, actis_steps=steps, workers=job.workers),
        resume=job.resume, checkpoint_every_s=job.checkpoint_every_s, overwrite=job.overwrite,
        command=command, progress=job.progress, log=log_line,
    )  # fmt: skip
    wrote(job.output)
    return 0
