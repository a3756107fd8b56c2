"""One-to-one object matching at IoU thresholds: true/false positive and false negative counts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from elf.evaluation import mean_segmentation_accuracy

from .inputs import check_label_images, count_objects

__all__ = ["MatchCounts", "match_counts"]


@dataclass(frozen=True)
class MatchCounts:
    """Matched objects at one IoU threshold, and the scores derived from them.

    Attributes
    ----------
    tp : int
        Predicted objects matched one-to-one to a ground-truth object with IoU >= threshold.
    fp : int
        Predicted objects left unmatched.
    fn : int
        Ground-truth objects left unmatched.

    Notes
    -----
    Conventions for the ratios: when neither image has an object (``tp = fp = fn = 0``) the
    prediction is perfect and every score is 1.0; otherwise a ratio whose denominator is 0
    (e.g. ``ap`` with no predicted object, ``recall`` with no ground-truth object) is 0.0.
    """

    tp: int
    fp: int
    fn: int

    def _ratio(self, numerator: int, denominator: int) -> float:
        if self.tp == self.fp == self.fn == 0:
            return 1.0
        return numerator / denominator if denominator else 0.0

    @property
    def ap(self) -> float:
        """TP / (TP + FP): ACTIS' "AP" (the precision of the matching)."""
        return self._ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        """TP / (TP + FN)."""
        return self._ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        """2 TP / (2 TP + FP + FN)."""
        return self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def s_dsb(self) -> float:
        """TP / (TP + FP + FN): the DSB 2018 score at one threshold."""
        return self._ratio(self.tp, self.tp + self.fp + self.fn)


def match_counts(
    prediction: np.ndarray, groundtruth: np.ndarray, iou_thresholds: Sequence[float]
) -> tuple[MatchCounts, ...]:
    """Match predicted to ground-truth objects one-to-one at each IoU threshold.

    The matching is elf's (after StarDist): the assignment that maximises the number of
    pairs with IoU >= threshold, found with the Hungarian algorithm. Background (0) is
    ignored in both images.

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background.
    iou_thresholds
        Thresholds in (0, 1]; a pair matches when its IoU is >= the threshold.

    Returns
    -------
    tuple of MatchCounts
        One per threshold, in the given order.

    Raises
    ------
    TypeError, ValueError
        See :func:`~semiseg_zoo.evaluation.inputs.check_label_images`; ValueError also for
        no thresholds or a threshold outside (0, 1].

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 2, 2]])
    >>> match_counts(np.array([[1, 1, 0, 0, 3]]), gt, [0.5])
    (MatchCounts(tp=2, fp=0, fn=0),)
    """
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    thresholds = [float(t) for t in iou_thresholds]
    if not thresholds or not all(0.0 < t <= 1.0 for t in thresholds):
        raise ValueError(f"`iou_thresholds` must be one or more values in (0, 1], got {thresholds}")
    n_pred, n_true = count_objects(prediction), count_objects(groundtruth)
    if n_pred == 0 or n_true == 0:
        tps = [0] * len(thresholds)
    else:
        # elf computes the IoU table once and matches at every threshold, but reports only
        # TP / (TP + FP + FN) = tp / (n_pred + n_true - tp); solving for tp is exact after
        # rounding (the float error is ~1e-16 relative).
        _, accuracies = mean_segmentation_accuracy(
            prediction, groundtruth, thresholds=thresholds, return_accuracies=True
        )
        tps = [round(a * (n_pred + n_true) / (1.0 + a)) for a in accuracies]
    return tuple(MatchCounts(tp=tp, fp=n_pred - tp, fn=n_true - tp) for tp in tps)
