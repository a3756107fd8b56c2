"""A shallow2deep enhancer training job from densely labeled source images to a validated
package: many Random Forests on random patches (maps cached on disk), the enhancer U-Net trained
on their maps with resumable checkpoints, thresholds tuned on held-out images, export."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from semiseg_zoo.features import FeatureSet, compute_features
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.shallow import simulate_scribbles
from semiseg_zoo.shallow.workflow import rf_probabilities_from_scribbles
from semiseg_zoo.spec import EnhancerSpec
from semiseg_zoo.training.enhancer.forest_maps import forest_maps
from semiseg_zoo.training.enhancer.source_data import SourceImage
from semiseg_zoo.training.enhancer.steps import synthetic_task_image, tune_threshold
from semiseg_zoo.training.enhancer.train import (
    enhance_maps,
    make_enhancer_validator,
    pixel_dice,
    train_enhancer,
)
from semiseg_zoo.training.job import JobSettings, export_trained, start_run
from semiseg_zoo.training.run_record import training_record

Log = Callable[[str], None]


@dataclass
class EnhancerJob(JobSettings):
    """Where an enhancer job writes, and how it trains."""

    #: Override the spec's enhancer steps and number of forests.
    steps: int | None = None
    n_forests: int | None = None


def feature_set_of(spec: EnhancerSpec) -> FeatureSet:
    """The pixel features the forests see."""
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


def run_enhancer_job(
    spec: EnhancerSpec, images: list[SourceImage], job: EnhancerJob, log: Log = print
) -> dict[str, Any]:
    """Forests on the training images, the enhancer on their maps, thresholds tuned on the last
    ``val_images`` images (their own forests), export; returns the validation record."""
    training = spec.training
    device = job.compute.device
    run_dir, output = job.run_dir, job.output
    run_dir.mkdir(parents=True, exist_ok=True)
    features = feature_set_of(spec)
    if len(images) <= training.val_images:
        raise ValueError(
            f"{spec.name}: the source has {len(images)} images; need more than "
            f"training.val_images = {training.val_images}"
        )
    train_images, val_images = images[: -training.val_images], images[-training.val_images :]
    log(f"{len(train_images)} training and {len(val_images)} validation images")
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
    n_forests = job.n_forests or training.n_forests
    train_maps = make_maps(train_images, n_forests, training.seed, "train")
    val_maps = make_maps(val_images, training.val_forests, training.seed + 1, "val")
    log(f"forest maps ready in {time.perf_counter() - start:.0f}s")
    train_targets = [item.target for item in train_images]
    val_targets = [item.target for item in val_images]

    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    history: list = []
    record: dict = {}
    if job.from_checkpoint:
        checkpoint = torch.load(job.from_checkpoint, map_location="cpu", weights_only=True)
        net.load_state_dict(checkpoint["state_dict"])
    else:
        validate = make_enhancer_validator(
            val_maps, val_targets, divisor=net.divisor, device=device
        )
        control = start_run(job, spec)
        result = train_enhancer(
            net, train_maps, train_targets, validate,
            patch_shape=tuple(training.patch_shape), batch_size=training.batch_size,
            steps=job.steps or training.steps, learning_rate=training.learning_rate,
            weight_decay=training.weight_decay, loss=training.loss,
            validate_every=training.validate_every, seed=training.seed, compute=job.compute,
            control=control, log=log,
        )  # fmt: skip
        history = result.history
        record = training_record([result.record])
        control.update_record(training=record)
        torch.save(
            {"state_dict": net.state_dict(), "history": history, "n_forests": n_forests},
            run_dir / "checkpoint.pt",
        )
    log(f"trained in {time.perf_counter() - start:.0f}s")

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
    log(f"validation: {validation}")
    (run_dir / "validation.json").write_text(
        json.dumps(
            {"postprocessing": recipe, "validation": validation, "history": history}, indent=2
        )
    )

    export_trained(
        net, spec, output, sample_input=synthetic_rf_input(spec), postprocessing=recipe,
        validation=validation, training=record, overwrite=job.overwrite, log=log,
    )  # fmt: skip
    return {"postprocessing": recipe, "validation": validation, "training": record}


__all__ = ["EnhancerJob", "feature_set_of", "run_enhancer_job", "synthetic_rf_input"]
