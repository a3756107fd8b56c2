"""shallow2deep on target data without labels: scribbles → Random Forest → enhancer → soft
pseudo-labels → a U-Net on the raw target images (Matskevych et al. 2022, Sec. 2.2). Used by
``train_enhancer.py --pseudo-label-net`` and the experiment scripts.

Raw images are 2D ``(Y, X)`` or stacks ``(Z, Y, X)``; stacks are split into 2D slices, and each
slice is normalised with ``scale_range`` (1, 99.8), as the pseudo-label net's package does.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from semiseg_zoo.enhance import enhance, enhancer_config
from semiseg_zoo.inference import Model, Package, load_model
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.spec import (
    EnhancerSpec,
    PseudoLabelNetSpec,
    PseudoLabelTrainingSpec,
    parse_spec,
    pseudo_label_net_spec,
)
from semiseg_zoo.training import predict_whole_image, scale_range
from semiseg_zoo.training.enhancer.pseudo_label_net import train_pseudo_label_net
from semiseg_zoo.training.enhancer.steps import synthetic_task_image
from semiseg_zoo.training.enhancer.train import pixel_dice
from semiseg_zoo.training.supervised import TrainingResult


@dataclass
class PseudoLabelData:
    """Target data slice by slice: normalised raw images ``(1, Y, X)`` float32, soft
    pseudo-labels ``(Y, X)`` float32 in [0, 1] and, when they came from scribbles, the forest's
    probabilities ``(Y, X)``."""

    images: list[np.ndarray] = field(default_factory=list)
    pseudo_labels: list[np.ndarray] = field(default_factory=list)
    rf_probabilities: list[np.ndarray] = field(default_factory=list)


def enhancer_spec_of(package: Package) -> tuple[EnhancerSpec, dict[str, Any]]:
    """The spec an enhancer package was exported with (``config.semiseg.spec``) and its tuned
    post-processing recipe (``config.semiseg.postprocessing``)."""
    config = enhancer_config(package)
    spec = parse_spec(config["spec"], str(package.source))
    if not isinstance(spec, EnhancerSpec):
        raise ValueError(
            f"{package.source}: config.semiseg.spec is a {spec.kind!r} spec, not an enhancer's"
        )
    return spec, dict(config["postprocessing"])


def _planes(array: np.ndarray) -> list[np.ndarray]:
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise ValueError(f"got an array of shape {array.shape}; expected (Y, X) or (Z, Y, X)")
    return [array] if array.ndim == 2 else list(array)


def normalised_slices(raw: np.ndarray) -> list[np.ndarray]:
    """The 2D slices of ``raw`` as normalised network inputs ``(1, Y, X)`` float32."""
    return [scale_range(plane)[None] for plane in _planes(raw)]


def pseudo_label_data(
    raw_images: Sequence[np.ndarray],
    pseudo_labels: Sequence[np.ndarray],
    rf_probabilities: Sequence[np.ndarray] = (),
) -> PseudoLabelData:
    """Split raw images and their soft pseudo-labels (same shapes) into normalised 2D slices."""
    if len(raw_images) != len(pseudo_labels):
        raise ValueError(
            f"got {len(raw_images)} raw images but {len(pseudo_labels)} pseudo-label maps; pass "
            "one map per raw image"
        )
    data = PseudoLabelData()
    for index, (raw, labels) in enumerate(zip(raw_images, pseudo_labels, strict=True)):
        if np.shape(raw) != np.shape(labels):
            raise ValueError(
                f"raw image {index} has shape {np.shape(raw)} but its pseudo-labels "
                f"{np.shape(labels)}; they must match"
            )
        data.images += normalised_slices(raw)
        data.pseudo_labels += [
            np.clip(plane, 0.0, 1.0).astype(np.float32) for plane in _planes(labels)
        ]
    for forest in rf_probabilities:
        data.rf_probabilities += [plane.astype(np.float32) for plane in _planes(forest)]
    return data


def enhancer_pseudo_labels(
    model: Model,
    raw_images: Sequence[np.ndarray],
    scribbles: Sequence[np.ndarray],
    *,
    n_trees: int = 100,
    seed: int = 0,
) -> PseudoLabelData:
    """One Random Forest per raw image (2D or a stack) from its scribbles (0 unlabeled,
    1 background, 2 the enhancer's class), improved by the enhancer ``model``
    (:func:`semiseg_zoo.enhance.enhance`), as 2D slices."""
    if len(raw_images) != len(scribbles):
        raise ValueError(
            f"got {len(raw_images)} raw images but {len(scribbles)} scribble images; pass one "
            "scribble image per raw image"
        )
    results = [
        enhance(np.asarray(raw), model, scribbles=strokes, n_trees=n_trees, seed=seed)
        for raw, strokes in zip(raw_images, scribbles, strict=True)
    ]
    return pseudo_label_data(
        raw_images, [r.probabilities for r in results], [r.rf_probabilities for r in results]
    )


def pseudo_label_training(
    enhancer: EnhancerSpec,
    *,
    target: str,
    steps: int,
    seed: int = 0,
    loss: Literal["bce", "dice"] | None = None,
    rectification: bool = True,
    consistency: bool = True,
    n_trees: int = 100,
    batch_size: int = 8,
    patch_shape: Sequence[int] | None = None,
) -> PseudoLabelTrainingSpec:
    """The training block of a pseudo-label net: the paper's optimiser settings (Adam, lr 2e-4,
    weight decay 1e-5, α = λ = 0.999); loss and patch shape default to the enhancer's (BCE
    for foreground, Dice for membranes, as in the paper)."""
    return PseudoLabelTrainingSpec(
        target=target,
        enhancer=enhancer.name,
        data_description=(
            f"{target}: raw images without labels; soft pseudo-labels from a Random Forest "
            f"({n_trees} trees) trained on the scribbles of each image or stack and improved by "
            f"the enhancer {enhancer.name} (itself trained on: "
            f"{' '.join(enhancer.training.data_description.split())})"
        ),
        n_trees=n_trees,
        loss=loss or enhancer.training.loss,
        patch_shape=list(patch_shape or enhancer.training.patch_shape),
        batch_size=batch_size,
        steps=steps,
        rectification=rectification,
        consistency=consistency,
        seed=seed,
    )


def fit_pseudo_label_net(
    enhancer: EnhancerSpec,
    postprocessing: dict[str, Any],
    data: PseudoLabelData,
    training: PseudoLabelTrainingSpec,
    *,
    name: str | None = None,
    device: str = "cpu",
    validate: Callable[[nn.Module], float] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, PseudoLabelNetSpec, TrainingResult]:
    """Build the spec (from the enhancer's, with its tuned ``postprocessing``), train a fresh
    U-Net of the enhancer's architecture on ``data`` as ``training`` says, and return the net
    (on CPU, eval mode), the spec and the training result."""
    spec = pseudo_label_net_spec(enhancer, training, name=name, postprocessing=postprocessing)
    torch.manual_seed(training.seed)
    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    result = train_pseudo_label_net(
        net, data.images, data.pseudo_labels,
        steps=training.steps, patch_shape=tuple(training.patch_shape),
        batch_size=training.batch_size, seed=training.seed,
        learning_rate=training.learning_rate, weight_decay=training.weight_decay,
        loss=training.loss, ema_alpha=training.ema_alpha,
        rectification_momentum=training.rectification_momentum,
        rectify=training.rectification, consistency=training.consistency,
        device=device, validate=validate, validate_every=min(250, training.steps), log=log,
    )  # fmt: skip
    return net.cpu().eval(), spec, result


def train_pseudo_label_net_on(
    raw_images: Sequence[np.ndarray],
    pseudo_labels: Sequence[np.ndarray],
    package: Package,
    *,
    steps: int,
    seed: int = 0,
    loss: Literal["bce", "dice"] | None = None,
    rectification: bool = True,
    consistency: bool = True,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> nn.Module:
    """Train a pseudo-label net on ready pseudo-labels (e.g. enhanced maps an experiment made):
    the enhancer ``package`` gives the architecture, loss and patch shape."""
    enhancer, recipe = enhancer_spec_of(package)
    training = pseudo_label_training(
        enhancer, target="the target images", steps=steps, seed=seed, loss=loss,
        rectification=rectification, consistency=consistency,
    )  # fmt: skip
    data = pseudo_label_data(raw_images, pseudo_labels)
    net, _, _ = fit_pseudo_label_net(enhancer, recipe, data, training, device=device, log=log)
    return net


def train_pseudo_label_net_for(
    enhancer_package: str | os.PathLike[str],
    raw_images: Sequence[np.ndarray],
    scribbles: Sequence[np.ndarray],
    *,
    target: str,
    steps: int,
    seed: int = 0,
    device: str = "cpu",
    log: Callable[[str], None] = print,
) -> tuple[nn.Module, PseudoLabelNetSpec]:
    """The pseudo-label mode without export: load the enhancer, make the pseudo-labels of
    ``raw_images`` from their ``scribbles`` and train a net with the default
    :func:`pseudo_label_training` settings; returns the net and its spec."""
    model = load_model(enhancer_package, device="cuda" if device == "cuda" else "cpu")
    enhancer, recipe = enhancer_spec_of(model.package)
    training = pseudo_label_training(enhancer, target=target, steps=steps, seed=seed)
    data = enhancer_pseudo_labels(model, raw_images, scribbles, n_trees=training.n_trees, seed=seed)
    net, spec, _ = fit_pseudo_label_net(enhancer, recipe, data, training, device=device, log=log)
    return net, spec


def predict_slices(
    net: nn.Module, raw_images: Sequence[np.ndarray], *, device: str = "cpu"
) -> list[np.ndarray]:
    """The net's probability for each raw image (2D, or a stack slice by slice), normalised as
    in training; each result has its image's shape."""
    net.to(device)
    outputs = []
    for raw in raw_images:
        planes = [
            predict_whole_image(net, image, divisor=net.divisor, device=device)[0]
            for image in normalised_slices(raw)
        ]
        outputs.append(planes[0] if np.ndim(raw) == 2 else np.stack(planes))
    return outputs


def pseudo_label_agreement(
    net: nn.Module, data: PseudoLabelData, *, device: str = "cpu"
) -> dict[str, Any]:
    """How well the trained net reproduces its training signal (the target has no labels):
    mean pixel Dice of the net's (and, if known, the forest's) maps against the pseudo-labels
    thresholded at 0.5, for the package's validation record."""
    hard = [labels > 0.5 for labels in data.pseudo_labels]
    outputs = [
        predict_whole_image(net, image, divisor=net.divisor, device=device)[0]
        for image in data.images
    ]

    def mean_dice(maps: Sequence[np.ndarray]) -> float:
        return round(float(np.mean([pixel_dice(m, h) for m, h in zip(maps, hard, strict=True)])), 4)

    record: dict[str, Any] = {
        "dataset": "the target training images (no labels): agreement with the pseudo-labels",
        "n_images": len(data.images),
        "pseudo_label_dice": mean_dice(outputs),
    }
    if data.rf_probabilities:
        record["rf_pseudo_label_dice"] = mean_dice(data.rf_probabilities)
    record["definition"] = (
        "pixel Dice at 0.5 against the enhancer's pseudo-labels thresholded at 0.5; "
        "pseudo_label_dice = this net, rf_pseudo_label_dice = the Random Forest"
    )
    return record


def sample_raw_input(spec: EnhancerSpec, seed: int = 0) -> np.ndarray:
    """A synthetic raw image of the enhancer's task (made here, shippable) for the package's
    test and sample tensors."""
    image, _ = synthetic_task_image(spec, seed)
    return image
