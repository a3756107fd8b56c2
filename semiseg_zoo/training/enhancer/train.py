"""shallow2deep Prediction Enhancer: training on Random Forest probability maps and validation
(Matskevych et al. 2022, Sec. 2.1)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.data import RandomPatchDataset
from semiseg_zoo.training.loop import TrainingResult
from semiseg_zoo.training.losses import binary_loss
from semiseg_zoo.training.step_batches import StepBatches
from semiseg_zoo.training.supervised import train_supervised
from semiseg_zoo.training.whole_image import predict_whole_image


@dataclass
class ForestMap:
    """One Random Forest's probability map of the target class on source image ``index``."""

    index: int
    probabilities: np.ndarray


def enhancer_patches(
    maps: Sequence[ForestMap],
    targets: Sequence[np.ndarray],
    patch_shape: tuple[int, int],
    *,
    seed: int,
) -> RandomPatchDataset:
    """Endless random patches (flips/rotations only) of forest maps with their image's target;
    maps are drawn in proportion to their area, so every forest is sampled."""
    return RandomPatchDataset.from_targets(
        [m.probabilities.astype(np.float32)[None] for m in maps],
        [targets[m.index].astype(np.int64) for m in maps],
        patch_shape,
        seed=seed,
        intensity=False,
    )


def enhance_maps(
    net: nn.Module, maps: Sequence[ForestMap], *, divisor: int, device: str
) -> list[np.ndarray]:
    """The enhancer's probability ``(Y, X)`` for each forest map."""
    return [
        predict_whole_image(
            net, m.probabilities.astype(np.float32)[None], divisor=divisor, device=device
        )[0]
        for m in maps
    ]


def pixel_dice(probabilities: np.ndarray, target: np.ndarray, threshold: float = 0.5) -> float:
    """Dice of ``probabilities > threshold`` and a bool ``target`` (1 when both are empty)."""
    prediction = probabilities > threshold
    total = prediction.sum() + target.sum()
    return 1.0 if total == 0 else float(2 * np.logical_and(prediction, target).sum() / total)


def make_enhancer_validator(
    maps: Sequence[ForestMap], targets: Sequence[np.ndarray], *, divisor: int, device: str
) -> Callable[[nn.Module], float]:
    """Validation score for checkpoint selection: mean pixel Dice at 0.5 over ``maps``."""

    def validate(net: nn.Module) -> float:
        outputs = enhance_maps(net, maps, divisor=divisor, device=device)
        return float(
            np.mean([pixel_dice(o, targets[m.index]) for o, m in zip(outputs, maps, strict=False)])
        )

    return validate


def train_enhancer(
    net: nn.Module,
    train_maps: Sequence[ForestMap],
    train_targets: Sequence[np.ndarray],
    validate: Callable[[nn.Module], float],
    *,
    patch_shape: tuple[int, int],
    batch_size: int,
    steps: int,
    learning_rate: float,
    weight_decay: float,
    loss: str,
    validate_every: int,
    seed: int,
    device: str = "cpu",
    compute: ComputeSettings | None = None,
    control: RunControl | None = None,
    stage: str = "enhancer",
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train the enhancer U-Net (one sigmoid output; it never sees raw data) on random patches
    of the forests' probability maps against the ground truth, with BCE or Dice loss; the best
    validating weights are loaded into ``net`` and returned in the result."""
    torch.manual_seed(seed)
    dataset = enhancer_patches(train_maps, train_targets, patch_shape, seed=seed)
    result = train_supervised(
        net,
        StepBatches(dataset, batch_size),
        steps=steps,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        class_weights=None,
        validate=validate,
        validate_every=validate_every,
        device=device,
        compute=compute,
        loss=lambda logits, target: binary_loss(logits, target, loss),
        control=control,
        stage=stage,
        log=log,
    )
    net.load_state_dict(result.best_state)
    return result
