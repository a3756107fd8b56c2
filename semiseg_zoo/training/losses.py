"""Training losses."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def weighted_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, class_weights: list[float] | None = None
) -> torch.Tensor:
    """Pixel-wise cross-entropy of ``logits (B, C, ...)`` against class ids ``target (B, ...)``."""
    weight = None
    if class_weights is not None:
        weight = torch.tensor(class_weights, dtype=logits.dtype, device=logits.device)
    return F.cross_entropy(logits, target, weight=weight)
