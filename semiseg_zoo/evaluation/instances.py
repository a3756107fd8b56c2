"""Instance-segmentation scores from one-to-one object matching (ACTIS and DSB 2018 metrics).

Every score is computed per image; average over images afterwards (as ACTIS and the DSB 2018
challenge report them). See :class:`~semiseg_zoo.evaluation.matching.MatchCounts` for the
conventions when an image has no objects.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from .matching import match_counts

__all__ = [
    "AP_10_90_THRESHOLDS",
    "DSB_THRESHOLDS",
    "ap",
    "ap_10_90",
    "dsb_map",
    "instance_metrics",
    "instance_scores",
    "mean_instance_scores",
]

# ACTIS (Rumberger et al. 2023, Sec. 4): AP.10:.90 = 1/9 * sum of AP over IoU .10 to .90,
# "incremented by .10". Rounded so that e.g. an IoU of exactly 0.3 passes the 0.3 threshold.
AP_10_90_THRESHOLDS: tuple[float, ...] = tuple(round(0.1 * i, 2) for i in range(1, 10))
# DSB 2018: IoU 0.50, 0.55, ..., 0.95.
DSB_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
_ALL_THRESHOLDS = tuple(sorted({0.5, *AP_10_90_THRESHOLDS, *DSB_THRESHOLDS}))


def ap(prediction: np.ndarray, groundtruth: np.ndarray, *, iou_threshold: float = 0.5) -> float:
    """ACTIS' AP at one IoU threshold: TP / (TP + FP).

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background.
    iou_threshold
        A predicted object is a true positive when matched one-to-one to a ground-truth
        object with IoU >= this value.

    Returns
    -------
    float
        In [0, 1]; 1.0 when neither image has an object, 0.0 when only the prediction is empty.

    References
    ----------
    J. L. Rumberger, J. Franzen, P. Hirsch, J.-P. Albrecht, D. Kainmueller, "ACTIS: Improving
    data efficiency by leveraging semi-supervised Augmentation Consistency Training for Instance
    Segmentation", 2023, Sec. 4.

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 2, 2]])
    >>> ap(np.array([[1, 1, 0, 0, 0]]), gt), ap(np.array([[1, 0, 3, 0, 0]]), gt)
    (1.0, 0.5)
    """
    (counts,) = match_counts(prediction, groundtruth, [iou_threshold])
    return counts.ap


def ap_10_90(prediction: np.ndarray, groundtruth: np.ndarray) -> float:
    """ACTIS' AP.10:.90: :func:`ap` averaged over the IoU thresholds 0.1, 0.2, ..., 0.9.

    The grid is the paper's (nine thresholds, the mean is ``1/9 * sum``), not the
    COCO-style 0.05 step; see :data:`AP_10_90_THRESHOLDS`.
    """
    counts = match_counts(prediction, groundtruth, AP_10_90_THRESHOLDS)
    return float(np.mean([c.ap for c in counts]))


def dsb_map(prediction: np.ndarray, groundtruth: np.ndarray) -> float:
    """DSB 2018 mean AP: TP / (TP + FP + FN) averaged over IoU 0.50, 0.55, ..., 0.95.

    This is ``elf.evaluation.mean_segmentation_accuracy`` except that two images without any
    object score 1.0 (elf gives 0) and the thresholds are exact decimals (elf's
    ``np.arange(0.5, 1.0, 0.05)`` makes e.g. 0.6 into 0.6000000000000001).

    References
    ----------
    Kaggle Data Science Bowl 2018, https://www.kaggle.com/c/data-science-bowl-2018#evaluation
    """
    counts = match_counts(prediction, groundtruth, DSB_THRESHOLDS)
    return float(np.mean([c.s_dsb for c in counts]))


def instance_metrics(prediction: np.ndarray, groundtruth: np.ndarray) -> dict[str, float]:
    """All instance scores of one image from a single matching pass.

    Returns
    -------
    dict
        ``ap50`` (:func:`ap` at IoU 0.5), ``ap_10_90`` (:func:`ap_10_90`), ``f1`` and
        ``s_dsb`` at IoU 0.5 (2TP / (2TP + FP + FN), TP / (TP + FP + FN)) and ``dsb_map``
        (:func:`dsb_map`).
    """
    matched = match_counts(prediction, groundtruth, _ALL_THRESHOLDS)
    counts = dict(zip(_ALL_THRESHOLDS, matched, strict=True))
    at_50 = counts[0.5]
    return {
        "ap50": at_50.ap,
        "ap_10_90": float(np.mean([counts[t].ap for t in AP_10_90_THRESHOLDS])),
        "f1": at_50.f1,
        "s_dsb": at_50.s_dsb,
        "dsb_map": float(np.mean([counts[t].s_dsb for t in DSB_THRESHOLDS])),
    }


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
    (counts,) = match_counts(prediction, groundtruth, [iou_threshold])
    return {"ap": counts.ap, "recall": counts.recall, "f1": counts.f1, "s_dsb": counts.s_dsb}


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
