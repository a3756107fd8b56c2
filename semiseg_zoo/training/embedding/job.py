"""A SPOCO embedding training job from data to a validated package: resumable training with a
validation curve, every clustering recipe of the spec scored on validation, export."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.spec import EmbeddingSpec
from semiseg_zoo.training.embedding.spoco import train_embedding
from semiseg_zoo.training.embedding.steps import (
    best_recipe,
    build_net,
    embed,
    load_checkpoint,
    save_checkpoint,
    score,
    sparse_training_labels,
    spoco_weights,
)
from semiseg_zoo.training.instance_data import InstanceImage, InstancePatchDataset
from semiseg_zoo.training.job import JobSettings, export_trained, start_run
from semiseg_zoo.training.recipe_scores import score_recipes
from semiseg_zoo.training.run_record import training_record
from semiseg_zoo.training.step_batches import StepBatches

#: Validation images of the curve recorded while training (the clustering is tuned after).
CURVE_IMAGES = 4
Log = Callable[[str], None]


@dataclass
class EmbeddingJob(JobSettings):
    """Where an embedding job writes, and how it trains."""

    #: Score the clustering on this many validation images (a seeded subset).
    max_val_images: int | None = None


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
    raise ValueError(f"no synthetic sample input for {spec.input.axes} with {spec.input.channels}")


def supervision_text(spec: EmbeddingSpec) -> str:
    """How the run is supervised, in words."""
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


def run_embedding_job(
    spec: EmbeddingSpec,
    train_items: list[InstanceImage],
    val_items: list[InstanceImage],
    job: EmbeddingJob,
    log: Log = print,
) -> dict[str, Any]:
    """Train ``spec`` on ``train_items`` (SPOCO@p, sparse or full labels as the spec says),
    score every clustering recipe on ``val_items`` and export the best; returns the report
    that ``validation.json`` holds."""
    training = spec.training
    device = job.compute.device
    run_dir, output = job.run_dir, job.output
    run_dir.mkdir(parents=True, exist_ok=True)
    labels, counts = sparse_training_labels(train_items, training.object_fraction, training.seed)
    log(
        f"{supervision_text(spec)}: {counts['labeled_objects']} of {counts['objects']} objects "
        f"in {len(train_items)} training images labeled; {len(val_items)} validation images; "
        f"{job.compute.describe()}"
    )
    record: dict = {}
    if job.from_checkpoint:
        net, checkpoint = load_checkpoint(spec, job.from_checkpoint)
        history = checkpoint.get("history", [])
        seconds = checkpoint.get("seconds")
    else:
        net = build_net(spec)
        patches = InstancePatchDataset(
            [item.image for item in train_items], labels, tuple(training.patch_shape),
            seed=training.seed,
        )  # fmt: skip
        control = start_run(job, spec)
        result = train_embedding(
            net, StepBatches(patches, training.batch_size, workers=job.workers),
            steps=training.steps, batch_size=training.batch_size,
            learning_rate=training.learning_rate, weight_decay=training.weight_decay,
            momentum=training.loss.momentum, weights=spoco_weights(spec),
            seed=training.seed, compute=job.compute, log_every=min(job.log_every, training.steps),
            validate=curve_validator(spec, val_items, device), control=control, log=log,
        )  # fmt: skip
        net, history, seconds = result.net, result.history, result.seconds
        record = training_record([result.record])
        control.update_record(training=record)
        save_checkpoint(
            run_dir / "checkpoint.pt",
            result,
            {"object_fraction": training.object_fraction, **counts},
        )
        log(f"trained in {seconds:.0f}s; saved {run_dir / 'checkpoint.pt'}")

    subset = bool(job.max_val_images and job.max_val_images < len(val_items))
    if subset:
        rng = np.random.default_rng([training.seed, 6])
        chosen = sorted(rng.choice(len(val_items), job.max_val_images, replace=False))
        val_items = [val_items[i] for i in chosen]
        log(f"scoring the clustering on {len(val_items)} validation images (seeded subset)")
    net = net.to(device).eval()
    embeddings = [embed(net, item.image, device) for item in val_items]
    groundtruths = [item.labels for item in val_items]
    recipes = [recipe.model_dump(exclude_none=True) for recipe in training.clustering]
    rows = score_recipes(embeddings, groundtruths, recipes, score)
    best = best_recipe(rows, training.metric)
    for row in rows:
        log(
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
    log(f"best on validation ({training.metric}): {best['name']}")
    if job.export:
        export(net, spec, report, output, overwrite=job.overwrite, log=log)
    return report


def export(
    net: torch.nn.Module,
    spec: EmbeddingSpec,
    report: dict,
    output: Path,
    *,
    overwrite: bool = False,
    log: Log = print,
) -> Path:
    """Export ``net`` with the best clustering recipe and validation scores of ``report``."""
    best = next(row for row in report["clustering"] if row["name"] == report["best"])
    return export_trained(
        net, spec, output, sample_input=sample_input(spec), postprocessing=best["recipe"],
        validation=report["validation"], training=report.get("training"), overwrite=overwrite,
        log=log,
    )  # fmt: skip


__all__ = ["EmbeddingJob", "export", "run_embedding_job", "sample_input", "supervision_text"]
