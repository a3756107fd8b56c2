"""Training losses."""

from __future__ import annotations

import torch
from torch.nn import functional as F

#: Target value of pixels that do not contribute to the loss (e.g. Inconsistency Mask pixels).
IGNORE_INDEX = 255


def _weights(class_weights: list[float] | None, like: torch.Tensor) -> torch.Tensor | None:
    if class_weights is None:
        return None
    return torch.tensor(class_weights, dtype=like.dtype, device=like.device)


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: list[float] | None = None
) -> torch.Tensor:
    """Pixel-wise cross-entropy of ``logits (B, C, ...)`` against class ids ``target (B, ...)``;
    pixels labelled :data:`IGNORE_INDEX` are left out."""
    return F.cross_entropy(
        logits, target, weight=_weights(class_weights, logits), ignore_index=IGNORE_INDEX
    )


def masked_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    class_weights: list[float] | None = None,
) -> torch.Tensor:
    """ACTIS Eq. 5: cross-entropy counted only where ``mask (B, ...)`` is True.

    The (class-weighted) sum over reliable pixels is divided by their weight sum, so the loss has
    the scale of an ordinary cross-entropy; with no reliable pixel it is 0 (with a gradient).
    """
    per_pixel = F.cross_entropy(
        logits, target, weight=_weights(class_weights, logits), reduction="none"
    )
    weights = mask.to(per_pixel.dtype)
    if class_weights is not None:
        weights = weights * _weights(class_weights, logits)[target]
    return (per_pixel * mask.to(per_pixel.dtype)).sum() / weights.sum().clamp_min(1.0)
