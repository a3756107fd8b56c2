"""Every metric of one image or of many, by name or by group."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .cvppp import abs_difference_in_count, symmetric_best_dice
from .inputs import check_label_images
from .instances import instance_metrics
from .partitions import adapted_rand_error, variation_of_information

__all__ = [
    "METRICS",
    "METRIC_GROUPS",
    "Evaluation",
    "evaluate_pair",
    "evaluate_pairs",
    "mean_scores",
    "resolve_metrics",
]

METRIC_GROUPS: dict[str, tuple[str, ...]] = {
    # ACTIS / DSB 2018, higher is better.
    "instance": ("ap50", "ap_10_90", "f1", "s_dsb", "dsb_map"),
    # CVPPP: sbd higher is better, abs_dic lower.
    "cvppp": ("sbd", "abs_dic"),
    # EM (CREMI / SNEMI3D), lower is better.
    "em": ("vi_split", "vi_merge", "are"),
}
METRICS: tuple[str, ...] = tuple(name for group in METRIC_GROUPS.values() for name in group)


@dataclass(frozen=True)
class Evaluation:
    """Scores of several images.

    Attributes
    ----------
    rows : list of dict
        One ``{metric: score}`` per image, in the order the pairs were given.
    mean : dict
        Each metric averaged over the images.
    """

    rows: list[dict[str, float]]
    mean: dict[str, float]


def resolve_metrics(metrics: str | Iterable[str] = "all") -> tuple[str, ...]:
    """Metric names from names, group names (``instance``, ``cvppp``, ``em``) and ``all``.

    Returns
    -------
    tuple of str
        The selected metrics without repeats, in the order of :data:`METRICS`.

    Raises
    ------
    ValueError
        If a name is unknown or nothing is selected.

    Examples
    --------
    >>> resolve_metrics(["are", "cvppp"])
    ('sbd', 'abs_dic', 'are')
    """
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    selected: set[str] = set()
    for name in names:
        if name == "all":
            selected.update(METRICS)
        elif name in METRIC_GROUPS:
            selected.update(METRIC_GROUPS[name])
        elif name in METRICS:
            selected.add(name)
        else:
            choices = ", ".join(["all", *METRIC_GROUPS, *METRICS])
            raise ValueError(f"unknown metric {name!r}; choose from {choices}")
    if not selected:
        raise ValueError("`metrics` is empty; name at least one metric or group, or 'all'")
    return tuple(name for name in METRICS if name in selected)


def evaluate_pair(
    prediction: np.ndarray, groundtruth: np.ndarray, *, metrics: str | Iterable[str] = "all"
) -> dict[str, float]:
    """Score one predicted label image against its ground truth.

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background; ids need
        not be consecutive nor agree between the two.
    metrics
        Metric names, group names or ``"all"`` (see :func:`resolve_metrics`):

        - ``ap50``: TP / (TP + FP) at IoU 0.5 (ACTIS' AP);
        - ``ap_10_90``: that AP averaged over IoU 0.1, 0.2, ..., 0.9 (ACTIS);
        - ``f1``, ``s_dsb``: 2TP / (2TP + FP + FN), TP / (TP + FP + FN) at IoU 0.5;
        - ``dsb_map``: TP / (TP + FP + FN) averaged over IoU 0.50, 0.55, ..., 0.95 (DSB 2018);
        - ``sbd``: symmetric best Dice, ``abs_dic``: |#predicted - #true objects| (CVPPP);
        - ``vi_split``, ``vi_merge``: H(pred | gt), H(gt | pred) in bits, and ``are``:
          adapted Rand error, all on the pixels of ground-truth objects (EM).

    Returns
    -------
    dict
        ``{metric: score}`` as Python floats, in the order of :data:`METRICS`.

    Raises
    ------
    TypeError
        If an image is not of an integer dtype.
    ValueError
        If the shapes differ, an id is negative or a metric name is unknown.

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 2, 2]])
    >>> evaluate_pair(gt, gt, metrics=["ap50", "abs_dic", "are"])
    {'ap50': 1.0, 'abs_dic': 0.0, 'are': 0.0}
    """
    selected = resolve_metrics(metrics)
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    scores: dict[str, float] = {}
    if set(selected) & set(METRIC_GROUPS["instance"]):
        scores.update(instance_metrics(prediction, groundtruth))
    if "sbd" in selected:
        scores["sbd"] = symmetric_best_dice(prediction, groundtruth)
    if "abs_dic" in selected:
        scores["abs_dic"] = float(abs_difference_in_count(prediction, groundtruth))
    if "vi_split" in selected or "vi_merge" in selected:
        scores["vi_split"], scores["vi_merge"] = variation_of_information(prediction, groundtruth)
    if "are" in selected:
        scores["are"] = adapted_rand_error(prediction, groundtruth)
    return {name: scores[name] for name in selected}


def mean_scores(rows: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Average each metric over images (rows from :func:`evaluate_pair` with the same metrics).

    Raises
    ------
    ValueError
        If there are no rows or they do not all hold the same metrics.
    """
    if not rows:
        raise ValueError("no rows to average: evaluate at least one image")
    names = list(rows[0])
    for index, row in enumerate(rows):
        if list(row) != names:
            raise ValueError(f"row {index} has metrics {list(row)} but row 0 has {names}")
    return {name: float(np.mean([row[name] for row in rows])) for name in names}


def evaluate_pairs(
    pairs: Iterable[tuple[np.ndarray, np.ndarray]], *, metrics: str | Iterable[str] = "all"
) -> Evaluation:
    """Score each ``(prediction, groundtruth)`` pair and average over them.

    Parameters
    ----------
    pairs
        Label-image pairs (any iterable, e.g. a generator that reads them one at a time).
    metrics
        As for :func:`evaluate_pair`.

    Returns
    -------
    Evaluation
        Per-image rows and their mean.

    Raises
    ------
    ValueError
        If there are no pairs, plus everything :func:`evaluate_pair` raises.
    """
    selected = resolve_metrics(metrics)
    rows = [evaluate_pair(p, g, metrics=selected) for p, g in pairs]
    if not rows:
        raise ValueError("no (prediction, groundtruth) pairs to evaluate")
    return Evaluation(rows=rows, mean=mean_scores(rows))
