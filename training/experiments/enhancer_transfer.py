"""Domain adaptation with shallow2deep enhancers: each enhancer on a target it was not trained on.

For every target image, simulated brush strokes (seeded, drawn from the ground truth like a user
in ilastik) train a Random Forest on the image's pixel features (the enhancer's feature set); the
forest's probability map, the enhancer's improvement of it and (optionally) a pseudo-label
network trained on the target images with the enhanced maps as soft labels are post-processed
with the enhancer's recipe and scored against the ground truth:

- boundaries: ISBI-2012-trained membrane enhancer on the VNC stack, variation of information
  (split + merge, lower is better) of the distance-transform watershed vs the neurite instances;
- organelles: VNC-mitochondria enhancer on chloroplast3d slices, F1@0.5 of the instances;
- nuclei: DSB-fluorescence enhancer on the DSB brightfield and histology extras, F1@0.5.

    python training/experiments/enhancer_transfer.py --tasks boundaries organelles nuclei
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch

from semiseg_zoo.features import FeatureSet
from semiseg_zoo.inference import load_model
from semiseg_zoo.shallow import scribble_pixel_counts, simulate_scribbles
from semiseg_zoo.shallow.workflow import rf_probabilities_from_scribbles
from semiseg_zoo.spec import data_root
from semiseg_zoo.training.enhancer.steps import segmentation_score
from semiseg_zoo.training.run_files import git_commit, write_json

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Target:
    """One target image: raw ``(Y, X)``, the enhancer's class as a bool mask, and instances."""

    name: str
    raw: np.ndarray
    semantic: np.ndarray
    instances: np.ndarray


def _gray(image: np.ndarray) -> np.ndarray:
    return image[..., :3].mean(axis=-1) if image.ndim == 3 else image


def vnc_membranes(root: Path, limit: int | None) -> list[Target]:
    raw = tifffile.imread(root / "vnc/raw.tif")
    membranes = tifffile.imread(root / "vnc/membrane_mask.tif")
    neurites = tifffile.imread(root / "vnc/neurite_cc2d.tif")
    return [
        Target(f"vnc_z{z:02d}", raw[z], membranes[z] > 0, neurites[z])
        for z in range(len(raw))[:limit]
    ]


def chloroplast_slices(root: Path, limit: int | None) -> list[Target]:
    raw = tifffile.imread(root / "chloroplast3d/raw.tif")
    labels = tifffile.imread(root / "chloroplast3d/labels.tif")
    return [
        Target(f"chloroplast_z{z:02d}", raw[z], labels[z] > 0, labels[z].astype(np.uint32))
        for z in range(len(raw))[:limit]
    ]


def dsb_extras(root: Path, limit: int | None) -> list[Target]:
    targets = []
    for folder in ("extra_gray_brightfield", "extra_color_histo_or_brightfield"):
        paths = sorted((root / "dsb2018" / folder / "images").glob("*.tif"))[:limit]
        for path in paths:
            labels = tifffile.imread(root / "dsb2018" / folder / "labels" / path.name)
            raw = _gray(tifffile.imread(path)).astype(np.float32)
            targets.append(
                Target(f"{folder}/{path.stem[:12]}", raw, labels > 0, labels.astype(np.uint32))
            )
    return targets


