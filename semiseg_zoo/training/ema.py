"""Exponential moving average of a network's weights: the mean teacher (ACTIS, shallow2deep's
pseudo-label net) and SPOCO's momentum network."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """``θ_t ← α · θ_t + (1 − α) · θ_s`` for all parameters and floating-point buffers
    (BatchNorm running statistics); integer buffers are copied from the student."""
    student_state = student.state_dict()
    for name, value in teacher.state_dict().items():
        source = student_state[name]
        if value.dtype.is_floating_point:
            value.mul_(alpha).add_(source.to(value.device), alpha=1 - alpha)
        else:
            value.copy_(source)


__all__ = ["ema_update"]
