"""CRAC training loop (Liu et al., CVPR 2024, Sec. 4): an implicit affinity network and an
explicit (cosine of embeddings) one, supervised on the annotated pairs and cross-supervised on
their confident predictions elsewhere; ``vanilla`` trains the implicit network alone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from semiseg_zoo.training.affinity.losses import (
    adaptive_quantile,
    affinity_entropy,
    confident_by_entropy,
    cross_supervision_loss,
    error_targets,
    masked_mse,
)
from semiseg_zoo.training.affinity.targets import affinity_targets, inside_mask
from semiseg_zoo.training.affinity.volume_data import SparseInstancePatchDataset
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.loop import TrainingLoop
from semiseg_zoo.training.step_batches import StepBatches


@dataclass(frozen=True)
class CracWeights:
    """λ (Eq. 10), α0 and p (Eq. 6) and the CPSN options (Eq. 7-8)."""

    lambda_c: float = 0.1
    alpha0: float = 0.05
    power: float = 1.5
    cpsn_dropout: float = 0.1
    cpsn_warmup: int = 100


@dataclass
class CracTrainingResult:
    """The trained networks (CPU, eval mode; ``explicit``/``cpsn`` None when not trained) and the
    logged mean loss terms."""

    implicit: nn.Module
    explicit: nn.Module | None
    cpsn: nn.Module | None
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0
    #: Steps, timings and curve of the run (see :class:`~semiseg_zoo.training.TrainingLoop`).
    record: dict = field(default_factory=dict)


def batch_targets(
    labels: torch.Tensor, offsets: Sequence[Sequence[int]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Affinity targets, annotated mask R_a^L and unannotated mask R_a^U of a label batch.

    Pairs leaving the image belong to neither mask.
    """
    pairs = [affinity_targets(label, offsets) for label in labels.numpy()]
    target_t = torch.from_numpy(np.stack([target for target, _ in pairs]))
    annotated_t = torch.from_numpy(np.stack([mask for _, mask in pairs]))
    # Every patch of a batch has the same shape: one inside mask serves all of them.
    inside = torch.from_numpy(inside_mask(labels.shape[1:], offsets))
    unannotated_t = inside[None] & ~annotated_t
    return target_t, annotated_t, unannotated_t


def confident(
    affinities: torch.Tensor,
    region: torch.Tensor,
    alpha: float,
    *,
    image: torch.Tensor,
    cpsn: nn.Module | None,
    use_cpsn: bool,
) -> torch.Tensor:
    """δ = δ^thres · δ^cpsn (Sec. 4.2) of detached ``affinities`` inside ``region``."""
    entropy = affinity_entropy(affinities)
    result = confident_by_entropy(entropy, region, alpha)
    if cpsn is not None and use_cpsn:
        with torch.no_grad():
            errors = cpsn(torch.cat([image, affinities, entropy], dim=1))
        result &= errors < 0.5
    return result


