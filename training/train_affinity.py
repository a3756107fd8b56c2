"""Train CRAC affinity networks from sparse instance labels and export the better one as a
package with its tuned instance post-processing.

A seeded ``training.annotated_fraction`` of the training instances is annotated (the rest,
background included, is one unannotated region). ``--mode crac`` trains the implicit and the
explicit network with cross-supervision; ``vanilla`` the implicit one alone. After training,
each network's affinities are post-processed with every recipe of ``training.postprocessing``
on the validation part; the best network and recipe (``training.metric``) go into the package.

    python training/train_affinity.py --spec model_specs/affinity_neurites_isbi.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.spec import AffinitySpec, AffinityTrainingSpec, data_root, load_spec
from semiseg_zoo.training.affinity.job import AffinityJob, export, run_affinity_job
from semiseg_zoo.training.affinity.steps import load_checkpoint, load_split
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite, run_script


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="model spec YAML")
    add_output_arguments(parser)
    parser.add_argument("--mode", choices=["crac", "vanilla"], help="overrides training.mode")
    parser.add_argument(
        "--cpsn", action=argparse.BooleanOptionalAction, help="overrides training.loss.cpsn"
    )
    parser.add_argument(
        "--annotated-fraction", type=float, help="overrides training.annotated_fraction"
    )
    add_schedule_arguments(parser)
    parser.add_argument("--seed", type=int, help="overrides training.seed")
    parser.add_argument(
        "--log-every", type=int, default=100, help="steps between log lines and curve points"
    )
    parser.add_argument(
        "--from-checkpoint", type=Path, help="skip training: tune the post-processing and export"
    )
    parser.add_argument(
        "--reuse-validation",
        action="store_true",
        help="with --from-checkpoint: take the network, recipe and scores from the run's "
        "validation.json instead of scoring again",
    )
    parser.add_argument(
        "--no-export", action="store_true", help="stop after validation (experiments)"
    )
    return parser


def resolved_spec(spec: AffinitySpec, args: argparse.Namespace) -> AffinitySpec:
    """``spec`` with the command line's overrides, so that the package describes the run."""
    update: dict = {}
    for option, field in (
        ("mode", "mode"),
        ("annotated_fraction", "annotated_fraction"),
        ("steps", "steps"),
        ("seed", "seed"),
    ):
        if getattr(args, option) is not None:
            update[field] = getattr(args, option)
    training = spec.training.model_dump()
    if args.cpsn is not None:
        training["loss"] = {**training["loss"], "cpsn": args.cpsn}
    if not update and args.cpsn is None:
        return spec
    new = AffinityTrainingSpec.model_validate({**training, **update})
    return spec.model_copy(update={"training": new})


def main(argv: list[str] | None = None) -> int:
    return run_script(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if not isinstance(spec, AffinitySpec):
        raise SystemExit(f"{args.spec}: this script trains affinity specs, got {spec.kind!r}")
    spec = resolved_spec(spec, args)
    compute = compute_from_args(args)
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    if not args.no_export:
        refuse_to_overwrite(output, args.overwrite)
    if args.reuse_validation:
        if not args.from_checkpoint:
            raise SystemExit("--reuse-validation needs --from-checkpoint")
        nets, _ = load_checkpoint(spec, args.from_checkpoint)
        report = json.loads((run_dir / "validation.json").read_text())
        export(nets, spec, report, output, overwrite=args.overwrite)
        return 0
    print(f"loading data from {root}")
    split = load_split(spec, root)
    job = AffinityJob(
        run_dir, output, compute, resume=args.resume,
        checkpoint_every_s=args.checkpoint_every * 60, overwrite=args.overwrite,
        workers=args.workers, log_every=args.log_every, command=[sys.executable, *sys.argv],
        from_checkpoint=args.from_checkpoint, export=not args.no_export,
    )  # fmt: skip
    run_affinity_job(spec, split, job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
