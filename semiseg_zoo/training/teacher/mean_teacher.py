"""ACTIS semi-supervised mean-teacher training (Rumberger et al. 2023, Sec. 3.1-3.2)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
from torch import nn

from semiseg_zoo.training.augment import strong_intensity
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.ema import ema_update
from semiseg_zoo.training.loop import (
    Batches,
    TrainingLoop,
    TrainingResult,
    ZippedBatches,
    as_batches,
)
from semiseg_zoo.training.losses import masked_cross_entropy, weighted_cross_entropy
from semiseg_zoo.training.teacher.pseudo_labels import (
    DIHEDRAL_TRANSFORMS,
    ClassThresholds,
    dihedral,
    pseudo_labels,
)


def student_view(
    images: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    rng: np.random.Generator,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ACTIS Eq. 5 inputs: per sample, ``t(t_int(x))`` with strong intensity augmentation and a
    random flip/rotation ``t`` that is also applied to the pseudo-label and the mask."""
    views, view_labels, view_masks = [], [], []
    for image, label, reliable in zip(images, labels, mask, strict=True):
        perturbed = torch.from_numpy(strong_intensity(image.cpu().numpy(), rng)).to(image.device)
        k, flip = DIHEDRAL_TRANSFORMS[int(rng.integers(len(DIHEDRAL_TRANSFORMS)))]
        views.append(dihedral(perturbed, k, flip))
        view_labels.append(dihedral(label, k, flip))
        view_masks.append(dihedral(reliable, k, flip))
    return torch.stack(views), torch.stack(view_labels), torch.stack(view_masks)


def train_actis(
    student: nn.Module,
    labeled_batches: Batches | Iterator[tuple[torch.Tensor, torch.Tensor]],
    unlabeled_batches: Batches | Iterator[torch.Tensor],
    *,
    steps: int,
    learning_rate: float,
    momentum: float,
    weight_decay: float,
    class_weights: list[float] | None,
    percentile: float,
    threshold_ema: float,
    teacher_ema: float,
    teacher_update_every: int,
    validate: Callable[[nn.Module], float],
    validate_every: int,
    teacher: nn.Module | None = None,
    keep: str = "student",
    device: str = "cpu",
    compute: ComputeSettings | None = None,
    seed: int = 0,
    control: RunControl | None = None,
    stage: str = "actis",
    log: Callable[[str], None] = print,
) -> tuple[TrainingResult, nn.Module, ClassThresholds]:
    """Train ``student`` (initialised from the supervised baseline) against its mean teacher.

    Each step: the teacher (a copy of the baseline unless given) pseudo-labels the unlabeled
    batch with TTA (Eq. 1-4); the student sees strongly augmented, flipped/rotated views of it
    (Eq. 5) together with the labeled batch (which the caller augments); the loss is the masked
    cross-entropy on unlabeled plus the cross-entropy on labeled pixels. SGD with Nesterov
    momentum and cosine decay; every ``teacher_update_every`` steps the teacher moves towards
    the student by :func:`ema_update`. The student is validated every ``validate_every`` steps
    (with ``keep="best"`` the teacher too); the best weights seen (step 0 is the baseline) are
    returned with the final teacher and thresholds. ``history`` entries name the ``source``.

    The student's augmentations of step ``k`` are drawn from a generator seeded by
    ``(seed, k)``, so a run resumed from a checkpoint (``control``) continues exactly.
    """
    if keep not in ("student", "best"):
        raise ValueError(f"`keep` must be 'student' or 'best', not {keep!r}")
    compute = compute or ComputeSettings(device)
    compute.prepare(student).train()
    teacher = copy.deepcopy(student) if teacher is None else teacher
    compute.prepare(teacher).eval()
    for parameter in teacher.parameters():
        parameter.requires_grad_(False)
    n_classes = _n_classes(student)
    thresholds = ClassThresholds(n_classes, quantile=percentile, ema=threshold_ema)
    optimizer = torch.optim.SGD(
        student.parameters(),
        lr=learning_rate,
        momentum=momentum,
        nesterov=momentum > 0,
        weight_decay=weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    scaler = compute.grad_scaler()

    def train_step(step: int, batch: Any) -> dict[str, float]:
        (labeled_images, labeled_targets), unlabeled = batch
        unlabeled = compute.inputs(unlabeled)
        rng = np.random.default_rng([seed, 3, step])
        with compute.autocast():
            _, labels, mask = pseudo_labels(teacher, unlabeled, thresholds)
        views, view_labels, view_masks = student_view(unlabeled, labels, mask, rng)
        n_labeled = labeled_images.shape[0]
        with compute.autocast():
            logits = student.forward_logits(
                torch.cat([compute.inputs(labeled_images), compute.inputs(views)])
            )
        logits = logits.float()
        supervised = weighted_cross_entropy(
            logits[:n_labeled], labeled_targets.to(compute.device), class_weights
        )
        semi = masked_cross_entropy(logits[n_labeled:], view_labels, view_masks, class_weights)
        loss = supervised + semi
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        if step % teacher_update_every == 0:
            ema_update(teacher, student, teacher_ema)
        return {
            "loss": loss.item(),
            "supervised": supervised.item(),
            "semi": semi.item(),
            "reliable": view_masks.float().mean().item(),
            **{f"threshold_{c}": value for c, value in enumerate(thresholds.values)},
        }

    candidates = {"student": student}
    if keep == "best":
        candidates["teacher"] = teacher
    loop = TrainingLoop(
        stage=stage,
        steps=steps,
        validate_every=validate_every,
        state={
            "student": student,
            "teacher": teacher,
            "optimizer": optimizer,
            "scheduler": scheduler,
            "scaler": scaler,
            "thresholds": thresholds,
        },
        candidates=candidates,
        validate=validate,
        control=control,
        initial_source="baseline",
        log=log,
        describe=compute.describe(),
    )
    batches = ZippedBatches(as_batches(labeled_batches), as_batches(unlabeled_batches))
    result = loop.run(batches, train_step)
    return result, teacher, thresholds


def _n_classes(net: nn.Module) -> int:
    head = getattr(net, "head", None)
    if not isinstance(head, nn.modules.conv._ConvNd):
        raise TypeError("the student must be a semiseg_zoo U-Net (a `head` convolution)")
    return int(head.out_channels)
