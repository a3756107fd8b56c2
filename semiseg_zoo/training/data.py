"""Datasets of (image, label) pairs for supervised training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
import torch

from semiseg_zoo.training.augment import random_dihedral, random_intensity, strong_intensity
from semiseg_zoo.training.normalize import scale_range
from semiseg_zoo.training.step_batches import PatchSampler
from semiseg_zoo.training.targets import three_class_targets


@dataclass
class LabelledImage:
    """A normalised image ``(C, Y, X)`` float32 with its instance labels ``(Y, X)``."""

    name: str
    image: np.ndarray
    labels: np.ndarray


def read_normalised_tif(
    path: Path, *, min_percentile: float = 1.0, max_percentile: float = 99.8
) -> np.ndarray:
    """A 2D tif as a normalised ``(1, Y, X)`` float32 image (colour: the mean intensity)."""
    image = tifffile.imread(path)
    if image.ndim == 3:  # colour: train on the mean intensity
        image = image.mean(axis=-1)
    return scale_range(image, min_percentile=min_percentile, max_percentile=max_percentile)[None]


def load_image_label_folder(
    folder: Path, *, min_percentile: float = 1.0, max_percentile: float = 99.8
) -> list[LabelledImage]:
    """Load ``folder/images/*.tif`` with ``folder/labels/<same name>`` (2D, single channel)."""
    image_dir, label_dir = folder / "images", folder / "labels"
    if not image_dir.is_dir() or not label_dir.is_dir():
        raise FileNotFoundError(f"{folder} must contain `images/` and `labels/` folders")
    items = []
    for image_path in sorted(image_dir.glob("*.tif")):
        label_path = label_dir / image_path.name
        if not label_path.is_file():
            raise FileNotFoundError(f"no labels for {image_path}: expected {label_path}")
        image = read_normalised_tif(
            image_path, min_percentile=min_percentile, max_percentile=max_percentile
        )
        labels = tifffile.imread(label_path)
        if image.shape[1:] != labels.shape:
            raise ValueError(
                f"{label_path} has shape {labels.shape} but its image {image_path} has "
                f"{image.shape[1:]}; labels must match their image"
            )
        items.append(LabelledImage(image_path.stem, image, labels.astype(np.int64)))
    if not items:
        raise FileNotFoundError(f"no *.tif images in {image_dir}")
    return items


def random_window(
    image: np.ndarray,
    target: np.ndarray | None,
    patch_shape: tuple[int, ...],
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray | None]:
    """A random ``patch_shape`` window of ``image (C, ...)`` and, if given, ``target (...)``.

    Smaller images are reflect-padded at the end; padded target pixels are background (0).
    """
    pads = [max(0, p - s) for p, s in zip(patch_shape, image.shape[1:], strict=True)]
    if any(pads):
        image = np.pad(image, [(0, 0)] + [(0, p) for p in pads], mode="reflect")
        if target is not None:
            target = np.pad(target, [(0, p) for p in pads])
    starts = [
        int(rng.integers(s - p + 1)) for s, p in zip(image.shape[1:], patch_shape, strict=True)
    ]
    window = tuple(slice(s, s + p) for s, p in zip(starts, patch_shape, strict=True))
    return image[(slice(None), *window)], None if target is None else target[window]


class RandomPatchDataset(PatchSampler):
    """Endless stream of augmented random patches with 3-class targets.

    Images smaller than the patch are reflect-padded; the padding is labelled background.
    """

    def __init__(
        self,
        items: list[LabelledImage],
        patch_shape: tuple[int, int],
        *,
        seed: int = 0,
        augment: bool = True,
        strong: bool = False,
    ) -> None:
        self._setup(
            [item.image for item in items],
            [three_class_targets(item.labels) for item in items],
            patch_shape,
            seed=seed,
            augment=augment,
            strong=strong,
        )

    @classmethod
    def from_targets(
        cls,
        images: list[np.ndarray],
        targets: list[np.ndarray],
        patch_shape: tuple[int, int],
        *,
        seed: int = 0,
        augment: bool = True,
        strong: bool = False,
        intensity: bool = True,
    ) -> RandomPatchDataset:
        """Patches of ``images (C, Y, X)`` with ready class ``targets (Y, X)`` (e.g. pseudo-labels
        that contain an ignore class). ``intensity=False`` keeps the geometric augmentation only
        (for inputs that are probabilities, not intensities)."""
        dataset = cls.__new__(cls)
        dataset._setup(
            images, targets, patch_shape, seed=seed, augment=augment, strong=strong,
            intensity=intensity,
        )  # fmt: skip
        return dataset

    def _setup(
        self,
        images: list[np.ndarray],
        targets: list[np.ndarray],
        patch_shape: tuple[int, int],
        *,
        seed: int,
        augment: bool,
        strong: bool,
        intensity: bool = True,
    ) -> None:
        if not images:
            raise ValueError("no images to sample patches from")
        self.images = images
        self.targets = targets
        self.patch_shape = patch_shape
        self.seed = seed
        self.augment = augment
        self.strong = strong
        self.intensity = intensity
        # Larger images are sampled more often, proportional to their area.
        areas = np.array([target.size for target in targets], dtype=float)
        self.probabilities = areas / areas.sum()

    def _patch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        index = int(rng.choice(len(self.images), p=self.probabilities))
        image, target = self.images[index], self.targets[index]
        image, target = random_window(image, target, self.patch_shape, rng)
        if self.augment:
            image, target = random_dihedral(image, target, rng)
            if self.strong:
                image = strong_intensity(image, rng)
            elif self.intensity:
                image = random_intensity(image, rng)
        return image, target

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One augmented ``(image (C, Y, X), target (Y, X))`` patch drawn with ``rng``."""
        image, target = self._patch(rng)
        return torch.from_numpy(image.copy()), torch.from_numpy(target.astype(np.int64))


class UnlabeledPatchDataset(PatchSampler):
    """Endless stream of random, un-augmented patches ``(C, Y, X)`` of unlabeled images.

    Images smaller than the patch are reflect-padded.
    """

    def __init__(
        self, images: list[np.ndarray], patch_shape: tuple[int, int], *, seed: int = 0
    ) -> None:
        if not images:
            raise ValueError("no unlabeled images to sample patches from")
        self.images = images
        self.patch_shape = patch_shape
        self.seed = seed
        areas = np.array([image[0].size for image in images], dtype=float)
        self.probabilities = areas / areas.sum()

    stream = 1

    def sample(self, rng: np.random.Generator) -> torch.Tensor:
        """One random patch ``(C, Y, X)`` drawn with ``rng``."""
        image = self.images[int(rng.choice(len(self.images), p=self.probabilities))]
        patch, _ = random_window(image, None, self.patch_shape, rng)
        return torch.from_numpy(np.ascontiguousarray(patch))
