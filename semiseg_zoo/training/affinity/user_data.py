"""An affinity (CRAC) spec written from defaults for a user's folders of sparsely annotated 2D
images or 3D volumes, and those folders as a :class:`VolumeSplit`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from semiseg_zoo.spec import AffinitySpec, parse_spec
from semiseg_zoo.training.affinity.volume_data import VolumeSplit
from semiseg_zoo.training.folders import (
    TrainingDataError,
    pair_files,
    raw_input_spec,
    read_labelled,
    split_off_validation,
)
from semiseg_zoo.training.normalize import scale_range_per_channel

#: Steps when neither --steps nor --time-budget is given (about 15 minutes on 2 CPU cores).
DEFAULT_STEPS = {2: 4000, 3: 3000}
OFFSETS = {
    2: [[-1, 0], [0, -1], [-3, 0], [0, -3], [-9, 0], [0, -9], [-27, 0], [0, -27]],
    3: [[-1, 0, 0], [0, -1, 0], [0, 0, -1], [-2, 0, 0], [0, -3, 0], [0, 0, -3], [0, -9, 0],
        [0, 0, -9], [0, -27, 0], [0, 0, -27]],
}  # fmt: skip


@dataclass
class AffinityFolders:
    """Where a user's affinity training data is. The labels annotate only some objects
    (0 = not annotated) unless ``dense``; validation labels always annotate every object."""

    images: Path
    labels: Path
    val_images: Path | None = None
    val_labels: Path | None = None
    dense: bool = False
    val_fraction: float = 0.15


def _read(images: Path, labels: Path, ndim: int | None) -> tuple[list, list, int, int]:
    items = read_labelled(pair_files(images, labels), spatial_dims=ndim)
    ndim = items[0].labels.ndim
    channels = items[0].image.shape[0]
    for item in items:
        if item.labels.ndim != ndim or item.image.shape[0] != channels:
            raise TrainingDataError(
                f"image file {item.image_path} is {item.labels.ndim}D with "
                f"{item.image.shape[0]} channel(s) but the first image is {ndim}D with "
                f"{channels}; give all images in the same form"
            )
    return (
        [scale_range_per_channel(item.image) for item in items],
        [item.labels for item in items],
        ndim,
        channels,
    )


def load_affinity_folders(folders: AffinityFolders, seed: int) -> tuple[VolumeSplit, int, int]:
    """Read and check every file; returns the split, the spatial dimensions and channels.

    Raises
    ------
    TrainingDataError
        If a file is unusable, or sparse labels come without densely labeled validation images.
    """
    images, labels, ndim, channels = _read(folders.images, folders.labels, None)
    if folders.val_images is not None:
        if folders.val_labels is None:
            raise TrainingDataError("--val-images needs --val-labels (their label images)")
        val_images, val_labels, _, val_channels = _read(folders.val_images, folders.val_labels,
                                                        ndim)  # fmt: skip
        if val_channels != channels:
            raise TrainingDataError(
                f"the validation images have {val_channels} channel(s), the training images "
                f"{channels}"
            )
        return VolumeSplit(images, labels, val_images, val_labels, sparse=not folders.dense), \
            ndim, channels  # fmt: skip
    if not folders.dense:
        raise TrainingDataError(
            "the labels annotate only some objects (CRAC's setting), so they cannot score a "
            "segmentation: give --val-images and --val-labels with every object labeled, or "
            "--dense if every object of the training labels is annotated"
        )
    keep, val = split_off_validation(len(images), folders.val_fraction, seed, folders.images)
    split = VolumeSplit(
        [images[i] for i in keep], [labels[i] for i in keep],
        [images[i] for i in val], [labels[i] for i in val], sparse=False,
    )  # fmt: skip
    return split, ndim, channels


def default_affinity_spec(
    name: str,
    *,
    ndim: int,
    channels: int,
    folders: AffinityFolders,
    split: VolumeSplit,
    steps: int,
    seed: int = 0,
) -> AffinitySpec:
    """A CRAC spec from the defaults of the built-in ISBI (2D) and chloroplast (3D) networks."""
    offsets = OFFSETS[ndim]
    smallest = np.min([image.shape[1:] for image in split.train_images], axis=0)
    if ndim == 2:
        side = 192 if smallest.min() >= 192 else 128 if smallest.min() >= 128 else 64
        patch, min_shape, step, halo, tile = [side, side], [128, 128], [8, 8], [48, 48], [512, 512]
        recipes: list[dict[str, Any]] = [
            {"method": "mutex_watershed", "strides": [4, 4], "bias": bias, "min_size": 25}
            for bias in (0.0, -0.2, 0.2)
        ]
        architecture = {"name": "UNet2d", "depth": 4, "base_features": 16}
        metric, method = "voi", "mutex_watershed"
    else:
        side = 128 if smallest[1:].min() >= 128 else 64
        depth = 8 if smallest[0] >= 8 else 4
        patch, min_shape, step = [depth, side, side], [8, 64, 64], [4, 4, 4]
        halo, tile = [2, 24, 24], [8, 256, 256]
        recipes = [
            {"method": "agglomerated_watershed", "threshold": t, "min_size": 100}
            for t in (0.3, 0.5, 0.7)
        ] + [{"method": "mutex_watershed", "strides": [1, 4, 4], "min_size": 100}]
        architecture = {"name": "UNet3d", "depth": 3, "base_features": 8}
        metric, method = "s_dsb50", "agglomerated_watershed"
    supervision = "all objects labeled" if folders.dense else "some objects annotated"
    training: dict[str, Any] = {
        "train": {
            "images": str(folders.images / "*"),
            "labels": str(folders.labels / "*"),
            "sparse": not folders.dense,
        },
        "val_data": {
            "images": str((folders.val_images or folders.images) / "*"),
            "labels": str((folders.val_labels or folders.labels) / "*"),
        },
        "val": f"{len(split.val_images)} image(s) "
        + (f"of {folders.val_images}" if folders.val_images else f"held out of {folders.images}"),
        "data_description": f"{len(split.train_images)} image(s) of {folders.images}, labels "
        f"{folders.labels} ({supervision})",
        "annotated_fraction": None,
        "mode": "crac",
        "embedding_dim": 16,
        "patch_shape": patch,
        "batch_size": 2,
        "steps": steps,
        "learning_rate": 0.0005,
        "weight_decay": 0.00001,
        "seed": seed,
        "metric": metric,
        "postprocessing": recipes,
    }
    letters = "zyx"[3 - ndim :]
    channel_names = [
        f"aff_{letters[[i for i, v in enumerate(o) if v][0]]}{max(abs(v) for v in o)}"
        for o in offsets
    ]
    return parse_spec(
        {
            "version": 1,
            "name": name,
            "kind": "affinity",
            "description": f"{ndim}D U-Net predicting affinities for {len(offsets)} offsets "
            f"(CRAC, {supervision}), trained by semiseg-train on {folders.images}; instances by "
            f"{method.replace('_', ' ')}.",
            "authors": [{"name": "semiseg-train user"}],
            "cite": [
                {
                    "text": "Liu X., Huang W., Zhang Y., Xiong Z. Biomedical Image Segmentation "
                    "with Sparse Instance-Level Supervision via Cross-Representation Affinity "
                    "Consistency (CRAC). CVPR 2024.",
                    "url": "https://arxiv.org/abs/2406.16593",
                }
            ],
            "license": "CC-BY-4.0",
            "tags": [
                "instance-segmentation",
                f"{ndim}d",
                "unet",
                "semiseg-zoo",
                "affinity",
                "crac",
            ],  # fmt: skip
            "architecture": {
                "name": architecture["name"],
                "kwargs": {
                    "in_channels": channels,
                    "out_channels": len(offsets),
                    "depth": architecture["depth"],
                    "base_features": architecture["base_features"],
                    "norm": "batch",
                    "final_activation": "sigmoid",
                },
            },
            "offsets": offsets,
            "input": raw_input_spec("bcyx" if ndim == 2 else "bczyx", channels, min_shape, step),
            "output": {"channel_names": channel_names, "halo": halo, "activation": "sigmoid"},
            "postprocessing": {"method": method},
            "training": training,
            "tile": tile,
        }
    )  # type: ignore[return-value]


__all__ = ["DEFAULT_STEPS", "AffinityFolders", "default_affinity_spec", "load_affinity_folders"]
