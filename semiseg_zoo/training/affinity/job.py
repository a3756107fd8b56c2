"""A CRAC affinity training job from data to a validated package: resumable training of the
implicit (and explicit) network with a validation curve, every post-processing recipe of the
spec scored with each network on validation, export of the best."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.spec import AffinitySpec
from semiseg_zoo.training.affinity.crac import CracWeights, train_crac
from semiseg_zoo.training.affinity.steps import (
    best_row,
    cpsn_net,
    explicit_net,
    exported_spec,
    implicit_net,
    load_checkpoint,
    predict_affinities,
    save_checkpoint,
    score,
    sparse_labels,
)
from semiseg_zoo.training.affinity.volume_data import SparseInstancePatchDataset, VolumeSplit
from semiseg_zoo.training.job import JobSettings, export_trained, start_run
from semiseg_zoo.training.recipe_scores import score_recipes
from semiseg_zoo.training.run_record import training_record
from semiseg_zoo.training.step_batches import StepBatches

Log = Callable[[str], None]


#: An affinity job needs nothing beyond the common settings.
AffinityJob = JobSettings


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
    """How the run is supervised, in words."""
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


def run_affinity_job(
    spec: AffinitySpec, split: VolumeSplit, job: AffinityJob, log: Log = print
) -> dict[str, Any]:
    """Train ``spec``'s networks on ``split`` (CRAC or vanilla), score every post-processing
    recipe with each network on the validation part and export the best; returns the report
    that ``validation.json`` holds."""
    training = spec.training
    device = job.compute.device
    run_dir, output = job.run_dir, job.output
    run_dir.mkdir(parents=True, exist_ok=True)
    labels, counts = sparse_labels(
        split.train_labels, training.annotated_fraction, training.seed, annotated_only=split.sparse
    )
    log(
        f"{supervision_text(spec)}: {counts['annotated_instances']} of {counts['instances']} "
        f"instances in {len(labels)} training image(s); {len(split.val_images)} validation "
        f"image(s); {job.compute.describe()}"
    )
    record: dict = {}
    if job.from_checkpoint:
        nets, checkpoint = load_checkpoint(spec, job.from_checkpoint)
        history, seconds = checkpoint.get("history", []), checkpoint.get("seconds")
    else:
        patches = SparseInstancePatchDataset(
            split.train_images, labels, tuple(training.patch_shape),
            annotated_probability=training.annotated_patch_probability, seed=training.seed,
        )  # fmt: skip
        loss = training.loss
        crac = training.mode == "crac"
        control = start_run(job, spec)
        result = train_crac(
            implicit_net(spec), explicit_net(spec) if crac else None,
            StepBatches(patches, training.batch_size, workers=job.workers), spec.offsets,
            steps=training.steps, batch_size=training.batch_size,
            learning_rate=training.learning_rate, weight_decay=training.weight_decay,
            weights=CracWeights(
                lambda_c=loss.lambda_c, alpha0=loss.alpha0, power=loss.power,
                cpsn_dropout=loss.cpsn_dropout, cpsn_warmup=loss.cpsn_warmup,
            ),
            cpsn=cpsn_net(spec) if crac and loss.cpsn else None,
            seed=training.seed, compute=job.compute, log_every=min(job.log_every, training.steps),
            validate=curve_validator(spec, split, device), control=control, log=log,
        )  # fmt: skip
        record = training_record([result.record])
        control.update_record(training=record)
        save_checkpoint(run_dir / "checkpoint.pt", result, {"mode": training.mode, **counts})
        nets = {"implicit": result.implicit}
        if result.explicit is not None:
            nets["explicit"] = result.explicit
        history, seconds = result.history, result.seconds
        log(f"trained in {seconds:.0f}s; saved {run_dir / 'checkpoint.pt'}")

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
        log(
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
    log(f"best on validation ({training.metric}): {best['name']}")
    if job.export:
        export(nets, spec, report, output, overwrite=job.overwrite, log=log)
    return report


def export(
    nets: dict,
    spec: AffinitySpec,
    report: dict,
    output: Path,
    *,
    overwrite: bool = False,
    log: Log = print,
) -> Path:
    """Export the best network of ``report`` with its recipe and validation scores."""
    best = next(row for row in report["postprocessing"] if row["name"] == report["best"])
    return export_trained(
        nets[best["net"]], exported_spec(spec, best["net"]), output,
        sample_input=sample_input(spec), postprocessing=best["recipe"],
        validation=report["validation"], training=report.get("training"), overwrite=overwrite,
        log=log,
    )  # fmt: skip


__all__ = ["AffinityJob", "export", "run_affinity_job", "sample_input", "supervision_text"]
