"""Train a 3-class teacher U-Net (background, interior, boundary) and export it as a package.

Supervised mode (this script's default): weighted cross-entropy on the spec's training split,
checkpoint with the best AP@0.5 on the validation split, grid search of the two watershed
thresholds on validation, export of a bioimage.io package.

    python training/train_teacher.py --spec model_specs/teacher_nuclei_2d.yaml
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from semiseg_zoo.evaluation import mean_instance_scores
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.postprocess import watershed_from_probabilities
from semiseg_zoo.spec import ScaleRange, TeacherSpec, data_root, load_spec
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    load_image_label_folder,
    predict_whole_image,
    resolve_device,
    train_supervised,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="model spec YAML")
    parser.add_argument("--output", type=Path, help="package zip (default runs/<name>/<name>.zip)")
    parser.add_argument("--data-root", type=Path, help="overrides SEMISEG_DATA")
    parser.add_argument("--steps", type=int, help="overrides training.steps")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--from-checkpoint",
        type=Path,
        help="skip training: tune thresholds and export from this checkpoint",
    )
    return parser


def predict_all(net, items: list[LabelledImage], device: str) -> list[np.ndarray]:
    return [
        predict_whole_image(net, item.image, divisor=net.divisor, device=device) for item in items
    ]


def score_thresholds(
    probabilities: list[np.ndarray],
    items: list[LabelledImage],
    seed: float,
    fg: float,
    min_size: int,
) -> dict[str, float]:
    pairs = (
        (
            watershed_from_probabilities(
                p, seed_threshold=seed, foreground_threshold=fg, min_size=min_size
            ),
            item.labels,
        )
        for p, item in zip(probabilities, items, strict=True)
    )
    return mean_instance_scores(pairs, iou_threshold=0.5)


def grid_search(
    probabilities: list[np.ndarray], items: list[LabelledImage], spec: TeacherSpec
) -> tuple[dict[str, float], dict[str, float]]:
    """Return the thresholds with the best mean AP@0.5 and their scores."""
    best: tuple[dict[str, float], dict[str, float]] | None = None
    for seed, fg in itertools.product(
        spec.training.seed_thresholds, spec.training.foreground_thresholds
    ):
        scores = score_thresholds(probabilities, items, seed, fg, spec.postprocessing.min_size)
        print(
            f"  seed {seed:.2f}  foreground {fg:.2f}  AP@0.5 {scores['ap']:.4f}  F1 {scores['f1']:.4f}"
        )
        if best is None or scores["ap"] > best[1]["ap"]:
            best = ({"seed_threshold": seed, "foreground_threshold": fg}, scores)
    assert best is not None  # the spec guarantees non-empty grids
    return best


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = load_spec(args.spec)
    if not isinstance(spec, TeacherSpec):
        raise SystemExit(f"{args.spec}: this script trains teacher specs, got kind {spec.kind!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    root = args.data_root or data_root()
    run_dir = args.output.parent if args.output else Path("runs") / spec.name
    run_dir.mkdir(parents=True, exist_ok=True)
    output = args.output or run_dir / f"{spec.name}.zip"
    torch.manual_seed(spec.training.seed)

    norm = spec.input.preprocessing
    percentiles = (
        {"min_percentile": norm.min_percentile, "max_percentile": norm.max_percentile}
        if isinstance(norm, ScaleRange)
        else {}
    )
    print(f"loading data from {root}")
    train_items = load_image_label_folder(root / spec.training.train, **percentiles)
    val_items = load_image_label_folder(root / spec.training.val, **percentiles)
    print(f"{len(train_items)} training and {len(val_items)} validation images; device {device}")

    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    checkpoint_path = run_dir / "checkpoint.pt"
    if args.from_checkpoint:
        checkpoint = torch.load(args.from_checkpoint, map_location="cpu", weights_only=True)
        net.load_state_dict(checkpoint["state_dict"])
        history = checkpoint.get("history", [])
    else:
        dataset = RandomPatchDataset(
            train_items, tuple(spec.training.patch_shape), seed=spec.training.seed
        )
        loader = iter(torch.utils.data.DataLoader(dataset, batch_size=spec.training.batch_size))
        default = spec.postprocessing

        def validate(model) -> float:
            probabilities = predict_all(model, val_items, device)
            return score_thresholds(
                probabilities,
                val_items,
                default.seed_threshold,
                default.foreground_threshold,
                default.min_size,
            )["ap"]

        result = train_supervised(
            net,
            loader,
            steps=args.steps or spec.training.steps,
            learning_rate=spec.training.learning_rate,
            weight_decay=spec.training.weight_decay,
            class_weights=spec.training.class_weights,
            validate=validate,
            validate_every=spec.training.validate_every,
            device=device,
        )
        net.load_state_dict(result.best_state)
        history = result.history
        torch.save(
            {"state_dict": result.best_state, "best_step": result.best_step, "history": history},
            checkpoint_path,
        )
        print(
            f"best AP@0.5 {result.best_score:.4f} at step {result.best_step}; saved {checkpoint_path}"
        )

    net.to(device).eval()
    print("grid search of the watershed thresholds on validation")
    probabilities = predict_all(net, val_items, device)
    thresholds, scores = grid_search(probabilities, val_items, spec)
    validation = {
        "dataset": spec.training.val,
        "n_images": int(scores["n_images"]),
        "ap50": round(scores["ap"], 4),
        "f1_50": round(scores["f1"], 4),
        "s_dsb50": round(scores["s_dsb"], 4),
        "recall50": round(scores["recall"], 4),
        "definition": "AP@0.5 = TP/(TP+FP) at IoU 0.5 averaged over images (ACTIS)",
    }
    postprocessing = {**spec.postprocessing.model_dump(), **thresholds}
    (run_dir / "validation.json").write_text(
        json.dumps(
            {"postprocessing": postprocessing, "validation": validation, "history": history},
            indent=2,
        )
    )
    print(f"tuned {thresholds}: {validation}")

    from semiseg_zoo.export import export_package
    from semiseg_zoo.synthetic import synthetic_nuclei

    sample_image, _ = synthetic_nuclei((256, 256), seed=0)
    start = time.perf_counter()
    path = export_package(
        net.cpu(),
        spec,
        sample_input=sample_image,
        output_path=output,
        postprocessing=postprocessing,
        validation=validation,
    )
    print(
        f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
