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
import time
from pathlib import Path

import numpy as np

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.spec import AffinitySpec, AffinityTrainingSpec, data_root, load_spec
from semiseg_zoo.training import RunControl, StepBatches, TrainingInterrupted, training_record
from semiseg_zoo.training.affinity_steps import (
    best_row,
    cpsn_net,
    explicit_net,
    exported_spec,
    implicit_net,
    load_checkpoint,
    load_split,
    predict_affinities,
    save_checkpoint,
    score,
    sparse_labels,
)
from semiseg_zoo.training.crac import CracWeights, train_crac
from semiseg_zoo.training.recipe_scores import score_recipes
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite
from semiseg_zoo.training.volume_data import SparseInstancePatchDataset


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


def sample_input(spec: AffinitySpec) -> np.ndarray:
    """A synthetic, shippable test image for the package: EM-like cells and membranes (2D), or
    synthetic blobs fading over 8 slices (3D); small, so that the package stays small."""
    from semiseg_zoo.synthetic import synthetic_cells, synthetic_nuclei

    if len(spec.input.axes) == 4:
        image, _ = synthetic_cells((128, 128), seed=0)
        return image
    image, _ = synthetic_nuclei((96, 96), seed=0)
    fade = np.exp(-0.5 * ((np.arange(8) - 3.5) / 2.5) ** 2)[:, None, None]
    return (image[None].astype(np.float32) * fade).astype(np.uint8)


def supervision_text(spec: AffinitySpec) -> str:
    training = spec.training
    fraction = training.annotated_fraction
    what = (
        f"{fraction:.0%} of the training instances annotated"
        if fraction is not None
        else "dense labels"
    )
    mode = (
        "CRAC" + (" + CPSN" if training.loss.cpsn else "") if training.mode == "crac" else "vanilla"
    )
    return f"{mode}, {what}"


