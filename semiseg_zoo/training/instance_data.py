"""Instance-labeled images for embedding training: loading, sparse object sampling, patches.

Training labels use one convention: ``-1`` = unlabeled (the loss does not know what is there),
``0`` = background (labeled only under full supervision), ``> 0`` = labeled objects.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from semiseg_zoo.io import read_image
from semiseg_zoo.training.augment import random_dihedral
from semiseg_zoo.training.data import random_window
from semiseg_zoo.training.normalize import scale_range_per_channel
from semiseg_zoo.training.step_batches import PatchSampler

UNLABELED = -1


@dataclass
class InstanceImage:
    """A normalised image ``(C, [Z,] Y, X)`` float32 and its dense instance labels ``([Z,] Y, X)``
    (0 = background), or sparse ones (``sparse``: 0 = not annotated)."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    sparse: bool = False


def read_labels(path: Path) -> np.ndarray:
    """Instance labels from any supported file; palette PNGs keep their indices (CVPPP)."""
    return np.asarray(read_image(path, palette_indices=True).data).astype(np.int64)


def read_channels(path: Path, channels: int, n_spatial: int) -> np.ndarray:
    """An image as float32 ``(C, *spatial)`` with ``channels`` channels (RGBA → RGB)."""
    data = np.asarray(read_image(path).data, dtype=np.float32)
    if data.ndim == n_spatial:
        data = data[None]
    elif data.ndim == n_spatial + 1 and data.shape[-1] in (3, 4) and data.shape[0] > 4:
        data = np.moveaxis(data, -1, 0)  # channels last (colour PNG/TIFF)
    if data.ndim != n_spatial + 1:
        raise ValueError(
            f"{path}: shape {data.shape} is not a {n_spatial}D image with or without channels"
        )
    if data.shape[0] == 4 and channels == 3:
        data = data[:3]  # drop alpha
    if channels == 1 and data.shape[0] in (3, 4):
        data = data[:3].mean(axis=0, keepdims=True)
    if data.shape[0] != channels:
        raise ValueError(f"{path}: has {data.shape[0]} channels, the model expects {channels}")
    return data


def matching_files(root: Path, pattern: str) -> list[Path]:
    """Files matching the glob ``pattern`` below ``root``, sorted; an error names the pattern."""
    files = sorted(Path(p) for p in glob.glob(str(root / pattern)))
    if not files:
        raise FileNotFoundError(f"no files match {root / pattern}")
    return files


def load_instance_images(
    root: Path,
    images: str,
    labels: str,
    *,
    channels: int,
    n_spatial: int,
    sparse: bool = False,
    min_percentile: float = 1.0,
    max_percentile: float = 99.8,
) -> list[InstanceImage]:
    """Images and labels matched by two globs below ``root``, paired in sorted order.

    Parameters
    ----------
    root:
        Data root.
    images, labels:
        Glob patterns, e.g. ``cvppp_a1/*_rgb.png`` and ``cvppp_a1/*_label.png``.
    channels, n_spatial:
        What the model expects.
    sparse:
        The labels annotate only some objects (0 = not annotated, not background).
    min_percentile, max_percentile:
        The model's ``scale_range`` normalisation.
    """
    image_files = matching_files(root, images)
    label_files = matching_files(root, labels)
    if len(image_files) != len(label_files):
        raise ValueError(
            f"{len(image_files)} files match {images!r} but {len(label_files)} match {labels!r}; "
            "each image needs exactly one label file (they are paired in sorted order)"
        )
    items = []
    for image_file, label_file in zip(image_files, label_files, strict=True):
        image = read_channels(image_file, channels, n_spatial)
        label_image = read_labels(label_file)
        if label_image.shape != image.shape[1:]:
            raise ValueError(
                f"{label_file} has shape {label_image.shape} but {image_file} has "
                f"{image.shape[1:]}; labels must match their image"
            )
        image = scale_range_per_channel(image, min_percentile, max_percentile)
        items.append(InstanceImage(image_file.stem, image, label_image, sparse))
    return items


def object_ids(labels: np.ndarray) -> np.ndarray:
    """The instance ids (> 0) of a label image."""
    ids = np.unique(labels)
    return ids[ids > 0]


def training_labels(
    labels: np.ndarray,
    *,
    fraction: float | None,
    rng: np.random.Generator,
    sparse: bool = False,
) -> np.ndarray:
    """Labels as the loss sees them (``-1`` unlabeled, ``0`` background, ``> 0`` objects).

    Parameters
    ----------
    labels:
        Instance labels (0 = background, or 0 = not annotated if ``sparse``).
    fraction:
        SPOCO@p: keep a random fraction ``p`` of the objects (at least one if the image has any)
        and mark everything else, background included, unlabeled. ``None``: full supervision
        (background is labeled as an object of its own) unless ``sparse``.
    rng:
        Draws the kept objects (seed it for reproducible subsets).
    sparse:
        Real sparse annotations: only the annotated objects are labeled, never the background;
        ``fraction`` then subsamples the annotated objects.
    """
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise ValueError(f"the object fraction p must be in (0, 1], got {fraction}")
    result = labels.astype(np.int64, copy=True)
    if fraction is None and not sparse:
        return result
    ids = object_ids(labels)
    if fraction is not None and len(ids):
        n_keep = max(1, int(round(fraction * len(ids))))
        ids = rng.choice(ids, size=n_keep, replace=False)
    result[~np.isin(labels, ids)] = UNLABELED
    return result


class InstancePatchDataset(PatchSampler):
    """Endless random patches ``(image, labels)`` with random flips/90° rotations in YX.

    ``labels`` follow the training convention (``-1`` unlabeled); padding of images smaller than
    the patch is unlabeled.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        labels: list[np.ndarray],
        patch_shape: tuple[int, ...],
        *,
        seed: int = 0,
    ) -> None:
        if not images:
            raise ValueError("no images to sample patches from")
        self.images, self.labels = images, labels
        self.patch_shape = tuple(patch_shape)
        self.seed = seed
        areas = np.array([label.size for label in labels], dtype=float)
        self.probabilities = areas / areas.sum()

    stream = 2

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``(image, labels)`` patch drawn with ``rng``."""
        index = int(rng.choice(len(self.images), p=self.probabilities))
        # Shift by one so that padding (0) becomes -1 = unlabeled, then shift back.
        image, shifted = random_window(
            self.images[index], self.labels[index] + 1, self.patch_shape, rng
        )
        image, shifted = random_dihedral(image, shifted, rng)
        return torch.from_numpy(image), torch.from_numpy(shifted - 1)
