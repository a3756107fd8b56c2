"""Instance-segmentation scores from object matching (elf.evaluation)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from elf.evaluation import matching


def instance_scores(
    prediction: np.ndarray, groundtruth: np.ndarray, *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Scores of one label image against its ground truth at one IoU threshold.

    Returns
    -------
    dict
        ``ap`` = TP / (TP + FP) (ACTIS' "AP"), ``recall``, ``f1``, and
        ``s_dsb`` = TP / (TP + FP + FN).
    """
    if prediction.shape != groundtruth.shape:
        raise ValueError(
            f"`prediction` has shape {prediction.shape} but `groundtruth` has {groundtruth.shape}"
        )
    stats = matching(prediction, groundtruth, threshold=iou_threshold)
    return {
        "ap": float(stats["precision"]),
        "recall": float(stats["recall"]),
        "f1": float(stats["f1"]),
        "s_dsb": float(stats["segmentation_accuracy"]),
    }


def mean_instance_scores(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, iou_threshold: float = 0.5
) -> dict[str, float]:
    """Scores averaged over images (as ACTIS reports them), plus ``n_images``."""
    rows = [instance_scores(p, g, iou_threshold=iou_threshold) for p, g in pairs]
    if not rows:
        raise ValueError("no (prediction, groundtruth) pairs to evaluate")
    means = {key: float(np.mean([row[key] for row in rows])) for key in rows[0]}
    means["n_images"] = len(rows)
    return means
