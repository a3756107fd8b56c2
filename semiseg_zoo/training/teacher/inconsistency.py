"""Inconsistency Masks (Vorndran et al. 2024, Sec. 2.4.6): consensus pseudo-labels of an ensemble
and the mask of pixels where its members disagree."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from semiseg_zoo.training.losses import IGNORE_INDEX


def _stack(predictions: Sequence[np.ndarray]) -> np.ndarray:
    if len(predictions) < 2:
        raise ValueError(f"an inconsistency mask needs >= 2 predictions, got {len(predictions)}")
    shapes = {p.shape for p in predictions}
    if len(shapes) != 1:
        raise ValueError(f"all predictions must have the same shape, got {sorted(shapes)}")
    return np.stack(predictions)


def inconsistency_mask_binary(predictions: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1: binary (0/1) predictions of ``n >= 2`` models → (final mask F, mask I).

    ``F`` is 1 where all ``n`` models predict foreground; ``I`` is 1 where the vote sum is
    neither 0 nor ``n`` (the models disagree). Both are uint8.
    """
    stacked = _stack(predictions)
    if not np.isin(stacked, (0, 1)).all():
        raise ValueError("binary predictions must contain only 0 and 1 (threshold them first)")
    votes = stacked.astype(np.int64).sum(axis=0)
    n = stacked.shape[0]
    final = (votes == n).astype(np.uint8)
    mask = ((votes != 0) & (votes != n)).astype(np.uint8)
    return final, mask


def inconsistency_mask_multiclass(
    predictions: Sequence[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 2: hard class maps of ``n >= 2`` models → (final mask F, mask I).

    ``F`` holds the class where all models agree and 0 elsewhere; ``I`` is 1 where they do not.
    """
    stacked = _stack(predictions)
    agree = (stacked == stacked[0]).all(axis=0)
    final = np.where(agree, stacked[0], 0).astype(stacked.dtype)
    return final, (~agree).astype(np.uint8)


def _box(size: int, ndim: int) -> np.ndarray:
    return np.ones((size,) * ndim, dtype=bool)


def refine_inconsistency_mask(
    final: np.ndarray, mask: np.ndarray, *, erosion: int = 0, dilation: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Erode the mask with a ``erosion``-sized box, then dilate it with a ``dilation``-sized box.

    Pixels that erosion removes from the mask carry no class (the ensemble disagreed there), so,
    as in the paper, every class mask (class > 0) of ``final`` is dilated with the erosion kernel
    and refills the removed pixels it reaches; the rest stay background (0). With ``e = 3`` and
    ``d = 0`` this equals ``e = 3, d = 3`` for the classes. A size of 0 or 1 skips the step.

    Returns
    -------
    tuple of np.ndarray
        The refilled final mask (same dtype) and the new inconsistency mask (uint8).
    """
    final = final.copy()
    mask = mask.astype(bool)
    if erosion > 1:
        kernel = _box(erosion, mask.ndim)
        eroded = ndimage.binary_erosion(mask, structure=kernel, border_value=1)
        removed = mask & ~eroded
        for value in np.unique(final):
            if value == 0:
                continue
            grown = ndimage.binary_dilation(final == value, structure=kernel)
            final[removed & grown & (final == 0)] = value
        mask = eroded
    if dilation > 1:
        mask = ndimage.binary_dilation(mask, structure=_box(dilation, mask.ndim))
    return final, mask.astype(np.uint8)


def masked_training_pair(
    image: np.ndarray,
    final: np.ndarray,
    mask: np.ndarray,
    *,
    foreground_classes: Sequence[int] = (1, 2),
    fill_value: float = 0.0,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The pseudo-labelled training pair of one unlabeled image, or None if it is rejected.

    Masked pixels are blacked out (``fill_value``) in the image ``(C, ...)`` and set to
    :data:`~semiseg_zoo.training.losses.IGNORE_INDEX` in the target. The pair is kept only if its
    foreground pixels (``final`` in ``foreground_classes`` outside the mask) outnumber its masked
    pixels (Sec. 2.4.6).
    """
    if image.shape[1:] != final.shape or final.shape != mask.shape:
        raise ValueError(
            f"image {image.shape}, final mask {final.shape} and inconsistency mask {mask.shape} "
            "must have the same spatial shape"
        )
    masked = mask.astype(bool)
    foreground = np.isin(final, foreground_classes) & ~masked
    if foreground.sum() <= masked.sum():
        return None
    blacked = np.where(masked[None], np.float32(fill_value), image).astype(np.float32)
    target = final.astype(np.uint8)
    target[masked] = IGNORE_INDEX
    return blacked, target