def train_crac(
    implicit_net: nn.Module,
    explicit_net: nn.Module | None,
    patches: SparseInstancePatchDataset,
    offsets: Sequence[Sequence[int]],
    *,
    steps: int,
    batch_size: int,
    learning_rate: float = 5e-4,
    weight_decay: float = 1e-5,
    weights: CracWeights | None = None,
    cpsn: nn.Module | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    compute: ComputeSettings | None = None,
    log_every: int = 50,
    validate: Callable[[nn.Module], float] | None = None,
    control: RunControl | None = None,
    stage: str = "crac",
    log: Callable[[str], None] = print,
) -> CracTrainingResult:
    """Train affinity networks on sparse instance labels with CRAC (Eq. 3-10).

    Parameters
    ----------
    implicit_net:
        f(θ1): one sigmoid output channel per offset.
    explicit_net:
        f(θ2): cosine affinities of pixel embeddings for the same offsets (e.g.
        :class:`semiseg_zoo.nets.CosineAffinityUNet2d`). ``None``: vanilla training of
        ``implicit_net`` alone (Eq. 3 only).
    patches:
        Patches with labels ``-1`` = unannotated region.
    offsets:
        The offsets of both networks' output channels.
    steps, batch_size, learning_rate, weight_decay:
        Adam optimisation of each network.
    weights:
        λ, α0, p and the CPSN options.
    cpsn:
        Confidence pixel selection network (input: image ⊕ affinities ⊕ entropies, output:
        sigmoid error probability per affinity); trained online on both networks' current
        predictions, on the annotated pairs, with ``cpsn_dropout`` of the predicted affinities
        zeroed to simulate further errors; it filters from step ``cpsn_warmup`` on.
    seed, device, compute, log_every, log:
        Reproducibility, where and in which precision to train (``compute`` wins over
        ``device``) and logging of the mean loss terms.
    validate:
        ``validate(net) -> score`` of each affinity network for the validation curve (the last
        weights are kept, as CRAC does).
    control:
        Checkpoints and resume.

    Returns
    -------
    CracTrainingResult
        The networks (CPU, eval mode) and the loss history.
    """
    weights = weights or CracWeights()
    compute = compute or ComputeSettings(str(device))
    torch.manual_seed(seed)
    spatial = len(offsets[0])
    nets = {"implicit": compute.prepare(implicit_net, spatial).train()}
    if explicit_net is not None:
        nets["explicit"] = compute.prepare(explicit_net, spatial).train()
    if cpsn is not None:
        if explicit_net is None:
            raise ValueError("the CPSN filters cross-supervision: it needs the explicit network")
        nets["cpsn"] = compute.prepare(cpsn, spatial).train()
    optimizers = {
        name: torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
        for name, net in nets.items()
    }
    scaler = compute.grad_scaler()
    batches = patches if isinstance(patches, StepBatches) else StepBatches(patches, batch_size)

    def train_step(step: int, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        images, labels = batch
        targets, annotated, unannotated = (
            t.to(compute.device) for t in batch_targets(labels, offsets)
        )
        images = compute.inputs(images)
        with compute.autocast():
            implicit = nets["implicit"](images).float()
        terms = {"supervised_implicit": masked_mse(implicit, targets, annotated)}
        if explicit_net is not None:
            with compute.autocast():
                explicit = nets["explicit"](images).float()
            terms["supervised_explicit"] = masked_mse(explicit, targets, annotated)
            alpha = adaptive_quantile(step - 1, steps, weights.alpha0, weights.power)
            use_cpsn = cpsn is not None and step > weights.cpsn_warmup
            delta_1, delta_2 = (
                confident(
                    a.detach(), unannotated, alpha, image=images, cpsn=cpsn, use_cpsn=use_cpsn
                )
                for a in (implicit, explicit)
            )
            terms["consistency_implicit"], terms["consistency_explicit"] = cross_supervision_loss(
                implicit, explicit, delta_1, delta_2, unannotated
            )
            terms["confident_fraction"] = (delta_1 | delta_2).sum() / unannotated.sum().clamp(min=1)
        loss = sum(value for name, value in terms.items() if name.startswith("supervised"))
        loss = loss + weights.lambda_c * sum(
            value for name, value in terms.items() if name.startswith("consistency")
        )
        if cpsn is not None:
            with compute.autocast():
                terms["cpsn"] = _cpsn_loss(
                    nets["cpsn"], images, (implicit, explicit), targets, annotated, weights
                )
            loss = loss + terms["cpsn"]
        for optimizer in optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        for optimizer in optimizers.values():
            scaler.step(optimizer)
        scaler.update()
        return {name: float(value.detach()) for name, value in terms.items()}

    state = {
        **{f"{name}_net": net for name, net in nets.items()},
        **{f"{name}_optimizer": opt for name, opt in optimizers.items()},
        "scaler": scaler,
    }
    loop = TrainingLoop(
        stage=stage,
        steps=steps,
        validate_every=log_every,
        state=state,
        candidates={name: net for name, net in nets.items() if name != "cpsn"},
        validate=validate,
        control=control,
        log=log,
        describe=compute.describe(),
        select_best=False,
    )  # fmt: skip
    result = loop.run(batches, train_step)
    trained = {name: net.cpu().eval() for name, net in nets.items()}
    return CracTrainingResult(
        trained["implicit"],
        trained.get("explicit"),
        trained.get("cpsn"),
        result.history,
        result.record.get("wall_s", 0.0),
        result.record,
    )


def _cpsn_loss(
    cpsn: nn.Module,
    images: torch.Tensor,
    predictions: tuple[torch.Tensor, torch.Tensor],
    targets: torch.Tensor,
    annotated: torch.Tensor,
    weights: CracWeights,
) -> torch.Tensor:
    """Masked binary cross-entropy of the CPSN's error map on the annotated pairs, for both
    networks' detached predictions (with simulated errors)."""
    losses = []
    for prediction in predictions:
        prediction = prediction.detach()
        if weights.cpsn_dropout > 0:
            keep = torch.rand_like(prediction) >= weights.cpsn_dropout
            prediction = prediction * keep
        errors = error_targets(prediction, targets)
        inputs = torch.cat([images, prediction, affinity_entropy(prediction)], dim=1)
        probability = cpsn(inputs).clamp(1e-6, 1 - 1e-6)
        bce = nn.functional.binary_cross_entropy(probability, errors, reduction="none")
        mask = annotated.to(bce.dtype)
        losses.append((bce * mask).sum() / mask.sum().clamp(min=1.0))
    return torch.stack(losses).mean()
