"""CVPPP leaf-segmentation metrics: symmetric best Dice and the difference in object count."""

from __future__ import annotations

import numpy as np
from elf.evaluation import symmetric_best_dice_score

from .inputs import check_label_images, count_objects

__all__ = ["abs_difference_in_count", "symmetric_best_dice"]


def symmetric_best_dice(prediction: np.ndarray, groundtruth: np.ndarray) -> float:
    """Symmetric best Dice (SBD) of the CVPPP challenge.

    ``BD(A, B)`` averages, over the objects of ``A``, the best Dice of each with any object of
    ``B``; ``SBD = min(BD(prediction, groundtruth), BD(groundtruth, prediction))``. Background
    (0) is ignored in both images, so an object's Dice counts only overlaps with objects.

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background.

    Returns
    -------
    float
        In [0, 1]: 1.0 when neither image has an object, 0.0 when exactly one has none.
        elf adds 1e-7 to each Dice denominator, so a perfect match of an object with ``n``
        pixels scores about ``1 - 5e-8 / n`` rather than exactly 1.

    References
    ----------
    H. Scharr et al., "Leaf segmentation in plant phenotyping: a collation study",
    Machine Vision and Applications 27, 2016.

    Examples
    --------
    >>> gt = np.array([[1, 1, 0, 2, 2]])
    >>> round(symmetric_best_dice(np.array([[1, 1, 0, 0, 0]]), gt), 6)
    0.5
    """
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    n_pred, n_true = count_objects(prediction), count_objects(groundtruth)
    if n_pred == 0 or n_true == 0:
        # elf returns 0 here, also when both are empty.
        return 1.0 if n_pred == n_true else 0.0
    return float(symmetric_best_dice_score(prediction, groundtruth))


def abs_difference_in_count(prediction: np.ndarray, groundtruth: np.ndarray) -> int:
    """CVPPP's |DiC|: |number of predicted objects - number of ground-truth objects|.

    Objects are the distinct non-zero ids; averaged over images this is the mean absolute
    difference in count the challenge reports.

    Examples
    --------
    >>> abs_difference_in_count(np.array([[1, 2, 3]]), np.array([[5, 0, 0]]))
    2
    """
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    return abs(count_objects(prediction) - count_objects(groundtruth))
