"""An embedding (SPOCO) spec written from defaults for a user's folders, and those folders as
training and validation :class:`InstanceImage` lists."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from semiseg_zoo.spec import EmbeddingSpec, parse_spec
from semiseg_zoo.training.folders import (
    TrainingDataError,
    pair_files,
    raw_input_spec,
    read_labelled,
    split_off_validation,
)
from semiseg_zoo.training.instance_data import InstanceImage
from semiseg_zoo.training.normalize import scale_range_per_channel

#: Steps when neither --steps nor --time-budget is given (about 15 minutes on 2 CPU cores).
DEFAULT_STEPS = 5000
EMBEDDING_DIM = 16


@dataclass
class EmbeddingFolders:
    """Where a user's embedding training data is; ``sparse``: the label images annotate only
    some objects (0 = not annotated, not background)."""

    images: Path
    labels: Path
    sparse: bool = False
    val_images: Path | None = None
    val_labels: Path | None = None
    val_fraction: float = 0.15


def _items(images: Path, labels: Path, sparse: bool, channels: int | None) -> list[InstanceImage]:
    items = []
    for item in read_labelled(pair_files(images, labels), spatial_dims=2):
        if channels is not None and item.image.shape[0] != channels:
            raise TrainingDataError(
                f"image file {item.image_path} has {item.image.shape[0]} channels but the "
                f"first training image has {channels}; all images need the same channels"
            )
        channels = item.image.shape[0]
        items.append(
            InstanceImage(item.name, scale_range_per_channel(item.image), item.labels, sparse)
        )
    return items


def load_embedding_folders(
    folders: EmbeddingFolders, seed: int
) -> tuple[list[InstanceImage], list[InstanceImage], int]:
    """Read and check every file; returns training items, validation items and channels.

    Raises
    ------
    TrainingDataError
        If a file is unusable, or sparse labels come without densely labeled validation images
        (a segmentation cannot be scored against objects nobody annotated).
    """
    train = _items(folders.images, folders.labels, folders.sparse, None)
    channels = train[0].image.shape[0]
    if folders.val_images is not None:
        if folders.val_labels is None:
            raise TrainingDataError("--val-images needs --val-labels (their label images)")
        val = _items(folders.val_images, folders.val_labels, False, channels)
        return train, val, channels
    if folders.sparse:
        raise TrainingDataError(
            "--sparse labels annotate only some objects, so they cannot score a segmentation "
            "(every unannotated object would count as an error): give --val-images and "
            "--val-labels with every object labeled"
        )
    keep, val = split_off_validation(len(train), folders.val_fraction, seed, folders.images)
    return [train[i] for i in keep], [train[i] for i in val], channels


def default_embedding_spec(
    name: str,
    *,
    channels: int,
    folders: EmbeddingFolders,
    n_train: int,
    n_val: int,
    steps: int,
    patch: int = 192,
    seed: int = 0,
) -> EmbeddingSpec:
    """A SPOCO spec from the defaults of the built-in DSB embedding network, for ``folders``."""
    supervision = "sparse annotations" if folders.sparse else "full supervision"
    val_description = (
        f"{n_val} images of {folders.val_images}"
        if folders.val_images
        else f"{n_val} images held out of {folders.images}"
    )
    training: dict[str, Any] = {
        "train": {
            "images": str(folders.images / "*"),
            "labels": str(folders.labels / "*"),
            "sparse": folders.sparse,
        },
        "val_images": 0 if folders.val_images else n_val,
        "val": val_description,
        "data_description": f"{n_train} images of {folders.images} with labels "
        f"{folders.labels} ({supervision})",
        "patch_shape": [patch, patch],
        "batch_size": 4,
        "steps": steps,
        "learning_rate": 0.0005,
        "weight_decay": 0.00001,
        "seed": seed,
        "metric": "ap50",
        "clustering": [
            {"method": "embedding_mws", "bias": bias, "min_size": 15} for bias in (-0.5, -0.25, 0.0)
        ]
        + [{"method": "mean_shift", "min_size": 15}],
    }
    if folders.val_images:
        training["val_data"] = {
            "images": str(folders.val_images / "*"),
            "labels": str(folders.val_labels / "*"),
        }
    return parse_spec(
        {
            "version": 1,
            "name": name,
            "kind": "embedding",
            "description": f"2D U-Net mapping each pixel to a {EMBEDDING_DIM}-dimensional "
            f"embedding (SPOCO, {supervision}), trained by semiseg-train on {folders.images}; "
            "instances by clustering the embeddings.",
            "authors": [{"name": "semiseg-train user"}],
            "cite": [
                {
                    "text": "Wolny A., Yu Q., Pape C., Kreshuk A. Sparse Object-level Supervision "
                    "for Instance Segmentation with Pixel Embeddings. CVPR 2022.",
                    "doi": "10.1109/CVPR52688.2022.00436",
                }
            ],
            "license": "CC-BY-4.0",
            "tags": ["instance-segmentation", "2d", "unet", "semiseg-zoo", "embedding", "spoco"],
            "architecture": {
                "name": "UNet2d",
                "kwargs": {
                    "in_channels": channels,
                    "out_channels": EMBEDDING_DIM,
                    "depth": 4,
                    "base_features": 16,
                    "norm": "batch",
                    "final_activation": "none",
                },
            },
            "input": raw_input_spec("bcyx", channels, [128, 128], [8, 8]),
            "output": {
                "channel_names": [f"e{i:02d}" for i in range(EMBEDDING_DIM)],
                "halo": [48, 48],
                "activation": "none",
            },
            "postprocessing": {"method": "embedding_mws"},
            "training": training,
            "tile": [1024, 1024],
        }
    )  # type: ignore[return-value]


__all__ = [
    "DEFAULT_STEPS",
    "EmbeddingFolders",
    "default_embedding_spec",
    "load_embedding_folders",
]