def curve_validator(spec: AffinitySpec, split, device: str):
    """The spec's metric (VOI negated, so that higher is better) with its first
    post-processing recipe on the validation images: the run's validation curve (the recipes
    are compared after training)."""
    recipe = {**spec.training.postprocessing[0].model_dump(exclude_none=True),
              "offsets": spec.offsets}  # fmt: skip
    metric = spec.training.metric

    def validate(net) -> float:
        values = []
        for image, groundtruth in zip(split.val_images, split.val_labels, strict=True):
            labels = apply_postprocessing(predict_affinities(net, image, device), recipe)
            value = score(labels, groundtruth)[metric]
            values.append(-value if metric == "voi" else value)
        return float(np.mean(values))

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
    if not isinstance(spec, AffinitySpec):
        raise SystemExit(f"{args.spec}: this script trains affinity specs, got {spec.kind!r}")
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
        if not args.from_checkpoint:
            raise SystemExit("--reuse-validation needs --from-checkpoint")
        nets, _ = load_checkpoint(spec, args.from_checkpoint)
        report = json.loads((run_dir / "validation.json").read_text())
        return export(nets, spec, report, args, output)

    print(f"loading data from {root}")
    split = load_split(spec, root)
    labels, counts = sparse_labels(split.train_labels, training.annotated_fraction, training.seed)
    print(
        f"{supervision_text(spec)}: {counts['annotated_instances']} of {counts['instances']} "
        f"instances in {len(labels)} training image(s); {len(split.val_images)} validation "
        f"image(s); {compute.describe()}"
    )
    record: dict = {}
    if args.from_checkpoint:
        nets, checkpoint = load_checkpoint(spec, args.from_checkpoint)
        history, seconds = checkpoint.get("history", []), checkpoint.get("seconds")
    else:
        patches = SparseInstancePatchDataset(
            split.train_images, labels, tuple(training.patch_shape),
            annotated_probability=training.annotated_patch_probability, seed=training.seed,
        )  # fmt: skip
        loss = training.loss
        crac = training.mode == "crac"
        control = RunControl(
            run_dir, resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60
        )
        control.update_record(
            command=" ".join([sys.executable, *sys.argv]),
            spec=spec.model_dump(mode="json"),
            compute=compute.describe(),
        )
        result = train_crac(
            implicit_net(spec), explicit_net(spec) if crac else None,
            StepBatches(patches, training.batch_size, workers=args.workers), spec.offsets,
            steps=training.steps, batch_size=training.batch_size,
            learning_rate=training.learning_rate, weight_decay=training.weight_decay,
            weights=CracWeights(
                lambda_c=loss.lambda_c, alpha0=loss.alpha0, power=loss.power,
                cpsn_dropout=loss.cpsn_dropout, cpsn_warmup=loss.cpsn_warmup,
            ),
            cpsn=cpsn_net(spec) if crac and loss.cpsn else None,
            seed=training.seed, compute=compute, log_every=min(args.log_every, training.steps),
            validate=curve_validator(spec, split, device), control=control,
        )  # fmt: skip
        record = training_record([result.record])
        control.update_record(training=record)
        save_checkpoint(run_dir / "checkpoint.pt", result, {"mode": training.mode, **counts})
        nets = {"implicit": result.implicit}
        if result.explicit is not None:
            nets["explicit"] = result.explicit
        history, seconds = result.history, result.seconds
        print(f"trained in {seconds:.0f}s; saved {run_dir / 'checkpoint.pt'}")

    recipes = [
        {**recipe.model_dump(exclude_none=True), "offsets": spec.offsets}
        for recipe in training.postprocessing
    ]
    rows = []
    for name, net in nets.items():
        net = net.to(device).eval()
        affinities = [predict_affinities(net, image, device) for image in split.val_images]
        rows += score_recipes(affinities, split.val_labels, recipes, score, net=name)
    best = best_row(rows, training.metric)
    for row in rows:
        print(
            f"{row['name']}: VOI {row['voi']:.3f} (split {row['voi_split']:.3f}, merge "
            f"{row['voi_merge']:.3f}) ARAND {row['arand']:.3f} S_DSB@0.5 {row['s_dsb50']:.3f} "
            f"({row['seconds_per_image']:.2f}s/image)"
        )
    validation = {
        "dataset": training.val,
        "n_images": len(split.val_images),
        "net": best["net"],
        **{key: best[key] for key in ("voi_split", "voi_merge", "voi", "arand", "s_dsb50", "ap50")},
        "postprocessing_seconds_per_image": best["seconds_per_image"],
        "supervision": supervision_text(spec),
        "definition": (
            "VOI split/merge (bits) and adapted Rand error ignore ground-truth background; "
            "S_DSB@0.5 = TP/(TP+FP+FN) and AP@0.5 = TP/(TP+FP) at IoU 0.5; means over the "
            "validation images"
        ),
    }
    report = {
        "supervision": supervision_text(spec),
        "mode": training.mode,
        "cpsn": training.loss.cpsn,
        "annotated_fraction": training.annotated_fraction,
        **counts,
        "steps": training.steps,
        "training_seconds": seconds,
        "postprocessing": rows,
        "best": best["name"],
        "validation": validation,
        "history": history,
        "training": record,
    }
    (run_dir / "validation.json").write_text(json.dumps(report, indent=2))
    print(f"best on validation ({training.metric}): {best['name']}")
    if args.no_export:
        return 0
    return export(nets, spec, report, args, output)


def export(
    nets: dict, spec: AffinitySpec, report: dict, args: argparse.Namespace, output: Path
) -> int:
    """Export the best network of ``report`` with its recipe and validation scores."""
    from semiseg_zoo.export import export_package

    best = next(row for row in report["postprocessing"] if row["name"] == report["best"])
    start = time.perf_counter()
    path = export_package(
        nets[best["net"]].cpu().eval(),
        exported_spec(spec, best["net"]),
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
