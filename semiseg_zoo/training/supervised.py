"""Supervised training loop: AdamW with cosine decay, best checkpoint by a validation score."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from .losses import weighted_cross_entropy


@dataclass
class TrainingResult:
    """The best weights seen, their validation score and step, and the logged history."""

    best_state: dict[str, torch.Tensor]
    best_score: float
    best_step: int
    history: list[dict[str, float]] = field(default_factory=list)
    best_source: str = "model"


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device` is 'cuda' but no CUDA device is available; use cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"`device` must be auto, cpu or cuda, got {device!r}")
    return device


def train_supervised(
    net: nn.Module,
    batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
    *,
    steps: int,
    learning_rate: float,
    weight_decay: float,
    class_weights: list[float] | None,
    validate: Callable[[nn.Module], float],
    validate_every: int,
    device: str = "cpu",
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train ``net`` (which must have ``forward_logits``) with AdamW and cosine decay.

    The loss is ``loss(logits, target)`` if given, else the cross-entropy weighted by
    ``class_weights``. ``validate(net)`` returns a score to maximise; it runs every
    ``validate_every`` steps and at the end, and the weights with the highest score are returned.
    """

    def objective(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if loss is not None:
            return loss(logits, target)
        return weighted_cross_entropy(logits, target, class_weights)

    net.to(device).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    result = TrainingResult(copy.deepcopy(net.state_dict()), float("-inf"), 0)
    running_loss, start = 0.0, time.perf_counter()
    for step in range(1, steps + 1):
        image, target = next(batches)
        value = objective(net.forward_logits(image.to(device)), target.to(device))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
        scheduler.step()
        running_loss += value.item()
        if step % validate_every == 0 or step == steps:
            score = validate(net)
            entry = {
                "step": step,
                "loss": running_loss
                / (validate_every if step % validate_every == 0 else step % validate_every),
                "score": score,
                "seconds": time.perf_counter() - start,
            }
            result.history.append(entry)
            running_loss = 0.0
            if score > result.best_score:
                result.best_score, result.best_step = score, step
                result.best_state = {
                    k: v.detach().cpu().clone() for k, v in net.state_dict().items()
                }
            log(
                f"step {step}/{steps}  loss {entry['loss']:.4f}  val score {score:.4f}  "
                f"best {result.best_score:.4f} @ {result.best_step}  {entry['seconds']:.0f}s"
            )
    return result