TASKS: dict[str, tuple[str, Callable[[Path, int | None], list[Target]], str]] = {
    "boundaries": ("enhancer-boundaries-em", vnc_membranes, "isbi2012 -> vnc membranes"),
    "organelles": ("enhancer-mito-em", chloroplast_slices, "vnc mitochondria -> chloroplast3d"),
    "nuclei": ("enhancer-nuclei-lm", dsb_extras, "dsb fluorescence -> brightfield/histology"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument(
        "--package", action="append", default=[], metavar="TASK=PATH",
        help="enhancer package for a task (default: the built-in model of that name)",
    )  # fmt: skip
    parser.add_argument("--limit", type=int, help="at most this many images per source")
    parser.add_argument("--strokes", type=int, default=6, help="brush strokes per class")
    parser.add_argument("--stroke-width", type=int, default=3)
    parser.add_argument("--stroke-length", type=int, default=40)
    parser.add_argument("--trees", type=int, default=100, help="trees of each target forest")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pl-steps", type=int, default=0, help="pseudo-label net steps (0: skip)")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--threads", type=int)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks/results/enhancer_transfer.json"
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other tasks already in --output (same scribble and forest settings "
        "required) instead of starting the file afresh",
    )
    return parser


MERGE_KEYS = ("scribbles", "forest_trees", "metric")


def merged_payload(path: Path, fresh: dict, tasks: list[str]) -> dict:
    """``fresh`` plus the tasks of the earlier results at ``path`` that are not rerun now."""
    earlier = json.loads(path.read_text())
    differing = [k for k in MERGE_KEYS if earlier.get(k) != fresh[k]]
    if differing:
        sys.exit(
            f"--merge: {path} was written with different settings ({', '.join(differing)}); "
            "rerun all tasks with the same arguments or without --merge"
        )
    kept = [t for t in earlier["tasks"] if t["task"] not in tasks]
    for task in kept:
        task.setdefault("git_commit", earlier["git_commit"])
    print(f"merging into {path}: keeping {[t['task'] for t in kept]}", flush=True)
    return {**fresh, "tasks": kept}


def run_task(task: str, package: str, targets: list[Target], args, log=print) -> dict:
    model = load_model(package, weight_format="onnx", device="cpu")
    config = model.package.semiseg_config or {}
    features = FeatureSet.from_dict(config["features"])
    recipe = dict(config["postprocessing"])
    forests, enhanced, counts = [], [], []
    for index, target in enumerate(targets):
        scribbles = simulate_scribbles(
            target.semantic.astype(np.uint8), n_strokes_per_class=args.strokes,
            stroke_width=args.stroke_width, stroke_length=args.stroke_length,
            seed=args.seed + index,
        )  # fmt: skip
        counts.append(scribble_pixel_counts(scribbles))
        forest = rf_probabilities_from_scribbles(
            target.raw, scribbles, features, n_trees=args.trees, seed=args.seed + index
        )
        forests.append(forest)
        enhanced.append(model.predict(forest, axes="yx")[0])
        log(f"  {target.name}: scribbles {counts[-1]}")
    instances = [t.instances for t in targets]
    result = {
        "task": task,
        "description": TASKS[task][2],
        "enhancer": model.package.name,
        "n_images": len(targets),
        "images": [t.name for t in targets],
        "postprocessing": recipe,
        "scribble_pixels_mean": {
            str(k): round(float(np.mean([c.get(k, 0) for c in counts])), 1) for k in (1, 2)
        },
        "rf": segmentation_score(forests, instances, recipe),
        "enhancer_scores": segmentation_score(enhanced, instances, recipe),
    }
    threshold = recipe["threshold"]
    result["rf"]["pixel_dice"] = pixel_dice(forests, targets, threshold)
    result["enhancer_scores"]["pixel_dice"] = pixel_dice(enhanced, targets, threshold)
    if args.pl_steps > 0:
        from semiseg_zoo.training.enhancer.pseudo_label_steps import (  # noqa: PLC0415
            predict_slices,
            train_pseudo_label_net_on,
        )

        net = train_pseudo_label_net_on(
            [t.raw for t in targets], enhanced, model.package, steps=args.pl_steps,
            seed=args.seed, log=log,
        )  # fmt: skip
        predictions = predict_slices(net, [t.raw for t in targets])
        result["pseudo_label_net"] = segmentation_score(predictions, instances, recipe)
        result["pseudo_label_net"]["pixel_dice"] = pixel_dice(predictions, targets, threshold)
        result["pl_steps"] = args.pl_steps
    return {k: _rounded(v) for k, v in result.items()}


def pixel_dice(maps: list[np.ndarray], targets: list[Target], threshold: float) -> float:
    """Mean Dice of ``map > threshold`` against each target's semantic mask (the semantic
    quality, apart from how the post-processing splits it into instances)."""
    scores = []
    for probabilities, target in zip(maps, targets, strict=True):
        predicted, truth = probabilities > threshold, target.semantic.astype(bool)
        total = predicted.sum() + truth.sum()
        scores.append(1.0 if total == 0 else 2.0 * (predicted & truth).sum() / total)
    return float(np.mean(scores))


def _rounded(value):
    if isinstance(value, dict):
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in value.items()}
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    root = args.data_root or data_root()
    packages = dict(item.split("=", 1) for item in args.package)
    commit = git_commit(REPO)
    payload: dict = {
        "experiment": "enhancer_transfer",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": commit,
        "machine": platform.platform(),
        "cpu_threads": torch.get_num_threads(),
        "scribbles": {
            "strokes_per_class": args.strokes,
            "width": args.stroke_width,
            "length": args.stroke_length,
            "seed": args.seed,
        },  # fmt: skip
        "forest_trees": args.trees,
        "metric": "boundaries: VI split+merge after distance watershed (lower better); others: "
        "F1 at IoU 0.5 of threshold + connected components (higher better); the enhancer's "
        "recipe for every method, no tuning on the target",
        "tasks": [],
    }
    if args.merge and args.output.exists():
        payload = merged_payload(args.output, payload, args.tasks)
    for task in args.tasks:
        name, loader, _ = TASKS[task]
        start = time.perf_counter()
        print(f"== {task}: {name}", flush=True)
        result = run_task(task, packages.get(task, name), loader(root, args.limit), args)
        result["seconds"] = round(time.perf_counter() - start, 1)
        result["git_commit"] = commit
        result["limit"] = args.limit
        payload["tasks"].append(result)
        payload["tasks"].sort(key=lambda t: list(TASKS).index(t["task"]))
        write_json(args.output, payload)
        print(f"   {result}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
