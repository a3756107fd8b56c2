"""Random patches of images with soft (probability) targets, e.g. shallow2deep pseudo-labels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from semiseg_zoo.training.augment import random_dihedral, random_intensity
from semiseg_zoo.training.data import random_window
from semiseg_zoo.training.step_batches import PatchSampler


class SoftPatchDataset(PatchSampler):
    """Endless stream of augmented random patches of ``images`` with their soft ``targets``.

    Each patch is a random window (images are drawn in proportion to their area; smaller images
    are reflect-padded at the end, their padded target pixels are 0), with the same random
    flip / 90° rotation on image and target and, if ``augment``, a random intensity change on the
    image only. Unlike :class:`~semiseg_zoo.training.data.RandomPatchDataset` the targets stay
    float32 probabilities.

    Parameters
    ----------
    images:
        Normalised images ``(C, Y, X)``, float32.
    targets:
        Soft targets ``(Y, X)`` in [0, 1], one per image, with its spatial shape.
    patch_shape:
        ``(Y, X)`` of the patches.
    seed:
        Seed of the patch sampling and augmentation (combined with the DataLoader worker id).
    augment:
        Apply the flips/rotations and intensity changes; False gives plain windows.

    Raises
    ------
    ValueError
        If no images are given, counts or shapes differ, or a target leaves [0, 1].

    Examples
    --------
    >>> images = [np.zeros((1, 8, 8), np.float32)]
    >>> targets = [np.full((8, 8), 0.25, np.float32)]
    >>> image, target = next(iter(SoftPatchDataset(images, targets, (4, 4), seed=0)))
    >>> tuple(image.shape), tuple(target.shape), target.dtype, float(target.max())
    ((1, 4, 4), (4, 4), torch.float32, 0.25)
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        targets: Sequence[np.ndarray],
        patch_shape: tuple[int, int],
        *,
        seed: int = 0,
        augment: bool = True,
    ) -> None:
        _check(images, targets, patch_shape)
        self.images = [np.asarray(image, dtype=np.float32) for image in images]
        self.targets = [np.asarray(target, dtype=np.float32) for target in targets]
        self.patch_shape = tuple(patch_shape)
        self.seed = seed
        self.augment = augment
        areas = np.array([target.size for target in self.targets], dtype=float)
        self.probabilities = areas / areas.sum()

    def patch(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One random (augmented) ``(image (C, Y, X), target (Y, X))`` pair drawn with ``rng``."""
        index = int(rng.choice(len(self.images), p=self.probabilities))
        image, target = random_window(
            self.images[index], self.targets[index], self.patch_shape, rng
        )
        if self.augment:
            image, target = random_dihedral(image, target, rng)
            image = random_intensity(image, rng)
        return np.ascontiguousarray(image, dtype=np.float32), np.ascontiguousarray(target)

    stream = 2

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``(image, target)`` pair of tensors drawn with ``rng``."""
        image, target = self.patch(rng)
        return torch.from_numpy(image), torch.from_numpy(target)


def _check(
    images: Sequence[np.ndarray], targets: Sequence[np.ndarray], patch_shape: tuple[int, int]
) -> None:
    if not images:
        raise ValueError("`images` is empty; pass at least one image to sample patches from")
    if len(images) != len(targets):
        raise ValueError(
            f"got {len(images)} images but {len(targets)} targets; pass one target per image"
        )
    if len(patch_shape) != 2 or min(patch_shape) < 1:
        raise ValueError(f"`patch_shape` must be (Y, X) with positive sizes, got {patch_shape}")
    for i, (image, target) in enumerate(zip(images, targets, strict=True)):
        if np.ndim(image) != 3 or np.shape(image)[1:] != np.shape(target):
            raise ValueError(
                f"image {i} has shape {np.shape(image)} and its target {np.shape(target)}; "
                "expected an image (C, Y, X) and a target (Y, X) of the same Y, X"
            )
        low, high = float(np.min(target)), float(np.max(target))
        # Written so that NaN fails too.
        if not (low >= 0 and high <= 1):
            raise ValueError(
                f"target {i} holds values in [{low:.3g}, {high:.3g}]; soft targets must be "
                "probabilities in [0, 1]"
            )
