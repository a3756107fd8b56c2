"""EM stacks and volumes with instance labels for affinity training: loading, the train /
validation split, sparse instance annotation and patches around the annotations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from skimage.measure import label as connected_components

from semiseg_zoo.io import read_image
from semiseg_zoo.training.affinity.targets import UNANNOTATED
from semiseg_zoo.training.augment import random_dihedral
from semiseg_zoo.training.normalize import scale_range_per_channel
from semiseg_zoo.training.step_batches import PatchSampler


@dataclass
class VolumeSplit:
    """Normalised float32 images ``(C, [Z,] Y, X)`` and instance labels (int64, ids unique
    within each list, 0 = background; training labels 0 = not annotated if ``sparse``) of the
    training and validation parts."""

    train_images: list[np.ndarray]
    train_labels: list[np.ndarray]
    val_images: list[np.ndarray]
    val_labels: list[np.ndarray]
    #: The training labels annotate only some objects (0 = not annotated, not background).
    sparse: bool = False


def instances_per_slice(labels: np.ndarray, *, interior: bool) -> np.ndarray:
    """Per-slice instance ids of a ``(Z, Y, X)`` stack, unique over the stack.

    ``interior``: the labels are a mask of cell interior (nonzero) and instances are its
    4-connected components in each slice; otherwise the ids are kept and made unique per slice.
    """
    result = np.zeros(labels.shape, dtype=np.int64)
    next_id = 0
    for z, layer in enumerate(labels):
        ids = (
            connected_components(layer > 0, connectivity=1) if interior else layer.astype(np.int64)
        )
        values, inverse = np.unique(ids, return_inverse=True)
        dense = inverse.reshape(layer.shape).astype(np.int64)
        if values[0] != 0:
            dense += 1  # no background in this slice: ids start at 1
        result[z] = np.where(dense > 0, dense + next_id, 0)
        next_id = int(result[z].max(initial=next_id))
    return result


def _split(array: np.ndarray, axis: int, at: int) -> tuple[np.ndarray, np.ndarray]:
    index = [slice(None)] * array.ndim
    index[axis] = slice(0, at)
    train = array[tuple(index)]
    index[axis] = slice(at, None)
    return train, array[tuple(index)]


def load_volume_split(
    root: Path,
    raw: str,
    labels: str,
    *,
    labels_are: str,
    split_axis: int,
    split_at: int,
    n_spatial: int,
    val_crop: list[int] | None = None,
    min_percentile: float = 1.0,
    max_percentile: float = 99.8,
) -> VolumeSplit:
    """Read a ``(Z, Y, X)`` stack and its labels and split them for a 2D or 3D network.

    Parameters
    ----------
    root:
        Data root; ``raw`` and ``labels`` are relative to it.
    labels_are:
        ``instances`` or ``interior_components`` (see :func:`instances_per_slice`).
    split_axis, split_at:
        Training = ``[0, split_at)`` along ``split_axis``, validation = the rest.
    n_spatial:
        2: slices are separate images (instances per slice); 3: one volume (3D instances).
    val_crop:
        Keep only this leading crop of each validation image (spatial shape).
    min_percentile, max_percentile:
        ``scale_range`` per image (slice or volume), as the package's preprocessing.
    """
    raw_path, label_path = root / raw, root / labels
    volume = np.asarray(read_image(raw_path).data, dtype=np.float32)
    label_volume = np.asarray(read_image(label_path).data)
    if volume.ndim != 3 or label_volume.shape != volume.shape:
        raise ValueError(
            f"{raw_path} {volume.shape} and {label_path} {label_volume.shape} must be (Z, Y, X) "
            "stacks of the same shape"
        )
    if not 0 < split_at < volume.shape[split_axis]:
        raise ValueError(
            f"`split_at` {split_at} must lie inside axis {split_axis} of {volume.shape}"
        )
    interior = labels_are == "interior_components"
    if n_spatial == 2 or interior:
        label_volume = instances_per_slice(label_volume, interior=interior)
    else:
        label_volume = label_volume.astype(np.int64)
    parts = [_split(volume, split_axis, split_at), _split(label_volume, split_axis, split_at)]
    (train_raw, val_raw), (train_labels, val_labels) = parts
    if val_crop is not None:
        crop = tuple(slice(0, c) for c in val_crop)
        if n_spatial == 2:
            crop = (slice(None), *crop)
        val_raw, val_labels = val_raw[crop], val_labels[crop]

    def items(images: np.ndarray, ids: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if n_spatial == 3:
            images, ids = images[None], ids[None]
        normalised = [
            scale_range_per_channel(image[None], min_percentile, max_percentile) for image in images
        ]
        return normalised, list(ids)

    train_images, train_ids = items(train_raw, train_labels)
    val_images, val_ids = items(val_raw, val_labels)
    return VolumeSplit(train_images, train_ids, val_images, val_ids)


class SparseInstancePatchDataset(PatchSampler):
    """Endless random patches ``(image, labels)`` of sparsely annotated images, with random
    flips / 90° rotations in YX.

    ``labels`` use ``-1`` for the unannotated region (padding too). With probability
    ``annotated_probability`` a patch is centred on a random annotated pixel, so that few
    annotations still reach most batches.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        labels: list[np.ndarray],
        patch_shape: tuple[int, ...],
        *,
        annotated_probability: float = 0.5,
        seed: int = 0,
    ) -> None:
        if not images:
            raise ValueError("no images to sample patches from")
        self.images, self.labels = images, labels
        self.patch_shape = tuple(patch_shape)
        self.annotated_probability = annotated_probability
        self.seed = seed
        self.annotated = [np.flatnonzero(label != UNANNOTATED) for label in labels]
        areas = np.array([label.size for label in labels], dtype=float)
        self.probabilities = areas / areas.sum()

    def _start(self, index: int, shape: tuple[int, ...], rng: np.random.Generator) -> list[int]:
        annotated = self.annotated[index]
        if len(annotated) and rng.random() < self.annotated_probability:
            centre = np.unravel_index(int(rng.choice(annotated)), shape)
            return [
                int(np.clip(c - p // 2, 0, max(s - p, 0)))
                for c, p, s in zip(centre, self.patch_shape, shape, strict=True)
            ]
        return [
            int(rng.integers(max(s - p, 0) + 1))
            for s, p in zip(shape, self.patch_shape, strict=True)
        ]

    stream = 7

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """One ``(image, labels)`` patch drawn with ``rng``."""
        index = int(rng.choice(len(self.images), p=self.probabilities))
        image, label = self.images[index], self.labels[index]
        start = self._start(index, label.shape, rng)
        window = tuple(slice(s, s + p) for s, p in zip(start, self.patch_shape, strict=True))
        image, label = image[(slice(None), *window)], label[window]
        pads = [p - s for p, s in zip(self.patch_shape, label.shape, strict=True)]
        if any(pads):
            image = np.pad(image, [(0, 0)] + [(0, p) for p in pads], mode="reflect")
            label = np.pad(label, [(0, p) for p in pads], constant_values=UNANNOTATED)
        image, label = random_dihedral(image, label, rng)
        return torch.from_numpy(image), torch.from_numpy(label)
