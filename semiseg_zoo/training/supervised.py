"""Supervised training: AdamW with cosine decay, best checkpoint by a validation score."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings, resolve_device
from semiseg_zoo.training.loop import Batches, TrainingLoop, TrainingResult
from semiseg_zoo.training.losses import weighted_cross_entropy


def train_supervised(
    net: nn.Module,
    batches: Batches | Iterator[tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float,
    class_weights: list[float] | None,
    validate: Callable[[nn.Module], float],
    validate_every: int,
    device: str = "cpu",
    compute: ComputeSettings | None = None,
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    control: RunControl | None = None,
    stage: str = "supervised",
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train ``net`` (which must have ``forward_logits``) with AdamW and cosine decay.

    The loss is ``loss(logits, target)`` if given, else the cross-entropy weighted by
    ``class_weights``. ``validate(net)`` returns a score to maximise; it runs every
    ``validate_every`` steps and at the end, and the weights with the highest score are returned.

    Parameters
    ----------
    batches:
        Step-indexed batches (:class:`~semiseg_zoo.training.StepBatches`; a resumed run sees the
        same data) or any iterator of ``(image, target)`` batches.
    compute:
        Device, precision and memory layout (default: float32 on ``device``).
    control:
        Checkpoints and resume (``None``: nothing is saved).
    stage:
        The stage's checkpoint name within the run.
    """
    compute = compute or ComputeSettings(device)

    def objective(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if loss is not None:
            return loss(logits, target)
        return weighted_cross_entropy(logits, target, class_weights)

    compute.prepare(net).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    scaler = compute.grad_scaler()

    def train_step(_step: int, batch: Any) -> dict[str, float]:
        image, target = batch
        with compute.autocast():
            logits = net.forward_logits(compute.inputs(image))
        value = objective(logits.float(), target.to(compute.device))
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(value).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        return {"loss": value.item()}

    loop = TrainingLoop(
        stage=stage,
        steps=steps,
        validate_every=validate_every,
        state={"net": net, "optimizer": optimizer, "scheduler": scheduler, "scaler": scaler},
        candidates={"model": net},
        validate=validate,
        control=control,
        log=log,
        describe=compute.describe(),
    )
    return loop.run(batches, train_step)


__all__ = ["TrainingResult", "resolve_device", "train_supervised"]
