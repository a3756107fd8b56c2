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


def binary_loss(logits: torch.Tensor, target: torch.Tensor, kind: str = "bce") -> torch.Tensor:
    """Loss of one-channel ``logits (B, 1, ...)`` against a target in [0, 1] ``(B, ...)`` or
    ``(B, 1, ...)``: ``bce`` (binary cross-entropy on the sigmoid) or ``dice``
    (``1 - 2·Σpt / (Σp² + Σt²)`` over the batch, shallow2deep Eq. 3)."""
    target = target.to(logits.dtype)
    if target.ndim == logits.ndim - 1:
        target = target.unsqueeze(1)
    if target.shape != logits.shape:
        raise ValueError(f"target shape {tuple(target.shape)} != logits {tuple(logits.shape)}")
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, target)
    if kind == "dice":
        return dice_loss(torch.sigmoid(logits), target)
    raise ValueError(f"unknown loss {kind!r}; expected 'bce' or 'dice'")


def dice_loss(probabilities: torch.Tensor, target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """``1 - 2·Σpt / (Σp² + Σt²)`` (shallow2deep Eq. 3) over all elements."""
    overlap = (probabilities * target).sum()
    norm = (probabilities * probabilities).sum() + (target * target).sum()
    return 1.0 - 2.0 * overlap / norm.clamp_min(eps)
