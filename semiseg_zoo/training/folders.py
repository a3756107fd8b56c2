"""Users' training folders: images and label images matched by name, every file checked before
any training starts (readable, a label image for every image, the same shape, integer labels).

Every problem is a :class:`TrainingDataError` whose one-line message names the file and says
what to do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from semiseg_zoo.io import ImageReadError, is_supported, read_image


class TrainingDataError(ValueError):
    """A training folder or file is unusable; the message names it and says what to do."""


@dataclass
class LabelledArray:
    """One image ``(C, [Z,] Y, X)`` float32 (not normalised) and its label image ``([Z,] Y, X)``
    int64 (0 = background)."""

    name: str
    image: np.ndarray
    labels: np.ndarray
    image_path: Path
    label_path: Path


def image_files(folder: Path, what: str = "images") -> list[Path]:
    """The readable image files of ``folder`` (sorted; zarr folders count as files).

    Raises
    ------
    TrainingDataError
        If the folder does not exist or holds no image files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainingDataError(f"{what} folder {folder} does not exist or is not a folder")
    files = sorted(
        path for path in folder.iterdir() if not path.name.startswith(".") and is_supported(path)
    )
    if not files:
        raise TrainingDataError(
            f"{what} folder {folder} holds no image files (tif, png, jpg, npy, h5, zarr)"
        )
    return files


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".ome.tif", ".ome.tiff", ".ome.zarr"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def pair_files(images: Path, labels: Path) -> list[tuple[Path, Path]]:
    """Match every image of ``images`` with the label image of the same name in ``labels``.

    The names may differ in extension (``a.png`` and ``a.tif``) and the label name may end in
    ``_labels``, ``_label``, ``_mask`` or ``_masks``.

    Raises
    ------
    TrainingDataError
        If an image has no label image, or a name is ambiguous.
    """
    label_by_name: dict[str, Path] = {}
    for path in image_files(labels, "labels"):
        stem = _stem(path)
        for suffix in ("_labels", "_label", "_masks", "_mask"):
            if stem.endswith(suffix):
                stem = stem[: -len(suffix)]
                break
        if stem in label_by_name:
            raise TrainingDataError(
                f"{path} and {label_by_name[stem]} are both label images of {stem!r}; keep one"
            )
        label_by_name[stem] = path
    pairs, missing = [], []
    for path in image_files(images):
        label = label_by_name.get(_stem(path))
        if label is None:
            missing.append(path)
        else:
            pairs.append((path, label))
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise TrainingDataError(
            f"{missing[0]}{more} has no label image in {labels} (expected a file named "
            f"{_stem(missing[0])}.tif or similar); label every image or move it to --unlabeled"
        )
    return pairs


def _read(path: Path, what: str) -> np.ndarray:
    try:
        return read_image(path, palette_indices=what == "labels").data
    except (ImageReadError, FileNotFoundError, OSError, ValueError) as error:
        raise TrainingDataError(f"{what} file {path} cannot be read: {error}") from None


def integer_labels(labels: np.ndarray, path: Path) -> np.ndarray:
    """``labels`` as int64, refusing non-integer values and negative ids."""
    if labels.dtype == bool:
        return labels.astype(np.int64)
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.issubdtype(labels.dtype, np.floating) or not np.all(
            np.isfinite(labels) & (labels == np.round(labels))
        ):
            raise TrainingDataError(
                f"labels file {path} holds {labels.dtype} values that are not whole numbers; "
                "a label image stores one integer id per object (0 = background)"
            )
    if labels.size and labels.min() < 0:
        raise TrainingDataError(
            f"labels file {path} has negative ids ({int(labels.min())}); use 0 for background "
            "and 1, 2, ... for objects"
        )
    return labels.astype(np.int64)


def as_channels(image: np.ndarray, spatial_shape: tuple[int, ...], path: Path) -> np.ndarray:
    """``image`` as ``(C, *spatial_shape)``: a leading or trailing extra axis is channels."""
    if image.shape == spatial_shape:
        return image[None]
    if image.ndim == len(spatial_shape) + 1:
        if image.shape[1:] == spatial_shape:
            return image
        if image.shape[:-1] == spatial_shape:
            return np.moveaxis(image, -1, 0)
    raise TrainingDataError(
        f"image file {path} has shape {image.shape} but its label image has {spatial_shape}; "
        "an image and its labels must cover the same pixels"
    )


def read_labelled(
    pairs: Sequence[tuple[Path, Path]], *, spatial_dims: int | None = 2
) -> list[LabelledArray]:
    """Read and check every pair (all files before any training).

    Parameters
    ----------
    spatial_dims:
        2 or 3: the label images must have that many axes; ``None``: any of 2 or 3.
    """
    items = []
    for image_path, label_path in pairs:
        labels = integer_labels(np.squeeze(_read(label_path, "labels")), label_path)
        if labels.ndim not in ((spatial_dims,) if spatial_dims else (2, 3)):
            expected = f"{spatial_dims}D" if spatial_dims else "2D or 3D"
            raise TrainingDataError(
                f"labels file {label_path} has shape {labels.shape}; expected {expected} labels"
            )
        image = as_channels(_read(image_path, "image"), labels.shape, image_path)
        if not np.issubdtype(image.dtype, np.number) or np.issubdtype(
            image.dtype, np.complexfloating
        ):
            raise TrainingDataError(f"image file {image_path} has dtype {image.dtype}, not numbers")
        image = image.astype(np.float32)
        if not np.all(np.isfinite(image)):
            raise TrainingDataError(
                f"image file {image_path} has NaN or infinite pixels; fix or remove them"
            )
        items.append(LabelledArray(_stem(image_path), image, labels, image_path, label_path))
    return items


def read_unlabeled(folder: Path) -> list[tuple[Path, np.ndarray]]:
    """Every image of ``folder`` (checked to be readable and finite)."""
    images = []
    for path in image_files(folder, "unlabeled images"):
        image = _read(path, "image").astype(np.float32)
        if not np.all(np.isfinite(image)):
            raise TrainingDataError(f"image file {path} has NaN or infinite pixels")
        images.append((path, image))
    return images


__all__ = [
    "LabelledArray",
    "TrainingDataError",
    "as_channels",
    "image_files",
    "integer_labels",
    "pair_files",
    "read_labelled",
    "read_unlabeled",
]


def split_off_validation(
    n_items: int, fraction: float, seed: int, folder: Path
) -> tuple[list[int], list[int]]:
    """Indices ``(training, validation)``: a seeded ``fraction`` (at least one) held out.

    Raises
    ------
    TrainingDataError
        If there is only one item (nothing would remain to train on).
    """
    if n_items < 2:
        raise TrainingDataError(
            f"{folder} has 1 labeled image; give at least 2 (one is held out for validation) "
            "or pass --val-images/--val-labels"
        )
    n_val = max(1, int(round(fraction * n_items)))
    held_out = set(np.random.default_rng([seed, 17]).permutation(n_items)[:n_val].tolist())
    keep = [i for i in range(n_items) if i not in held_out]
    return keep, sorted(held_out)


def raw_input_spec(
    axes: str, channels: int, min_shape: list[int], step: list[int]
) -> dict[str, object]:
    """The ``input`` block of a spec for raw images normalised by ``scale_range`` (1-99.8 %),
    as the folders' images are here and as the package will do it."""
    return {
        "axes": axes,
        "channels": channels,
        "data_range": [0, 255],
        "preprocessing": {"name": "scale_range", "min_percentile": 1.0, "max_percentile": 99.8},
        "min_shape": min_shape,
        "step": step,
    }
