"""Train a 3-class teacher U-Net (background, interior, boundary) and export it as a package.

The spec's ``training.mode`` selects the method:

* ``supervised``: weighted cross-entropy on the labeled images, best AP@0.5 checkpoint;
* ``actis``: a supervised baseline (trained here, or ``--baseline CHECKPOINT``), then ACTIS
  mean-teacher training on labeled + unlabeled images;
* ``inconsistency``: an ensemble of baselines (trained here, or ``--baseline`` given once per
  member), then generations of Inconsistency-Mask self-training.

Checkpoints are selected and the watershed thresholds grid-searched on the spec's tuning images
(``tune_images``, held out of the training split), the package is validated on ``val`` and
exported. Every stage checkpoints every few minutes; ``--resume`` continues a stopped run.

    python training/train_teacher.py --spec model_specs/teacher_nuclei_2d.yaml
    python training/train_teacher.py --spec model_specs/teacher_nuclei_2d.yaml --resume
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.spec import TeacherSpec, data_root, load_spec
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite, run_script
from semiseg_zoo.training.teacher import TeacherSchedule, load_teacher_data, run_teacher_job


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="model spec YAML")
    add_output_arguments(parser)
    add_schedule_arguments(parser)
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        default=[],
        help="supervised checkpoint(s) to start ACTIS / Inconsistency Masks from",
    )
    parser.add_argument(
        "--from-checkpoint",
        type=Path,
        help="skip training: tune thresholds and export from this checkpoint",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_script(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if not isinstance(spec, TeacherSpec):
        raise SystemExit(f"{args.spec}: this script trains teacher specs, got kind {spec.kind!r}")
    compute = compute_from_args(args)
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    refuse_to_overwrite(output, args.overwrite)
    print(f"loading data from {root}")
    data = load_teacher_data(spec, root)
    print(f"mode {spec.training.mode}: {data.describe()}; {compute.describe()}")
    schedule = TeacherSchedule(compute, steps=args.steps, actis_steps=args.steps,
                               workers=args.workers)  # fmt: skip
    try:
        run_teacher_job(
            spec,
            data,
            run_dir=run_dir,
            output=output,
            schedule=schedule,
            resume=args.resume,
            checkpoint_every_s=args.checkpoint_every * 60,
            overwrite=args.overwrite,
            baselines=args.baseline,
            from_checkpoint=args.from_checkpoint,
            command=[sys.executable, *sys.argv],
        )
    except (FileExistsError, ValueError) as error:
        raise SystemExit(f"train_teacher.py: error: {error}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
