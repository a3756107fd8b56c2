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
import time
from pathlib import Path

import numpy as np
import torch

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.spec import EmbeddingSpec, EmbeddingTrainingSpec, data_root, load_spec
from semiseg_zoo.training import RunControl, StepBatches, TrainingInterrupted, training_record
from semiseg_zoo.training.embedding import train_embedding
from semiseg_zoo.training.embedding_steps import (
    best_recipe,
    build_net,
    embed,
    load_checkpoint,
    load_split,
    save_checkpoint,
    score,
    sparse_training_labels,
    spoco_weights,
)
from semiseg_zoo.training.instance_data import InstancePatchDataset
from semiseg_zoo.training.recipe_scores import score_recipes
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite

#: Validation images of the curve recorded while training (the clustering is tuned after).
CURVE_IMAGES = 4


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


def sample_input(spec: EmbeddingSpec) -> np.ndarray:
    """A synthetic, shippable test image for the package: a rosette (colour) or nuclei; 128² keeps
    the 16-channel test and sample outputs (and the package) small."""
    from semiseg_zoo.synthetic import synthetic_nuclei, synthetic_rosette

    if spec.input.channels == 3:
        image, _ = synthetic_rosette((128, 128), seed=0)
        return np.moveaxis(image, -1, 0)
    if spec.input.channels == 1 and len(spec.input.axes) == 4:
        image, _ = synthetic_nuclei((128, 128), seed=0)
        return image
    raise SystemExit(f"no synthetic sample input for {spec.input.axes} with {spec.input.channels}")


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


def supervision_text(spec: EmbeddingSpec) -> str:
    fraction = spec.training.object_fraction
    if fraction is not None:
        return f"SPOCO@{fraction:g} ({fraction:.0%} of the objects of each image labeled)"
    if spec.training.train.sparse:
        return "sparse annotations (only the annotated objects labeled)"
    return "full supervision (all objects and the background labeled)"


def curve_validator(spec: EmbeddingSpec, val_items, device: str):
    """The spec's metric with its first clustering recipe on the first validation images: the
    validation curve of the run (cheap; the recipes are compared after training)."""
    recipe = spec.training.clustering[0].model_dump(exclude_none=True)
    items = val_items[:CURVE_IMAGES]

    def validate(net) -> float:
        scores = [
            score(apply_postprocessing(embed(net, item.image, device), recipe), item.labels)
            for item in items
        ]
        return float(np.mean([s[spec.training.metric] for s in scores]))

    return validate


def main(argv: list[str] | None = None) -> int:
    sys.stdout.reconfigure(line_buffering=True)
    args = build_parser().parse_args(argv)
    try:
        return _main(args)
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130


