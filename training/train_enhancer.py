"""Train a shallow2deep Prediction Enhancer from a model spec and export it as a package.

Many Random Forests are trained on random patches of the densely labeled source data (the spec's
``training.source``); their probability maps (cached under the run folder) are the inputs of a
U-Net that learns to predict the ground truth from them, never seeing raw data. The last
``val_images`` source images get their own forests for validation, threshold tuning and the
numbers recorded in the package.

    python training/train_enhancer.py --spec model_specs/enhancer_mito_em.yaml

With ``--pseudo-label-net`` it trains no enhancer but uses one (``--enhancer``, default this
spec's run output) for shallow2deep domain adaptation (Sec. 2.2): a Random Forest from scribbles
on the target data, improved by the enhancer, gives soft pseudo-labels on which a fresh U-Net of
the enhancer's architecture learns from the raw target images; it is exported as a
``pseudo_label_net`` package.

    python training/train_enhancer.py --spec model_specs/enhancer_mito_em.yaml \
        --pseudo-label-net target_raw.tif --scribbles target_scribbles.tif
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.features import FeatureSet, compute_features
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.shallow import simulate_scribbles
from semiseg_zoo.shallow.workflow import rf_probabilities_from_scribbles
from semiseg_zoo.spec import EnhancerSpec, data_root, default_pseudo_label_net_name, load_spec
from semiseg_zoo.training import RunControl, TrainingInterrupted, training_record
from semiseg_zoo.training.enhancer import (
    enhance_maps,
    make_enhancer_validator,
    pixel_dice,
    train_enhancer,
)
from semiseg_zoo.training.enhancer_data import load_source_images
from semiseg_zoo.training.enhancer_steps import synthetic_task_image, tune_threshold
from semiseg_zoo.training.forest_maps import forest_maps
from semiseg_zoo.training.pseudo_label_steps import (
    enhancer_pseudo_labels,
    enhancer_spec_of,
    fit_pseudo_label_net,
    pseudo_label_agreement,
    pseudo_label_training,
    sample_raw_input,
)
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="enhancer model spec YAML")
    add_output_arguments(parser)
    add_schedule_arguments(parser)
    parser.add_argument("--n-forests", type=int, help="overrides training.n_forests")
    parser.add_argument(
        "--from-checkpoint", type=Path, help="skip training: tune thresholds and export"
    )
    target = parser.add_argument_group("pseudo-label mode (shallow2deep domain adaptation)")
    target.add_argument(
        "--pseudo-label-net",
        type=Path,
        metavar="TARGET_RAW",
        help="train a U-Net on this raw target tif (2D, or a (Z, Y, X) stack used as 2D slices) "
        "from the enhancer's pseudo-labels instead of training an enhancer",
    )
    target.add_argument(
        "--scribbles",
        type=Path,
        metavar="TARGET_SCRIBBLES",
        help="scribbles tif of TARGET_RAW's shape: 0 unlabeled, 1 background, 2 the enhancer's "
        "class",
    )
    target.add_argument(
        "--enhancer", type=Path, help="enhancer package zip (default runs/<name>/<name>.zip)"
    )
    target.add_argument("--pl-steps", type=int, default=2000, help="training steps (default 2000)")
    return parser


def feature_set_of(spec: EnhancerSpec) -> FeatureSet:
    return FeatureSet(tuple(spec.features.names), tuple(spec.features.sigmas))


def synthetic_rf_input(spec: EnhancerSpec, seed: int = 0) -> np.ndarray:
    """A Random Forest probability map made entirely here: a synthetic image of the enhancer's
    task (nuclei for foreground enhancers, membranes for boundary ones), simulated scribbles and
    a forest on the spec's features. Used as the package's test and sample input."""
    image, semantic = synthetic_task_image(spec, seed)
    scribbles = simulate_scribbles(semantic, n_strokes_per_class=6, stroke_width=3, seed=seed)
    return rf_probabilities_from_scribbles(
        image, scribbles, feature_set_of(spec), n_trees=20, seed=seed
    )


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
    if not isinstance(spec, EnhancerSpec):
        raise SystemExit(f"{args.spec}: this script trains enhancer specs, got kind {spec.kind!r}")
    compute = compute_from_args(args)
    device = compute.device
    if args.pseudo_label_net is not None or args.scribbles is not None:
        return pseudo_label_main(args, spec, device)
    training = spec.training
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    refuse_to_overwrite(output, args.overwrite)
    run_dir.mkdir(parents=True, exist_ok=True)
    features = feature_set_of(spec)

    images = load_source_images(training.source, root)
    if len(images) <= training.val_images:
        raise SystemExit(
            f"{spec.name}: the source has {len(images)} images; need more than "
            f"training.val_images = {training.val_images}"
        )
    train_images, val_images = images[: -training.val_images], images[-training.val_images :]
    print(f"{len(train_images)} training and {len(val_images)} validation images from {root}")
    key = {"source": training.source.model_dump(), "features": features.to_dict()}

    def make_maps(subset, n, seed, split):
        return forest_maps(
            [item.image for item in subset],
            [item.target for item in subset],
            lambda image: compute_features(image, features),
            n_forests=n,
            patch_size=training.forest_patch_size,
            pixels_per_class=training.pixels_per_class,
            trees_per_forest=training.trees_per_forest,
            seed=seed,
            cache=run_dir / "forest_maps",
            cache_key={**key, "split": split, "names": [item.name for item in subset]},
        )

    start = time.perf_counter()
    n_forests = args.n_forests or training.n_forests
    train_maps = make_maps(train_images, n_forests, training.seed, "train")
    val_maps = make_maps(val_images, training.val_forests, training.seed + 1, "val")
    print(f"forest maps ready in {time.perf_counter() - start:.0f}s")
    train_targets = [item.target for item in train_images]
    val_targets = [item.target for item in val_images]

    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    history: list = []
    record: dict = {}
    if args.from_checkpoint:
        checkpoint = torch.load(args.from_checkpoint, map_location="cpu", weights_only=True)
        net.load_state_dict(checkpoint["state_dict"])
    else:
        validate = make_enhancer_validator(
            val_maps, val_targets, divisor=net.divisor, device=device
        )
        control = RunControl(
            run_dir, resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60
        )
        control.update_record(
            command=" ".join([sys.executable, *sys.argv]),
            spec=spec.model_dump(mode="json"),
            compute=compute.describe(),
        )
        result = train_enhancer(
            net, train_maps, train_targets, validate,
            patch_shape=tuple(training.patch_shape), batch_size=training.batch_size,
            steps=args.steps or training.steps, learning_rate=training.learning_rate,
            weight_decay=training.weight_decay, loss=training.loss,
            validate_every=training.validate_every, seed=training.seed, compute=compute,
            control=control,
        )  # fmt: skip
        history = result.history
        record = training_record([result.record])
        control.update_record(training=record)
        torch.save(
            {"state_dict": net.state_dict(), "history": history, "n_forests": n_forests},
            run_dir / "checkpoint.pt",
        )
    print(f"trained in {time.perf_counter() - start:.0f}s")

    net.to(device).eval()
    enhanced = enhance_maps(net, val_maps, divisor=net.divisor, device=device)
    forests = [m.probabilities.astype(np.float32) for m in val_maps]
    instances = [val_images[m.index].instances for m in val_maps]
    targets = [val_targets[m.index] for m in val_maps]
    base = spec.postprocessing.model_dump()
    recipe, scores = tune_threshold(enhanced, instances, base, training.thresholds)
    _, rf_scores = tune_threshold(forests, instances, base, training.thresholds)
    validation = {
        "dataset": training.val,
        "n_images": len(val_images),
        "n_forests": len(val_maps),
        "pixel_dice": round(
            float(np.mean([pixel_dice(e, t) for e, t in zip(enhanced, targets, strict=False)])), 4
        ),
        "rf_pixel_dice": round(
            float(np.mean([pixel_dice(f, t) for f, t in zip(forests, targets, strict=False)])), 4
        ),
        **{k: round(v, 4) for k, v in scores.items()},
        **{f"rf_{k}": round(v, 4) for k, v in rf_scores.items()},
        "definition": (
            "each validation forest is trained on a random patch of a held-out source image; "
            "rf_* = that forest alone, others = enhancer on its map; thresholds tuned per model"
        ),
    }
    print(f"validation: {validation}")
    (run_dir / "validation.json").write_text(
        json.dumps(
            {"postprocessing": recipe, "validation": validation, "history": history}, indent=2
        )
    )

    from semiseg_zoo.export import export_package

    export_package(
        net.cpu(),
        spec,
        sample_input=synthetic_rf_input(spec),
        output_path=output,
        postprocessing=recipe,
        validation=validation,
        training=record,
        overwrite=args.overwrite,
    )
    print(f"wrote {output}")
    return 0


def pseudo_label_main(args: argparse.Namespace, spec: EnhancerSpec, device: str) -> int:
    """``--pseudo-label-net``: enhancer pseudo-labels on the target → trained, exported U-Net."""
    if args.pseudo_label_net is None or args.scribbles is None:
        raise SystemExit("--pseudo-label-net and --scribbles go together; give both")
    enhancer_path = args.enhancer or Path("runs") / spec.name / f"{spec.name}.zip"
    if args.pl_steps < 1:
        raise SystemExit(f"--pl-steps must be at least 1, got {args.pl_steps}")
    for flag, path in [
        ("--pseudo-label-net", args.pseudo_label_net),
        ("--scribbles", args.scribbles),
    ]:
        if not path.is_file():
            raise SystemExit(f"{flag}: {path} does not exist")
    if not enhancer_path.is_file():
        raise SystemExit(
            f"--enhancer: {enhancer_path} does not exist (train the enhancer first: run without "
            "--pseudo-label-net, or name a package with --enhancer)"
        )
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{default_pseudo_label_net_name(spec)}.zip"
    refuse_to_overwrite(output, args.overwrite)
    raw, scribbles = tifffile.imread(args.pseudo_label_net), tifffile.imread(args.scribbles)
    if raw.ndim not in (2, 3) or raw.shape != scribbles.shape:
        raise SystemExit(
            f"--pseudo-label-net has shape {raw.shape} and --scribbles {scribbles.shape}; expected "
            "two (Y, X) or (Z, Y, X) images of the same shape"
        )

    from semiseg_zoo.inference import load_model

    model = load_model(enhancer_path, device="cuda" if device == "cuda" else "cpu")
    enhancer, recipe = enhancer_spec_of(model.package)
    slices = "1 image" if raw.ndim == 2 else f"{raw.shape[0]} slices"
    training = pseudo_label_training(
        enhancer,
        target=f"{args.pseudo_label_net.name} ({slices} of {raw.shape[-2]}x{raw.shape[-1]})",
        steps=args.pl_steps,
        seed=spec.training.seed,
    )
    start = time.perf_counter()
    data = enhancer_pseudo_labels(
        model, [raw], [scribbles], n_trees=training.n_trees, seed=training.seed
    )
    print(f"pseudo-labels of {len(data.images)} slices in {time.perf_counter() - start:.0f}s")
    net, pl_spec, result = fit_pseudo_label_net(enhancer, recipe, data, training, device=device)
    print(f"trained in {time.perf_counter() - start:.0f}s")
    validation = pseudo_label_agreement(net, data)
    print(f"validation: {validation}")
    output.parent.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{pl_spec.name}.json").write_text(
        json.dumps({"validation": validation, "history": result.history}, indent=2)
    )

    from semiseg_zoo.export import export_package

    export_package(
        net,
        pl_spec,
        sample_input=sample_raw_input(enhancer),
        output_path=output,
        postprocessing=recipe,
        validation=validation,
        overwrite=args.overwrite,
    )
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
