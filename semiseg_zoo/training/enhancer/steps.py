"""Post-processing threshold tuning of enhancers on validation maps and synthetic images of an
enhancer's task, used by ``train_enhancer.py``, the pseudo-label mode and the experiments."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from semiseg_zoo.evaluation import mean_instance_scores, variation_of_information
from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.spec import EnhancerSpec
from semiseg_zoo.synthetic import synthetic_cells, synthetic_nuclei


def synthetic_task_image(spec: EnhancerSpec, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic 256x256 uint8 image of the enhancer's task and its semantic target (uint8,
    1 = the enhancer's class): membranes of synthetic cells for boundary enhancers, synthetic
    nuclei for foreground ones. Made entirely here, so packages may ship it."""
    boundary = (
        spec.training.source.positive == "zero" or spec.training.source.boundaries_of_instances
    )
    if boundary:
        image, labels = synthetic_cells((256, 256), seed=seed)
        return image, (labels == 0).astype(np.uint8)
    image, labels = synthetic_nuclei((256, 256), seed=seed)
    return image, (labels > 0).astype(np.uint8)


def segmentation_score(
    probabilities: Sequence[np.ndarray],
    instances: Sequence[np.ndarray],
    recipe: dict,
) -> dict[str, float]:
    """Instance scores of ``recipe`` applied to each probability map ``(Y, X)``: for
    ``threshold`` the mean F1 / AP at IoU 0.5, for ``distance_watershed`` the mean variation of
    information (split, merge, sum) against the instances (0 = ignored)."""
    labels = [apply_postprocessing(p[None], recipe) for p in probabilities]
    if recipe["method"] == "distance_watershed":
        pairs = [
            variation_of_information(lab, gt) for lab, gt in zip(labels, instances, strict=False)
        ]
        split = float(np.mean([s for s, _ in pairs]))
        merge = float(np.mean([m for _, m in pairs]))
        return {"vi_split": split, "vi_merge": merge, "vi": split + merge}
    scores = mean_instance_scores(zip(labels, instances, strict=False), iou_threshold=0.5)
    return {"f1": float(scores["f1"]), "ap50": float(scores["ap"])}


def tune_threshold(
    probabilities: Sequence[np.ndarray],
    instances: Sequence[np.ndarray],
    recipe: dict,
    thresholds: Sequence[float],
) -> tuple[dict, dict[str, float]]:
    """The recipe with the ``threshold`` that scores best (highest F1, or lowest VI)."""
    best: tuple[dict, dict[str, float]] | None = None
    for threshold in thresholds:
        candidate = {**recipe, "threshold": float(threshold)}
        scores = segmentation_score(probabilities, instances, candidate)
        better = (
            best is None
            or ("vi" in scores and scores["vi"] < best[1]["vi"])
            or ("f1" in scores and scores["f1"] > best[1]["f1"])
        )
        if better:
            best = (candidate, scores)
    if best is None:
        raise ValueError("`thresholds` is empty")
    return best
