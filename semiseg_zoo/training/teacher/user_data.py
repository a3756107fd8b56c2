"""A teacher spec written from defaults for a user's folders, and those folders as
:class:`TeacherData` (validation split, normalisation as the package will apply it)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from semiseg_zoo.spec import TeacherSpec, parse_spec
from semiseg_zoo.training.data import LabelledImage
from semiseg_zoo.training.folders import (
    TrainingDataError,
    pair_files,
    raw_input_spec,
    read_labelled,
    read_unlabeled,
    split_off_validation,
)
from semiseg_zoo.training.normalize import scale_range_per_channel
from semiseg_zoo.training.teacher.modes import TeacherData

TeacherMethod = Literal["supervised", "actis", "inconsistency"]

#: Steps of the supervised baseline and of the ACTIS student when neither --steps nor
#: --time-budget is given: about 15 and 20 minutes on 2 CPU cores with bfloat16 autocast.
DEFAULT_STEPS = 4000
DEFAULT_ACTIS_STEPS = 2000


@dataclass
class TeacherFolders:
    """Where a user's teacher training data is."""

    images: Path
    labels: Path
    unlabeled: Path | None = None
    val_images: Path | None = None
    val_labels: Path | None = None
    val_fraction: float = 0.15


def _normalised(item, channels: int) -> LabelledImage:
    if item.image.shape[0] != channels:
        raise TrainingDataError(
            f"image file {item.image_path} has {item.image.shape[0]} channels but the first "
            f"image has {channels}; all training images need the same channels"
        )
    return LabelledImage(item.name, scale_range_per_channel(item.image), item.labels)


def load_teacher_folders(folders: TeacherFolders, seed: int) -> tuple[TeacherData, int]:
    """Read and check every file, split off validation images (unless given) and normalise.

    Returns
    -------
    data, channels
        The data (tuning happens on the validation images) and the images' channel count.

    Raises
    ------
    TrainingDataError
        If a file is unreadable or unlabeled, shapes disagree or labels are not integers.
    """
    items = read_labelled(pair_files(folders.images, folders.labels), spatial_dims=2)
    channels = items[0].image.shape[0]
    labeled = [_normalised(item, channels) for item in items]
    if folders.val_images is not None:
        if folders.val_labels is None:
            raise TrainingDataError("--val-images needs --val-labels (their label images)")
        val_items = read_labelled(pair_files(folders.val_images, folders.val_labels))
        val = [_normalised(item, channels) for item in val_items]
    else:
        keep, held_out = split_off_validation(
            len(labeled), folders.val_fraction, seed, folders.images
        )
        val = [labeled[i] for i in held_out]
        labeled = [labeled[i] for i in keep]
    unlabeled = []
    if folders.unlabeled is not None:
        for path, image in read_unlabeled(folders.unlabeled):
            if image.ndim == 2:
                image = image[None]
            elif image.shape[-1] == channels and image.shape[0] != channels:
                image = np.moveaxis(image, -1, 0)
            if image.ndim != 3 or image.shape[0] != channels:
                raise TrainingDataError(
                    f"unlabeled image {path} has shape {image.shape}; expected a 2D image with "
                    f"{channels} channel(s) like the labeled images"
                )
            unlabeled.append(scale_range_per_channel(image))
    name = "the validation images" if folders.val_images else "validation images split off"
    return TeacherData(labeled, unlabeled, val, val, f"= {name}"), channels


def smallest_side(data: TeacherData) -> int:
    """The smallest image side among the training images (the patch must fit)."""
    return min(min(item.image.shape[1:]) for item in data.labeled)


def default_teacher_spec(
    name: str,
    *,
    channels: int,
    method: TeacherMethod,
    folders: TeacherFolders,
    steps: int,
    actis_steps: int,
    patch: int = 128,
    seed: int = 0,
) -> TeacherSpec:
    """A teacher spec from the defaults of the built-in nuclei teacher, for ``folders``.

    ``semiseg-train teacher --write-spec`` prints it; an edited copy is used with ``--spec``.
    """
    description = (
        f"3-class U-Net (background, interior, boundary) trained by semiseg-train ({method}) on "
        f"{folders.images}; instances by seeded watershed."
    )
    training: dict[str, Any] = {
        "mode": method,
        "train": str(folders.images),
        "val": str(folders.val_images or f"held out of {folders.images}"),
        "data_description": f"images {folders.images}, labels {folders.labels}"
        + (f", unlabeled images {folders.unlabeled}" if folders.unlabeled else ""),
        "patch_shape": [patch, patch],
        "batch_size": 8,
        "steps": steps,
        "learning_rate": 0.002,
        "weight_decay": 0.001,
        "class_weights": [1.0, 1.0, 4.0],
        "validate_every": max(1, min(500, steps // 10)),
        "seed": seed,
        "seed_thresholds": [0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        "foreground_thresholds": [0.3, 0.4, 0.5, 0.6, 0.7],
    }
    if folders.unlabeled:
        training["unlabeled"] = str(folders.unlabeled)
    if method == "actis":
        training["actis"] = {
            "steps": actis_steps,
            "labeled_per_batch": 4,
            "unlabeled_per_batch": 8,
            "validate_every": max(1, min(250, actis_steps // 10)),
            "keep": "best",
        }
    if method == "inconsistency":
        training["inconsistency"] = {"generations": 2}
    return parse_spec(
        {
            "version": 1,
            "name": name,
            "kind": "teacher",
            "description": description,
            "authors": [{"name": "semiseg-train user"}],
            "cite": [
                {
                    "text": "Rumberger J. L. et al. ACTIS: Improving data efficiency by "
                    "leveraging semi-supervised Augmentation Consistency Training for Instance "
                    "Segmentation. ICCV Workshops 2023.",
                    "doi": "10.1109/ICCVW60793.2023.00413",
                }
            ],
            "license": "CC-BY-4.0",
            "tags": ["instance-segmentation", "2d", "unet", "semiseg-zoo", "teacher"],
            "architecture": {
                "name": "UNet2d",
                "kwargs": {
                    "in_channels": channels,
                    "out_channels": 3,
                    "depth": 4,
                    "base_features": 16,
                    "norm": "batch",
                    "final_activation": "softmax",
                },
            },
            "input": raw_input_spec("bcyx", channels, [128, 128], [8, 8]),
            "output": {
                "channel_names": ["background", "interior", "boundary"],
                "halo": [48, 48],
                "activation": "softmax",
            },
            "postprocessing": {
                "method": "watershed",
                "seed_threshold": 0.6,
                "foreground_threshold": 0.5,
                "min_size": 15,
            },
            "training": training,
            "tile": [512, 512],
        }
    )  # type: ignore[return-value]


__all__ = [
    "DEFAULT_ACTIS_STEPS",
    "DEFAULT_STEPS",
    "TeacherFolders",
    "default_teacher_spec",
    "load_teacher_folders",
    "smallest_side",
]
