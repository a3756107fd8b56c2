"""SPOCO training loop: network f by back-propagation, its momentum copy g by EMA (Sec. 3.2)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from semiseg_zoo.training.augment import random_intensity
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.ema import ema_update
from semiseg_zoo.training.embedding.losses import SpocoWeights, spoco_loss
from semiseg_zoo.training.instance_data import InstancePatchDataset
from semiseg_zoo.training.loop import TrainingLoop
from semiseg_zoo.training.step_batches import StepBatches


@dataclass
class EmbeddingTrainingResult:
    """The trained network f, its momentum copy g and the logged mean loss terms."""

    net: nn.Module
    momentum_net: nn.Module
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    #: Steps, timings and curve of the run (see :class:`~semiseg_zoo.training.TrainingLoop`).
    record: dict = field(default_factory=dict)


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
    patches: InstancePatchDataset | StepBatches,
    *,
    steps: int,
    batch_size: int,
    learning_rate: float = 2e-4,
    weight_decay: float = 1e-5,
    momentum: float = 0.999,
    weights: SpocoWeights | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    compute: ComputeSettings | None = None,
    log_every: int = 50,
    validate: Callable[[nn.Module], float] | None = None,
    control: RunControl | None = None,
    stage: str = "embedding",
    log: Callable[[str], None] = print,
) -> EmbeddingTrainingResult:
    """Train an embedding network with the SPOCO loss (Eq. 8) on random patches.

    Parameters
    ----------
    net:
        Network f with ``D`` output channels and no final activation.
    patches:
        Patches with training labels (``-1`` unlabeled, ``0`` background if labeled), or
        step-indexed batches of them.
    steps, batch_size, learning_rate, weight_decay:
        Adam optimisation (the paper: lr 2e-4, weight decay 1e-5).
    momentum:
        m of the momentum network ``θ_g ← m θ_g + (1 − m) θ_f``, updated after every step.
    weights:
        Margins and loss weights (default: the paper's).
    seed:
        Seeds the augmentations and the anchors (per step, so that a resumed run continues
        exactly).
    device, compute:
        Where and in which precision to train (``compute`` wins over ``device``).
    log_every:
        Steps between log lines and validations (mean of each loss term since the last line).
    validate:
        ``validate(net) -> score`` (higher is better) for the validation curve; the last
        weights are returned (as SPOCO does), not the best-scoring ones.
    control:
        Checkpoints and resume.
    log:
        Receives the log lines.

    Returns
    -------
    EmbeddingTrainingResult
        f and g (both on CPU, eval mode) and the logged loss terms.
    """
    weights = weights or SpocoWeights()
    compute = compute or ComputeSettings(str(device))
    torch.manual_seed(seed)
    compute.prepare(net).train()
    momentum_net = copy.deepcopy(net).train()
    for parameter in momentum_net.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    scaler = compute.grad_scaler()
    batches = patches if isinstance(patches, StepBatches) else StepBatches(patches, batch_size)

    def train_step(step: int, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        images, labels = batch
        rng = np.random.default_rng([seed, 3, step])
        generator = torch.Generator().manual_seed(int(rng.integers(2**62)))
        view_f, view_g = geometry_preserving_views(images, rng)
        with compute.autocast():
            embeddings_f = net(compute.inputs(view_f))
            with torch.no_grad():
                embeddings_g = momentum_net(compute.inputs(view_g))
        embeddings_f, embeddings_g = embeddings_f.float(), embeddings_g.float()
        labels = labels.to(compute.device)
        per_image = [
            spoco_loss(f, g, y, weights, generator)
            for f, g, y in zip(embeddings_f, embeddings_g, labels, strict=True)
        ]
        loss = torch.stack([terms["total"] for terms in per_image]).mean()
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        ema_update(momentum_net, net, momentum)
        sums: dict[str, float] = {}
        for terms in per_image:
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) / len(per_image)
        return sums

    loop = TrainingLoop(
        stage=stage,
        steps=steps,
        validate_every=log_every,
        state={"net": net, "momentum_net": momentum_net, "optimizer": optimizer,
               "scaler": scaler},
        candidates={"net": net},
        validate=validate,
        control=control,
        log=log,
        describe=compute.describe(),
        select_best=False,
    )  # fmt: skip
    result = loop.run(batches, train_step)
    net.load_state_dict(result.best_state)
    return EmbeddingTrainingResult(
        net.cpu().eval(),
        momentum_net.cpu().eval(),
        result.history,
        result.record.get("wall_s", 0.0),
        result.record,
    )
