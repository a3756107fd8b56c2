"""Densely labeled source images for shallow2deep enhancer training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tifffile
from skimage.measure import label
from skimage.segmentation import find_boundaries

from semiseg_zoo.spec import SourceData
from semiseg_zoo.training.folders import pair_files, read_labelled
from semiseg_zoo.training.normalize import scale_range


@dataclass
class SourceImage:
    """One 2D source image: intensities scaled to [0, 1] and its binary target (the class the
    enhancer predicts), plus the instance labels the target came from (for validation)."""

    name: str
    image: np.ndarray
    target: np.ndarray
    instances: np.ndarray


def binary_target(labels: np.ndarray, source: SourceData) -> np.ndarray:
    """The enhancer's target class from a label image, as ``source`` describes it (bool)."""
    if source.boundaries_of_instances:
        return find_boundaries(labels, mode="inner", connectivity=1)
    return labels != 0 if source.positive == "nonzero" else labels == 0


def instances_of(labels: np.ndarray, source: SourceData) -> np.ndarray:
    """Instance labels to evaluate against: the labels themselves when they are instances,
    else the connected components of the non-boundary (``zero``) or foreground pixels."""
    if source.positive == "zero":
        return label(labels != 0, connectivity=1).astype(np.uint32)
    if labels.max() <= 1:
        return label(labels != 0, connectivity=1).astype(np.uint32)
    return labels.astype(np.uint32)


def _gray(image: np.ndarray, path: Path) -> np.ndarray:
    if image.ndim == 3 and image.shape[-1] in (3, 4):
        return image[..., :3].mean(axis=-1)
    if image.ndim != 2:
        raise ValueError(f"{path}: expected a 2D image (or RGB), got shape {image.shape}")
    return image


def _from_folders(images: Path, labels: Path, source: SourceData) -> list[SourceImage]:
    """Images and label images matched by name (any readable format), all checked first."""
    items = read_labelled(pair_files(images, labels), spatial_dims=2)
    return [
        SourceImage(
            item.name,
            scale_range(item.image.mean(axis=0)),
            binary_target(item.labels, source),
            instances_of(item.labels, source),
        )
        for item in items
    ]


def load_source_images(source: SourceData, root: Path) -> list[SourceImage]:
    """Read a stack (``raw`` + ``labels`` tifs, slice by slice), two folders of images and
    label images matched by name (``raw`` + ``labels`` folders) or an ``images/``+``labels/``
    folder (``raw`` only) below ``root``.

    Raises
    ------
    FileNotFoundError
        Naming the missing file or folder.
    ValueError
        If a label image does not match its image.
    """
    raw_path = root / source.raw
    if source.labels is not None and (root / source.labels).is_dir():
        return _from_folders(raw_path, root / source.labels, source)
    if source.labels is not None:
        label_path = root / source.labels
        for path in (raw_path, label_path):
            if not path.is_file():
                raise FileNotFoundError(f"source file {path} does not exist (data root {root})")
        raw, labels = tifffile.imread(raw_path), tifffile.imread(label_path)
        if raw.shape != labels.shape:
            raise ValueError(f"{label_path} has shape {labels.shape}, {raw_path} {raw.shape}")
        if raw.ndim == 2:
            raw, labels = raw[None], labels[None]
        pairs = [
            (f"{raw_path.stem}_z{z:03d}", r, lab)
            for z, (r, lab) in enumerate(zip(raw, labels, strict=False))
        ]
    else:
        image_dir, label_dir = raw_path / "images", raw_path / "labels"
        if not image_dir.is_dir() or not label_dir.is_dir():
            raise FileNotFoundError(f"{raw_path} must contain `images/` and `labels/` folders")
        pairs = []
        for image_path in sorted(image_dir.glob("*.tif")):
            lab_path = label_dir / image_path.name
            if not lab_path.is_file():
                raise FileNotFoundError(f"no labels for {image_path}: expected {lab_path}")
            image = _gray(tifffile.imread(image_path), image_path)
            labels = tifffile.imread(lab_path)
            if labels.shape != image.shape:
                raise ValueError(f"{lab_path} has shape {labels.shape}, its image {image.shape}")
            pairs.append((image_path.stem, image, labels))
        if not pairs:
            raise FileNotFoundError(f"no *.tif images in {image_dir}")
    return [
        SourceImage(
            name,
            scale_range(image.astype(np.float32)),
            binary_target(labels, source),
            instances_of(labels, source),
        )
        for name, image, labels in pairs
    ]
