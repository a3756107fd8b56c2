"""shallow2deep domain adaptation: a segmentation U-Net trained on the target data from the
Prediction Enhancer's soft pseudo-labels, with a mean-teacher consistency term and confidence
label rectification (Matskevych et al. 2022, Sec. 2.2, Eq. 1-8).

References
----------
A. Matskevych, A. Wolny, C. Pape, A. Kreshuk: "From Shallow to Deep: Exploiting Feature-Based
Classifiers for Domain Adaptation in Semantic Segmentation", Frontiers in Computer Science, 2022.

A. Tarvainen, H. Valpola: "Mean teachers are better role models", NeurIPS 2017.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from semiseg_zoo.shallow import ConfidenceRectifier, rectified_bce
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.ema import ema_update
from semiseg_zoo.training.enhancer.soft_patches import SoftPatchDataset
from semiseg_zoo.training.loop import TrainingLoop, TrainingResult
from semiseg_zoo.training.losses import dice_loss
from semiseg_zoo.training.step_batches import StepBatches

LossKind = Literal["bce", "dice"]


class PseudoLabelLoss(NamedTuple):
    """The loss of one batch (``total``, differentiable) and its two terms of Eq. 1."""

    total: torch.Tensor
    pseudo_label: torch.Tensor
    consistency: torch.Tensor


def pseudo_label_loss(
    logits: torch.Tensor,
    teacher_probabilities: torch.Tensor | None,
    soft_labels: torch.Tensor,
    rectifier: ConfidenceRectifier,
    *,
    kind: LossKind = "bce",
    rectify: bool = True,
    consistency: bool = True,
) -> PseudoLabelLoss:
    """shallow2deep Eq. 1: ``L_R(φ_f(x), ŷ) + L_R,c(φ_f(x), φ_g(x))`` for one batch.

    - ``bce``: the pseudo-label term is :func:`~semiseg_zoo.shallow.rectified_bce` (targets
      ``ŷ1 = ω1 y1`` and ``ŷ0 = ω0 (1 - y1)``, Eq. 6-8) or, with ``rectify=False``, the plain
      binary cross-entropy against the soft labels; the consistency term is the binary
      cross-entropy of the student against the teacher's probabilities.
    - ``dice``: the pseudo-label term is the Dice loss ``1 - 2Σpt / (Σp² + Σt²)`` against the
      rectified foreground target ``ŷ1 = ω1 y1`` (or ``y1``); the consistency term is the Dice
      loss between student and teacher probabilities (Eq. 3).

    Parameters
    ----------
    logits:
        Student logits ``(B, 1, Y, X)`` (before the sigmoid); the gradient flows through them.
    teacher_probabilities:
        The mean teacher's sigmoid probabilities ``(B, 1, Y, X)`` on the same input, used as
        constants; may be None when ``consistency`` is False.
    soft_labels:
        Soft pseudo-labels in [0, 1], ``(B, Y, X)`` or ``(B, 1, Y, X)``.
    rectifier:
        The running confidence levels; with ``rectify`` this batch updates them (Eq. 8) before
        the weights are computed.
    kind:
        ``bce`` or ``dice``.
    rectify, consistency:
        Use label rectification / the consistency term (False for ablations).

    Returns
    -------
    PseudoLabelLoss
        ``total = pseudo_label + consistency`` (the consistency term is 0 when switched off).

    Raises
    ------
    ValueError
        If ``kind`` is unknown, shapes differ, labels leave [0, 1], or ``consistency`` is on
        without ``teacher_probabilities``.
    """
    if kind not in ("bce", "dice"):
        raise ValueError(f"`kind` must be 'bce' or 'dice', got {kind!r}")
    if logits.ndim < 3 or logits.shape[1] != 1:
        raise ValueError(
            f"`logits` has shape {tuple(logits.shape)}; expected (B, 1, ...) from a network with "
            "one output channel"
        )
    target = soft_labels.to(logits.dtype)
    if target.ndim == logits.ndim - 1:
        target = target.unsqueeze(1)
    if target.shape != logits.shape:
        raise ValueError(
            f"`soft_labels` has shape {tuple(soft_labels.shape)} but `logits` "
            f"{tuple(logits.shape)}; pass (B, Y, X) or (B, 1, Y, X) labels of the same patches"
        )
    low, high = (v.item() for v in torch.aminmax(target.detach()))
    # Written so that NaN fails too.
    if not (low >= 0 and high <= 1):
        raise ValueError(
            f"`soft_labels` must be probabilities in [0, 1], got values in [{low:.3g}, {high:.3g}]"
        )
    if consistency and teacher_probabilities is None:
        raise ValueError("`consistency` is on but `teacher_probabilities` is None; pass them")
    probabilities = torch.sigmoid(logits)

    if kind == "bce":
        if rectify:
            pseudo = rectified_bce(probabilities, target, rectifier, update=True)
        else:
            pseudo = F.binary_cross_entropy_with_logits(logits, target)
    else:
        if rectify:
            rectifier.update(probabilities, target)
            target, _ = rectifier.rectify(target, probabilities)
        pseudo = dice_loss(probabilities, target)

    if not consistency:
        return PseudoLabelLoss(pseudo, pseudo, torch.zeros_like(pseudo))
    teacher = teacher_probabilities.detach().to(logits.dtype)
    if teacher.shape != logits.shape:
        raise ValueError(
            f"`teacher_probabilities` has shape {tuple(teacher.shape)} but `logits` "
            f"{tuple(logits.shape)}; run the teacher on the student's input"
        )
    # Eq. 4 of the paper has a sign typo (``(1 - p_g)(1 - log p_f)``, no leading minus); this is
    # the standard binary cross-entropy with the teacher's probabilities as soft targets.
    if kind == "bce":
        agreement = F.binary_cross_entropy_with_logits(logits, teacher)
    else:
        agreement = dice_loss(probabilities, teacher)
    return PseudoLabelLoss(pseudo + agreement, pseudo, agreement)


def train_pseudo_label_net(
    net: nn.Module,
    images: Sequence[np.ndarray],
    pseudo_labels: Sequence[np.ndarray],
    *,
    steps: int,
    patch_shape: tuple[int, int],
    batch_size: int,
    seed: int,
    learning_rate: float = 2e-4,
    weight_decay: float = 1e-5,
    loss: LossKind = "bce",
    ema_alpha: float = 0.999,
    rectification_momentum: float = 0.999,
    rectify: bool = True,
    consistency: bool = True,
    teacher: nn.Module | None = None,
    device: str = "cpu",
    compute: ComputeSettings | None = None,
    validate: Callable[[nn.Module], float] | None = None,
    validate_every: int = 250,
    control: RunControl | None = None,
    stage: str = "pseudo_label_net",
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train ``net`` (the student ``φ_f``) on raw target images from soft pseudo-labels with a
    mean teacher ``φ_g`` and confidence rectification (shallow2deep Sec. 2.2).

    Each step draws a batch of augmented random patches (:class:`SoftPatchDataset`), computes
    :func:`pseudo_label_loss` of the student against the patches' soft labels and the teacher's
    probabilities on the same input, takes an Adam step and moves the teacher towards the
    student with :func:`~semiseg_zoo.training.ema_update` (Eq. 2). The teacher runs in eval mode
    (its BatchNorm statistics are the EMA of the student's). As in Tarvainen & Valpola's
    implementation the EMA factor is ``min(ema_alpha, 1 - 1 / (step + 1))``, so that early on
    the teacher averages the student's weights so far instead of staying at the random
    initialisation for ~1 / (1 - α) steps. The learning rate is constant (the paper's
    reduce-on-plateau decay needs a validation metric, which the target domain lacks).

    Parameters
    ----------
    net:
        A network with ``forward_logits`` and one output channel, moved to ``device``.
    images:
        Normalised raw target images ``(1, Y, X)`` float32 (e.g. ``scale_range`` output).
    pseudo_labels:
        Soft labels ``(Y, X)`` in [0, 1], one per image (the enhancer's probabilities; not
        thresholded, paper Sec. 2.2).
    steps, patch_shape, batch_size, seed:
        Schedule, patch ``(Y, X)``, patches per batch and the seed of the patch sampling.
    learning_rate, weight_decay:
        Adam's parameters (paper: 2e-4 and 1e-5).
    loss:
        ``bce`` or ``dice`` for both terms.
    ema_alpha:
        The teacher's smoothing factor α (paper: 0.999).
    rectification_momentum:
        The smoothing factor λ of the confidence levels (paper: 0.999).
    rectify, consistency:
        Switch label rectification / the consistency term off for ablations.
    teacher:
        The teacher to update in place (default: a copy of ``net``).
    device, compute:
        Where and in which precision to train (``compute`` wins over ``device``).
    control:
        Checkpoints and resume (the student, the teacher, Adam and the confidence levels).
    validate:
        Optional score to maximise (e.g. on a few labeled target images); run every
        ``validate_every`` steps and at the end, and the best weights are kept. Without it the
        final student weights are kept.
    validate_every:
        Steps between validations and log lines.
    log:
        Receives one line per ``validate_every`` steps.

    Returns
    -------
    TrainingResult
        The kept weights (also loaded into ``net``), their score (NaN without ``validate``) and
        step, and a history of mean loss terms, confidence levels ``eta1``/``eta0`` and scores.

    Raises
    ------
    ValueError
        If a count is not positive, ``loss`` is unknown, a factor leaves [0, 1], the data are
        inconsistent (see :class:`SoftPatchDataset`) or ``net`` has more than one output channel.
    """
    counts = {"steps": steps, "batch_size": batch_size, "validate_every": validate_every}
    for name, value in counts.items():
        if value < 1:
            raise ValueError(f"`{name}` must be at least 1, got {value}")
    if loss not in ("bce", "dice"):
        raise ValueError(f"`loss` must be 'bce' or 'dice', got {loss!r}")
    if not 0.0 <= ema_alpha <= 1.0:
        raise ValueError(f"`ema_alpha` must lie in [0, 1], got {ema_alpha}")
    rectifier = ConfidenceRectifier(rectification_momentum)
    dataset = SoftPatchDataset(images, pseudo_labels, patch_shape, seed=seed)
    compute = compute or ComputeSettings(device)
    compute.prepare(net).train()
    teacher = copy.deepcopy(net) if teacher is None else teacher
    compute.prepare(teacher).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    optimizer = torch.optim.Adam(net.parameters(), lr=learning_rate, weight_decay=weight_decay)
    scaler = compute.grad_scaler()

    def train_step(step: int, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, float]:
        image, target = compute.inputs(batch[0]), batch[1].to(compute.device)
        with compute.autocast():
            logits = net.forward_logits(image)
        logits = logits.float()
        teacher_probabilities = None
        if consistency:
            with torch.no_grad(), compute.autocast():
                teacher_probabilities = torch.sigmoid(teacher.forward_logits(image).float())
        terms = pseudo_label_loss(
            logits, teacher_probabilities, target, rectifier,
            kind=loss, rectify=rectify, consistency=consistency,
        )  # fmt: skip
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(terms.total).backward()
        scaler.step(optimizer)
        scaler.update()
        ema_update(teacher, net, min(ema_alpha, 1.0 - 1.0 / (step + 1)))
        metrics = dict(zip(("loss", "pseudo_label", "consistency"), (t.item() for t in terms),
                           strict=True))  # fmt: skip
        for key in ("eta1", "eta0"):
            if getattr(rectifier, key) is not None:
                metrics[key] = getattr(rectifier, key)
        return metrics

    loop = TrainingLoop(
        stage=stage,
        steps=steps,
        validate_every=validate_every,
        state={"net": net, "teacher": teacher, "optimizer": optimizer, "scaler": scaler,
               "rectifier": rectifier},
        candidates={"student": net},
        validate=validate,
        control=control,
        log=log,
        describe=compute.describe(),
    )  # fmt: skip
    result = loop.run(StepBatches(dataset, batch_size), train_step)
    if validate is None:
        result.best_score = float("nan")
    net.load_state_dict(result.best_state)
    return result


def _state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
