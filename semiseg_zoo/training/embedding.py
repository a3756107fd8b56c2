"""SPOCO training loop: network f by back-propagation, its momentum copy g by EMA (Sec. 3.2)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .augment import random_intensity
from .embedding_losses import SpocoWeights, spoco_loss
from .instance_data import InstancePatchDataset
from .mean_teacher import ema_update


@dataclass
class EmbeddingTrainingResult:
    """The trained network f, its momentum copy g and the logged mean loss terms."""

    net: nn.Module
    momentum_net: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0


def geometry_preserving_views(
    images: torch.Tensor, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two independent intensity augmentations t(x), t'(x) of each image (contrast, gamma,
    blur, noise): the same geometry, so the same instances."""
    first, second = [], []
    for image in images.numpy():
        first.append(random_intensity(image, rng))
        second.append(random_intensity(image, rng))
    return torch.from_numpy(np.stack(first)), torch.from_numpy(np.stack(second))


def train_embedding(
    net: nn.Module,
    patches: InstancePatchDataset,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float = 2e-4,
    weight_decay: float = 1e-5,
    momentum: float = 0.999,
    weights: SpocoWeights | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    log_every: int = 50,
    log: Callable[[str], None] = print,
) -> EmbeddingTrainingResult:
    """Train an embedding network with the SPOCO loss (Eq. 8) on random patches.

    Parameters
    ----------
    net:
        Network f with ``D`` output channels and no final activation.
    patches:
        Patches with training labels (``-1`` unlabeled, ``0`` background if labeled).
    steps, batch_size, learning_rate, weight_decay:
        Adam optimisation (the paper: lr 2e-4, weight decay 1e-5).
    momentum:
        m of the momentum network ``θ_g ← m θ_g + (1 − m) θ_f``, updated after every step.
    weights:
        Margins and loss weights (default: the paper's).
    seed:
        Seeds the augmentations and the anchors.
    device:
        Where to train.
    log_every:
        Steps between log lines (mean of each loss term since the last line).
    log:
        Receives the log lines.

    Returns
    -------
    EmbeddingTrainingResult
        f and g (both on CPU, eval mode) and the logged loss terms.
    """
    weights = weights or SpocoWeights()
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 3])
    generator = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    net = net.to(device).train()
    momentum_net = copy.deepcopy(net).train()
    for parameter in momentum_net.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    batches = torch.utils.data.DataLoader(patches, batch_size=batch_size)
    history: list[dict[str, float]] = []
    sums: dict[str, float] = {}
    logged_steps = 0
    start = time.perf_counter()
    for step, (images, labels) in enumerate(batches, start=1):
        view_f, view_g = geometry_preserving_views(images, rng)
        embeddings_f = net(view_f.to(device))
        with torch.no_grad():
            embeddings_g = momentum_net(view_g.to(device))
        labels = labels.to(device)
        per_image = [
            spoco_loss(f, g, y, weights, generator)
            for f, g, y in zip(embeddings_f, embeddings_g, labels, strict=True)
        ]
        loss = torch.stack([terms["total"] for terms in per_image]).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema_update(momentum_net, net, momentum)
        for terms in per_image:
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) / len(per_image)
        logged_steps += 1
        if step % log_every == 0 or step == steps:
            entry = {"step": step, **{k: v / logged_steps for k, v in sums.items()}}
            entry["seconds"] = time.perf_counter() - start
            history.append(entry)
            log(
                f"step {step}/{steps}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k not in ("step",))
            )
            sums, logged_steps = {}, 0
        if step >= steps:
            break
    return EmbeddingTrainingResult(
        net.cpu().eval(), momentum_net.cpu().eval(), history, time.perf_counter() - start
    )
