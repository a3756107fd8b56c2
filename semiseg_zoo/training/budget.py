"""Steps that fit a wall-clock budget, from the measured time of a few training steps of the
network on this machine with the run's compute settings."""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch
from torch import nn

from semiseg_zoo.training.compute import ComputeSettings

#: Share of a time budget left for validation, threshold tuning and export.
OVERHEAD_SHARE = 0.2


def seconds_per_step(
    net: nn.Module,
    batch_shape: Sequence[int],
    compute: ComputeSettings,
    *,
    steps: int = 3,
) -> float:
    """Median wall seconds of a forward/backward/AdamW step on random data of ``batch_shape``
    (after one warm-up step). ``net`` is trained on a copy of its state, then restored."""
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    compute.prepare(net, len(batch_shape) - 2).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=0.0)
    batch = torch.rand(*batch_shape)
    forward = getattr(net, "forward_logits", net.forward)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with compute.autocast():
            output = forward(compute.inputs(batch))
        output.float().square().mean().backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - start)
    net.load_state_dict(state)
    return sorted(times[1:])[len(times[1:]) // 2]


def steps_for_budget(budget_s: float, step_costs: Sequence[float]) -> int:
    """Steps per stage so that stages of these per-step costs (seconds) fill the budget, after
    :data:`OVERHEAD_SHARE` for validation and export.

    Examples
    --------
    >>> steps_for_budget(1000.0, [0.2, 0.2])   # two stages of 0.2 s/step share 800 s
    2000
    """
    if budget_s <= 0:
        raise ValueError(f"the time budget must be positive, got {budget_s} s")
    per_step = sum(step_costs)
    return max(1, int(budget_s * (1 - OVERHEAD_SHARE) / per_step))


__all__ = ["OVERHEAD_SHARE", "seconds_per_step", "steps_for_budget"]
