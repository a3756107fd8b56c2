"""Steps of SPOCO embedding training shared by ``train_embedding.py`` and the sparsity experiment:
data, networks, whole-image embeddings, and scoring every clustering recipe on validation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semiseg_zoo.evaluation import abs_difference_in_count, instance_scores, symmetric_best_dice
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.spec import EmbeddingSpec, ScaleRange
from semiseg_zoo.training.embedding.losses import SpocoWeights
from semiseg_zoo.training.instance_data import (
    InstanceImage,
    load_instance_images,
    training_labels,
)
from semiseg_zoo.training.whole_image import predict_whole_image


def build_net(spec: EmbeddingSpec) -> nn.Module:
    """A fresh network for ``spec``."""
    return ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)


def load_checkpoint(spec: EmbeddingSpec, path: Path) -> tuple[nn.Module, dict]:
    """A network of ``spec`` with the weights of a ``save_checkpoint`` file, and the file."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    net = build_net(spec)
    net.load_state_dict(checkpoint["state_dict"])
    return net, checkpoint


def spoco_weights(spec: EmbeddingSpec) -> SpocoWeights:
    """The loss margins and weights of ``spec``."""
    loss = spec.training.loss
    return SpocoWeights(
        delta_v=loss.delta_v, delta_d=loss.delta_d, kernel_threshold=loss.kernel_threshold,
        alpha=loss.alpha, beta=loss.beta, lambda_obj=loss.lambda_obj, gamma=loss.gamma,
        delta=loss.delta, regularizer=loss.regularizer, max_anchors=loss.max_anchors,
    )  # fmt: skip


def load_split(spec: EmbeddingSpec, root: Path) -> tuple[list[InstanceImage], list[InstanceImage]]:
    """Training and validation images of ``spec``: ``val_data``, or ``val_images`` training
    images held out (drawn with the spec's seed, so every run of a spec holds out the same)."""
    training = spec.training
    norm = spec.input.preprocessing
    percentiles = (
        {"min_percentile": norm.min_percentile, "max_percentile": norm.max_percentile}
        if isinstance(norm, ScaleRange)
        else {}
    )
    shape = {"channels": spec.input.channels, "n_spatial": len(spec.input.axes) - 2}
    items = load_instance_images(
        root, training.train.images, training.train.labels,
        sparse=training.train.sparse, **shape, **percentiles,
    )  # fmt: skip
    if training.val_data is not None:
        val = training.val_data
        val_items = load_instance_images(
            root, val.images, val.labels, sparse=val.sparse, **shape, **percentiles
        )
        return items, val_items
    if training.val_images >= len(items):
        raise SystemExit(
            f"`training.val_images` is {training.val_images} but only {len(items)} training "
            "images were found"
        )
    held_out = set(
        np.random.default_rng([training.seed, 4]).choice(
            len(items), training.val_images, replace=False
        )
    )
    train = [item for i, item in enumerate(items) if i not in held_out]
    return train, [item for i, item in enumerate(items) if i in held_out]


def sparse_training_labels(
    items: list[InstanceImage], fraction: float | None, seed: int
) -> tuple[list[np.ndarray], dict[str, int]]:
    """Training labels of every image (SPOCO@``fraction``, or full supervision) and counts of
    the objects available and labeled."""
    labels, available, labeled = [], 0, 0
    for i, item in enumerate(items):
        rng = np.random.default_rng([seed, 5, i])
        label = training_labels(item.labels, fraction=fraction, rng=rng, sparse=item.sparse)
        labels.append(label)
        available += len(np.unique(item.labels[item.labels > 0]))
        labeled += len(np.unique(label[label > 0]))
    return labels, {"objects": available, "labeled_objects": labeled}


def embed(net: nn.Module, image: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Embeddings ``(D, *spatial)`` of a whole image."""
    return predict_whole_image(net, image, divisor=net.divisor, device=device)


def score(labels: np.ndarray, groundtruth: np.ndarray) -> dict[str, float]:
    """SBD, |DiC|, AP@0.5 (TP/(TP+FP)) and F1@0.5 of one segmentation."""
    instance = instance_scores(labels, groundtruth, iou_threshold=0.5)
    return {
        "sbd": symmetric_best_dice(labels, groundtruth),
        "abs_dic": float(abs_difference_in_count(labels, groundtruth)),
        "ap50": instance["ap"],
        "f1_50": instance["f1"],
    }


def best_recipe(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """The row with the highest ``metric`` (ties: the faster recipe)."""
    return max(rows, key=lambda row: (row[metric], -row["seconds_per_image"]))


def save_checkpoint(path: Path, result: Any, info: Mapping[str, Any]) -> None:
    """Both networks' weights, the loss history and what the run was."""
    torch.save(
        {
            "state_dict": {k: v.cpu() for k, v in result.net.state_dict().items()},
            "momentum_state_dict": {
                k: v.cpu() for k, v in result.momentum_net.state_dict().items()
            },
            "history": result.history,
            "seconds": result.seconds,
            **info,
        },
        path,
    )