def _main(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if not isinstance(spec, EmbeddingSpec):
        raise SystemExit(f"{args.spec}: this script trains embedding specs, got {spec.kind!r}")
    spec = resolved_spec(spec, args)
    training = spec.training
    compute = compute_from_args(args)
    device = compute.device
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    if not args.no_export:
        refuse_to_overwrite(output, args.overwrite)
    run_dir.mkdir(parents=True, exist_ok=True)

    if args.reuse_validation:
        # Export only: the scores and the recipe come from the run, no data are needed.
        if not args.from_checkpoint:
            raise SystemExit("--reuse-validation needs --from-checkpoint")
        net, _ = load_checkpoint(spec, args.from_checkpoint)
        return export(
            net, spec, json.loads((run_dir / "validation.json").read_text()), args, output
        )

    print(f"loading data from {root}")
    train_items, val_items = load_split(spec, root)
    labels, counts = sparse_training_labels(train_items, training.object_fraction, training.seed)
    print(
        f"{supervision_text(spec)}: {counts['labeled_objects']} of {counts['objects']} objects "
        f"in {len(train_items)} training images labeled; {len(val_items)} validation images; "
        f"{compute.describe()}"
    )
    record: dict = {}
    if args.from_checkpoint:
        net, checkpoint = load_checkpoint(spec, args.from_checkpoint)
        history = checkpoint.get("history", [])
        seconds = checkpoint.get("seconds")
    else:
        net = build_net(spec)
        patches = InstancePatchDataset(
            [item.image for item in train_items], labels, tuple(training.patch_shape),
            seed=training.seed,
        )  # fmt: skip
        control = RunControl(
            run_dir, resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60
        )
        control.update_record(
            command=" ".join([sys.executable, *sys.argv]),
            spec=spec.model_dump(mode="json"),
            compute=compute.describe(),
        )
        result = train_embedding(
            net, StepBatches(patches, training.batch_size, workers=args.workers),
            steps=training.steps, batch_size=training.batch_size,
            learning_rate=training.learning_rate, weight_decay=training.weight_decay,
            momentum=training.loss.momentum, weights=spoco_weights(spec),
            seed=training.seed, compute=compute, log_every=min(args.log_every, training.steps),
            validate=curve_validator(spec, val_items, device), control=control,
        )  # fmt: skip
        net, history, seconds = result.net, result.history, result.seconds
        record = training_record([result.record])
        control.update_record(training=record)
        save_checkpoint(
            run_dir / "checkpoint.pt",
            result,
            {"object_fraction": training.object_fraction, **counts},
        )
        print(f"trained in {seconds:.0f}s; saved {run_dir / 'checkpoint.pt'}")

    subset = bool(args.max_val_images and args.max_val_images < len(val_items))
    if subset:
        rng = np.random.default_rng([training.seed, 6])
        chosen = sorted(rng.choice(len(val_items), args.max_val_images, replace=False))
        val_items = [val_items[i] for i in chosen]
        print(f"scoring the clustering on {len(val_items)} validation images (seeded subset)")
    net = net.to(device).eval()
    embeddings = [embed(net, item.image, device) for item in val_items]
    groundtruths = [item.labels for item in val_items]
    recipes = [recipe.model_dump(exclude_none=True) for recipe in training.clustering]
    rows = score_recipes(embeddings, groundtruths, recipes, score)
    best = best_recipe(rows, training.metric)
    for row in rows:
        print(
            f"{row['name']}: SBD {row['sbd']:.3f} |DiC| {row['abs_dic']:.2f} AP@0.5 "
            f"{row['ap50']:.3f} ({row['seconds_per_image']:.2f}s/image)"
        )
    validation = {
        "dataset": training.val + (f", seeded subset of {len(val_items)}" if subset else ""),
        "n_images": len(val_items),
        "sbd": best["sbd"],
        "abs_dic": best["abs_dic"],
        "ap50": best["ap50"],
        "f1_50": best["f1_50"],
        "clustering_seconds_per_image": best["seconds_per_image"],
        "supervision": supervision_text(spec),
        "definition": "SBD/|DiC| as CVPPP; AP@0.5 = TP/(TP+FP) at IoU 0.5 averaged over images",
    }
    report = {
        "supervision": supervision_text(spec),
        "object_fraction": training.object_fraction,
        **counts,
        "steps": training.steps,
        "training_seconds": seconds,
        "clustering": rows,
        "best": best["name"],
        "validation": validation,
        "history": history,
        "training": record,
    }
    (run_dir / "validation.json").write_text(json.dumps(report, indent=2))
    print(f"best on validation ({training.metric}): {best['name']}")
    if args.no_export:
        return 0
    return export(net, spec, report, args, output)


def export(
    net: torch.nn.Module, spec: EmbeddingSpec, report: dict, args: argparse.Namespace, output: Path
) -> int:
    """Export ``net`` with the best clustering recipe and validation scores of ``report``."""
    from semiseg_zoo.export import export_package

    best = next(row for row in report["clustering"] if row["name"] == report["best"])
    start = time.perf_counter()
    path = export_package(
        net.cpu(),
        spec,
        sample_input=sample_input(spec),
        output_path=output,
        postprocessing=best["recipe"],
        validation=report["validation"],
        training=report.get("training"),
        overwrite=args.overwrite,
    )
    print(
        f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
