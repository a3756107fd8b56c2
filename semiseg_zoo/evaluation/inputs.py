"""Checks shared by every metric: a prediction and its ground truth as label images."""

from __future__ import annotations

import numpy as np

__all__ = ["check_label_images", "count_objects"]


def check_label_images(
    prediction: np.ndarray, groundtruth: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a pair of instance label images before scoring it.

    Parameters
    ----------
    prediction, groundtruth
        Integer label images of the same shape, ``([Z,] Y, X)``: 0 is background, every other
        id one object. The ids need not be consecutive and need not agree between the two.

    Returns
    -------
    tuple of np.ndarray
        ``(prediction, groundtruth)`` as numpy arrays (not copied).

    Raises
    ------
    TypeError
        If either image is not of an integer dtype (e.g. probabilities or a boolean mask).
    ValueError
        If the shapes differ, the images have no pixels, or an id is negative.
    """
    prediction, groundtruth = np.asarray(prediction), np.asarray(groundtruth)
    for name, labels in (("prediction", prediction), ("groundtruth", groundtruth)):
        if labels.dtype.kind == "b":
            raise TypeError(
                f"`{name}` is a boolean mask, not a label image; label its objects first "
                "(e.g. skimage.measure.label(mask)) or cast a one-object mask to uint8"
            )
        if labels.dtype.kind not in "iu":
            raise TypeError(
                f"`{name}` has dtype {labels.dtype} but a label image holds integer object ids "
                "(0 = background); cast whole-number labels with .astype(np.uint32), or turn "
                "probabilities into labels first"
            )
    if prediction.shape != groundtruth.shape:
        raise ValueError(
            f"`prediction` has shape {prediction.shape} but `groundtruth` has "
            f"{groundtruth.shape}; pass label images of the same shape"
        )
    if prediction.size == 0:
        raise ValueError(f"the label images have no pixels (shape {prediction.shape})")
    for name, labels in (("prediction", prediction), ("groundtruth", groundtruth)):
        if labels.dtype.kind == "i" and labels.min() < 0:
            raise ValueError(
                f"`{name}` holds negative ids (minimum {labels.min()}); object ids must be >= 0 "
                "with 0 = background"
            )
    return prediction, groundtruth


def count_objects(labels: np.ndarray) -> int:
    """Number of distinct non-zero ids in a label image.

    Examples
    --------
    >>> count_objects(np.array([[0, 3, 3], [7, 0, 9]]))
    3
    """
    return int(np.count_nonzero(np.unique(labels)))
