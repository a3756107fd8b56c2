"""Partition-comparison errors used for dense (EM) segmentation: VI split/merge, adapted Rand.

Both compare the two images as partitions of the pixels where the ground truth has an object:
pixels with ground-truth background (0) are ignored, as in the CREMI and SNEMI3D scripts and
scikit-image's ``adapted_rand_error``. Predicted background (0) inside ground-truth objects is
not ignored: it counts as one more segment (elf's convention), so leaving objects unsegmented
is a merge error. (For the Rand error, the CREMI/SNEMI3D scripts instead count each such pixel
as a segment of its own.) When the ground truth has no object there is nothing to compare and
both errors are 0.0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from elf.evaluation import rand_index
from elf.evaluation import variation_of_information as _elf_variation_of_information

from .inputs import check_label_images

__all__ = ["VariationOfInformation", "adapted_rand_error", "variation_of_information"]

# VI is a difference of entropy sums; a perfect match leaves ~1e-15 of rounding behind.
_ROUNDING = 1e-12


class VariationOfInformation(NamedTuple):
    """Variation of information split into its two conditional entropies (bits).

    Attributes
    ----------
    split : float
        H(prediction | groundtruth): over-segmentation, high when ground-truth objects are
        split into several predicted objects.
    merge : float
        H(groundtruth | prediction): under-segmentation, high when predicted objects merge
        several ground-truth objects.
    """

    split: float
    merge: float


def variation_of_information(
    prediction: np.ndarray, groundtruth: np.ndarray
) -> VariationOfInformation:
    """Split and merge variation of information (log base 2), ignoring ground-truth background.

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background.

    Returns
    -------
    VariationOfInformation
        ``(split, merge)``, each >= 0 (0 = no error); VI is their sum.

    References
    ----------
    M. Meila, "Comparing clusterings by the variation of information", COLT 2003.

    Examples
    --------
    One ground-truth object split into two halves costs 1 bit of split error:

    >>> variation_of_information(np.array([[1, 1, 2, 2]]), np.array([[5, 5, 5, 5]]))
    VariationOfInformation(split=1.0, merge=0.0)
    """
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    if not groundtruth.any():
        return VariationOfInformation(0.0, 0.0)
    # elf returns (H(segmentation | groundtruth), H(groundtruth | segmentation)).
    split, merge = _elf_variation_of_information(prediction, groundtruth, ignore_gt=[0])
    return VariationOfInformation(_clean(split), _clean(merge))


def adapted_rand_error(prediction: np.ndarray, groundtruth: np.ndarray) -> float:
    """Adapted Rand error, 1 - F-score of pixel pairs, ignoring ground-truth background.

    With ``n_ij`` the pixels in predicted segment ``i`` and ground-truth object ``j``,
    precision is ``sum n_ij^2 / sum_i (sum_j n_ij)^2`` and recall
    ``sum n_ij^2 / sum_j (sum_i n_ij)^2`` (elf's formulation: each pixel also pairs with
    itself).

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``, 0 = background.

    Returns
    -------
    float
        In [0, 1), 0.0 for a perfect match.

    References
    ----------
    I. Arganda-Carreras et al., "Crowdsourcing the creation of image segmentation algorithms
    for connectomics", Frontiers in Neuroanatomy 9, 2015.

    Examples
    --------
    >>> round(adapted_rand_error(np.array([[1, 1, 2, 2]]), np.array([[5, 5, 5, 5]])), 4)
    0.3333
    """
    prediction, groundtruth = check_label_images(prediction, groundtruth)
    if not groundtruth.any():
        return 0.0
    # elf returns (adapted Rand error, Rand index).
    error, _ = rand_index(prediction, groundtruth, ignore_gt=[0])
    return _clean(error)


def _clean(value: float) -> float:
    return 0.0 if abs(value) < _ROUNDING else float(value)
