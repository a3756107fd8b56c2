"""Steps of CRAC affinity training shared by ``train_affinity.py`` and the sparse experiment:
data, networks, whole-image affinities and scoring every post-processing recipe on validation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from semiseg_zoo.evaluation import adapted_rand_error, instance_scores, variation_of_information
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.spec import AffinitySpec, ScaleRange
from semiseg_zoo.training.affinity.volume_data import VolumeSplit, load_volume_split
from semiseg_zoo.training.instance_data import load_instance_images, training_labels
from semiseg_zoo.training.whole_image import predict_whole_image

NET_NAMES = ("implicit", "explicit")


def implicit_net(spec: AffinitySpec) -> nn.Module:
    """A fresh implicit affinity network f(θ1) (the spec's architecture, sigmoid)."""
    return ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)


def explicit_architecture(spec: AffinitySpec) -> tuple[str, dict[str, Any]]:
    """Name and kwargs of the explicit network f(θ2): the same U-Net, ``embedding_dim``
    outputs, cosine affinities for the spec's offsets."""
    kwargs = {
        key: value
        for key, value in spec.architecture.kwargs.items()
        if key in ("in_channels", "depth", "base_features", "norm")
    }
    ndim = len(spec.input.axes) - 2
    kwargs.update(embedding_dim=spec.training.embedding_dim, offsets=spec.offsets)
    return f"CosineAffinityUNet{ndim}d", kwargs


def explicit_net(spec: AffinitySpec) -> nn.Module:
    """A fresh explicit affinity network f(θ2)."""
    name, kwargs = explicit_architecture(spec)
    return ARCHITECTURES[name](**kwargs)


def cpsn_net(spec: AffinitySpec) -> nn.Module:
    """A small confidence pixel selection network: image ⊕ affinities ⊕ entropies in, one
    sigmoid error probability per offset out."""
    ndim = len(spec.input.axes) - 2
    n = len(spec.offsets)
    unet = ARCHITECTURES[f"UNet{ndim}d"]
    return unet(
        in_channels=spec.input.channels + 2 * n, out_channels=n, depth=2, base_features=8,
        norm="batch", final_activation="sigmoid",
    )  # fmt: skip


def exported_spec(spec: AffinitySpec, net_name: str) -> AffinitySpec:
    """``spec`` describing the network that is packaged (the explicit one gets its
    architecture and the ``cosine`` output activation)."""
    if net_name == "implicit":
        return spec
    name, kwargs = explicit_architecture(spec)
    architecture = spec.architecture.model_copy(update={"name": name, "kwargs": kwargs})
    output = spec.output.model_copy(update={"activation": "cosine"})
    data = spec.model_dump()
    data.update(architecture=architecture.model_dump(), output=output.model_dump())
    return AffinitySpec.model_validate(data)


def load_split(spec: AffinitySpec, root: Path) -> VolumeSplit:
    """Training and validation parts of the spec's data: one split stack (``data``), or
    training and validation images (``train``, ``val_data``)."""
    data = spec.training.data
    norm = spec.input.preprocessing
    percentiles = (
        {"min_percentile": norm.min_percentile, "max_percentile": norm.max_percentile}
        if isinstance(norm, ScaleRange)
        else {}
    )
    if data is None:
        train, val = spec.training.train, spec.training.val_data
        shape = {"channels": spec.input.channels, "n_spatial": len(spec.input.axes) - 2}
        train_items = load_instance_images(
            root, train.images, train.labels, sparse=train.sparse, **shape, **percentiles
        )
        val_items = load_instance_images(root, val.images, val.labels, **shape, **percentiles)
        return VolumeSplit(
            [item.image for item in train_items], [item.labels for item in train_items],
            [item.image for item in val_items], [item.labels for item in val_items],
            sparse=train.sparse,
        )  # fmt: skip
    return load_volume_split(
        root, data.raw, data.labels, labels_are=data.labels_are, split_axis=data.split_axis,
        split_at=data.split_at, n_spatial=len(spec.input.axes) - 2, val_crop=data.val_crop,
        **percentiles,
    )  # fmt: skip


def sparse_labels(
    labels: list[np.ndarray], fraction: float | None, seed: int, *, annotated_only: bool = False
) -> tuple[list[np.ndarray], dict[str, int]]:
    """A seeded ``fraction`` of each image's instances annotated (``-1`` elsewhere, background
    included), or all of them with background (``None``), and the counts. ``annotated_only``:
    the labels are already sparse (0 = not annotated, which becomes ``-1``)."""
    sparse, available, annotated = [], 0, 0
    for i, label in enumerate(labels):
        rng = np.random.default_rng([seed, 8, i])
        if fraction is None and not annotated_only:
            result = label.astype(np.int64)
        else:
            result = training_labels(label, fraction=fraction, rng=rng, sparse=annotated_only)
        sparse.append(result)
        available += len(np.unique(label[label > 0]))
        annotated += len(np.unique(result[result > 0]))
    pixels = sum(int((s > 0).sum()) for s in sparse)
    return sparse, {
        "instances": available,
        "annotated_instances": annotated,
        "annotated_pixels": pixels,
    }


def predict_affinities(net: nn.Module, image: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Affinities ``(N, *spatial)`` of a whole image or volume."""
    return predict_whole_image(net, image, divisor=net.divisor, device=device)


def score(labels: np.ndarray, groundtruth: np.ndarray) -> dict[str, float]:
    """VOI split/merge/sum, adapted Rand error, S_DSB@0.5 = TP/(TP+FP+FN) and AP@0.5 =
    TP/(TP+FP) at IoU 0.5 of one segmentation."""
    voi = variation_of_information(labels, groundtruth)
    instance = instance_scores(labels, groundtruth, iou_threshold=0.5)
    return {
        "voi_split": voi.split,
        "voi_merge": voi.merge,
        "voi": voi.split + voi.merge,
        "arand": adapted_rand_error(labels, groundtruth),
        "s_dsb50": instance["s_dsb"],
        "ap50": instance["ap"],
    }


def best_row(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Lowest VOI or highest ``metric`` (e.g. S_DSB@0.5; ties: the faster recipe)."""
    if metric == "voi":
        return min(rows, key=lambda row: (row["voi"], row["seconds_per_image"]))
    return max(rows, key=lambda row: (row[metric], -row["seconds_per_image"]))


def save_checkpoint(path: Path, result: Any, info: Mapping[str, Any]) -> None:
    """The trained networks' weights, the loss history and what the run was."""
    payload: dict[str, Any] = {"history": result.history, "seconds": result.seconds, **info}
    for name in (*NET_NAMES, "cpsn"):
        net = getattr(result, name)
        if net is not None:
            payload[f"{name}_state_dict"] = {k: v.cpu() for k, v in net.state_dict().items()}
    torch.save(payload, path)


def load_checkpoint(spec: AffinitySpec, path: Path) -> tuple[dict[str, nn.Module], dict]:
    """The networks of a ``save_checkpoint`` file (implicit, and explicit if trained)."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    nets = {}
    for name, build in (("implicit", implicit_net), ("explicit", explicit_net)):
        if f"{name}_state_dict" in checkpoint:
            net = build(spec)
            net.load_state_dict(checkpoint[f"{name}_state_dict"])
            nets[name] = net.eval()
    return nets, checkpoint
