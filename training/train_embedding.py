"""Train a SPOCO pixel-embedding network and export it as a package with its tuned clustering.

Full supervision, SPOCO@p (``--object-fraction`` or the spec's ``training.object_fraction``: a
seeded fraction p of each image's objects labeled, background never) or real sparse annotations
(``sparse: true`` labels). After training, every clustering recipe of ``training.clustering`` is
scored on the validation images; the best (``training.metric``) goes into the package.

    python training/train_embedding.py --spec model_specs/embedding_leaves_cvppp.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.spec import EmbeddingSpec, EmbeddingTrainingSpec, data_root, load_spec
from semiseg_zoo.training.embedding.job import EmbeddingJob, export, run_embedding_job
from semiseg_zoo.training.embedding.steps import load_checkpoint, load_split
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite, run_script


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="model spec YAML")
    add_output_arguments(parser)
    supervision = parser.add_mutually_exclusive_group()
    supervision.add_argument(
        "--object-fraction", type=float, help="SPOCO@p: overrides training.object_fraction"
    )
    supervision.add_argument(
        "--full", action="store_true", help="full supervision, whatever the spec says"
    )
    add_schedule_arguments(parser)
    parser.add_argument("--seed", type=int, help="overrides training.seed")
    parser.add_argument(
        "--log-every", type=int, default=250, help="steps between log lines and curve points"
    )
    parser.add_argument(
        "--from-checkpoint", type=Path, help="skip training: tune the clustering and export"
    )
    parser.add_argument(
        "--max-val-images",
        type=int,
        help="score the clustering on this many validation images (a seeded subset)",
    )
    parser.add_argument(
        "--reuse-validation",
        action="store_true",
        help="with --from-checkpoint: take the clustering and scores from the run's "
        "validation.json instead of scoring again",
    )
    parser.add_argument(
        "--no-export", action="store_true", help="stop after validation (experiments)"
    )
    return parser


def resolved_spec(spec: EmbeddingSpec, args: argparse.Namespace) -> EmbeddingSpec:
    """``spec`` with the command line's overrides, so that the package describes the run."""
    update: dict = {}
    if args.full:
        update["object_fraction"] = None
    elif args.object_fraction is not None:
        update["object_fraction"] = args.object_fraction
    if args.steps is not None:
        update["steps"] = args.steps
    if args.seed is not None:
        update["seed"] = args.seed
    if not update:
        return spec
    training = EmbeddingTrainingSpec.model_validate({**spec.training.model_dump(), **update})
    return spec.model_copy(update={"training": training})


def main(argv: list[str] | None = None) -> int:
    return run_script(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if not isinstance(spec, EmbeddingSpec):
        raise SystemExit(f"{args.spec}: this script trains embedding specs, got {spec.kind!r}")
    spec = resolved_spec(spec, args)
    compute = compute_from_args(args)
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    if not args.no_export:
        refuse_to_overwrite(output, args.overwrite)
    if args.reuse_validation:
        # Export only: the scores and the recipe come from the run, no data are needed.
        if not args.from_checkpoint:
            raise SystemExit("--reuse-validation needs --from-checkpoint")
        net, _ = load_checkpoint(spec, args.from_checkpoint)
        report = json.loads((run_dir / "validation.json").read_text())
        export(net, spec, report, output, overwrite=args.overwrite)
        return 0
    print(f"loading data from {root}")
    train_items, val_items = load_split(spec, root)
    job = EmbeddingJob(
        run_dir, output, compute, resume=args.resume,
        checkpoint_every_s=args.checkpoint_every * 60, overwrite=args.overwrite,
        workers=args.workers, log_every=args.log_every,
        command=[sys.executable, *sys.argv], from_checkpoint=args.from_checkpoint,
        max_val_images=args.max_val_images, export=not args.no_export,
    )  # fmt: skip
    run_embedding_job(spec, train_items, val_items, job)
    return 0


if __name__ == "__main__":
    sys.exit(main())
