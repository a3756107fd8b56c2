"""Image/label folders and the random patch stream."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    load_image_label_folder,
    scale_range,
    three_class_targets,
)

SHAPES = {"a": (48, 64), "b": (40, 40)}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """``images/`` + ``labels/`` with two synthetic nuclei images of different sizes."""
    root = tmp_path / "train"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for seed, (name, shape) in enumerate(SHAPES.items()):
        image, labels = synthetic_nuclei(shape, n_objects=4, seed=seed)
        tifffile.imwrite(root / "images" / f"{name}.tif", image)
        tifffile.imwrite(root / "labels" / f"{name}.tif", labels)
    return root


def test_load_folder(folder: Path) -> None:
    items = load_image_label_folder(folder)
    assert [item.name for item in items] == ["a", "b"]
    for item, (seed, shape) in zip(items, enumerate(SHAPES.values()), strict=True):
        image, labels = synthetic_nuclei(shape, n_objects=4, seed=seed)
        assert item.image.shape == (1, *shape)
        assert item.image.dtype == np.float32
        np.testing.assert_allclose(item.image[0], scale_range(image), rtol=1e-6)
        assert item.labels.dtype == np.int64
        np.testing.assert_array_equal(item.labels, labels)


def test_load_folder_percentiles(folder: Path) -> None:
    items = load_image_label_folder(folder, min_percentile=0, max_percentile=100)
    for item in items:
        assert item.image.min() == 0.0
        assert item.image.max() == pytest.approx(1.0, abs=1e-6)


def test_colour_images_are_averaged(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[..., 0] = np.arange(16, dtype=np.uint8)[None] * 3
    rgb[..., 1] = 30
    tifffile.imwrite(tmp_path / "images" / "c.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "labels" / "c.tif", np.ones((16, 16), dtype=np.uint16))
    (item,) = load_image_label_folder(tmp_path)
    assert item.image.shape == (1, 16, 16)
    np.testing.assert_allclose(item.image[0], scale_range(rgb.mean(axis=-1)), rtol=1e-6)


def test_missing_labels_raise(folder: Path) -> None:
    (folder / "labels" / "b.tif").unlink()
    with pytest.raises(FileNotFoundError, match=r"no labels for .*b\.tif: expected .*labels"):
        load_image_label_folder(folder)


@pytest.mark.parametrize("missing", ["images", "labels"])
def test_missing_folder_raises(tmp_path: Path, missing: str) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / missing).rmdir()
    with pytest.raises(FileNotFoundError, match="must contain `images/` and `labels/` folders"):
        load_image_label_folder(tmp_path)


def test_no_images_raise(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    (tmp_path / "images" / "notes.txt").write_text("not an image")
    with pytest.raises(FileNotFoundError, match=r"no \*\.tif images in"):
        load_image_label_folder(tmp_path)


# --------------------------------------------------------------------------- RandomPatchDataset


@pytest.fixture
def items(folder: Path) -> list[LabelledImage]:
    return load_image_label_folder(folder)


@pytest.mark.parametrize("augment", [True, False])
def test_patches(items: list[LabelledImage], augment: bool) -> None:
    dataset = RandomPatchDataset(items, (32, 32), seed=0, augment=augment)
    classes = set()
    for image, target in itertools.islice(iter(dataset), 12):
        assert isinstance(image, torch.Tensor)
        assert image.shape == (1, 32, 32)
        assert image.dtype == torch.float32
        assert target.shape == (32, 32)
        assert target.dtype == torch.int64
        classes |= set(torch.unique(target).tolist())
    assert classes == {0, 1, 2}


def test_sampling_probabilities(items: list[LabelledImage]) -> None:
    dataset = RandomPatchDataset(items, (16, 16))
    np.testing.assert_allclose(dataset.probabilities, [3072 / 4672, 1600 / 4672])


def test_targets_are_three_class(items: list[LabelledImage]) -> None:
    dataset = RandomPatchDataset(items, (16, 16))
    for item, target in zip(items, dataset.targets, strict=True):
        np.testing.assert_array_equal(target, three_class_targets(item.labels))


def test_whole_image_patch_without_augmentation(items: list[LabelledImage]) -> None:
    item = items[1]  # 40 x 40
    dataset = RandomPatchDataset([item], (40, 40), augment=False)
    image, target = next(iter(dataset))
    np.testing.assert_array_equal(image.numpy(), item.image)
    np.testing.assert_array_equal(target.numpy(), three_class_targets(item.labels))


def test_padding_when_image_smaller_than_patch(items: list[LabelledImage]) -> None:
    item = items[0]  # 48 x 64
    dataset = RandomPatchDataset([item], (56, 56), augment=False)
    for image, target in itertools.islice(iter(dataset), 3):
        image, target = image.numpy(), target.numpy()
        assert image.shape == (1, 56, 56)
        assert target.shape == (56, 56)
        # Rows 48..55 are padding: labelled background, image reflected at the last row.
        assert (target[48:] == 0).all()
        np.testing.assert_array_equal(image[0, 48], image[0, 46])
        np.testing.assert_array_equal(image[0, 55], image[0, 39])
        # The rest is a crop of the original image.
        x0 = _find_column_offset(item.image[0, :48], image[0, :48])
        np.testing.assert_array_equal(image[0, :48], item.image[0, :48, x0 : x0 + 56])
        np.testing.assert_array_equal(
            target[:48], three_class_targets(item.labels)[:, x0 : x0 + 56]
        )


def _find_column_offset(full: np.ndarray, crop: np.ndarray) -> int:
    for x0 in range(full.shape[1] - crop.shape[1] + 1):
        if np.array_equal(full[:, x0 : x0 + crop.shape[1]], crop):
            return x0
    raise AssertionError("the patch is not a crop of the image")


def test_padding_in_both_axes(items: list[LabelledImage]) -> None:
    item = items[1]  # 40 x 40
    dataset = RandomPatchDataset([item], (64, 48), augment=False)
    image, target = next(iter(dataset))
    assert image.shape == (1, 64, 48)
    assert (target[40:].numpy() == 0).all()
    assert (target[:, 40:].numpy() == 0).all()
    np.testing.assert_array_equal(image[0, :40, :40].numpy(), item.image[0])


def test_same_seed_same_stream(items: list[LabelledImage]) -> None:
    def take(seed: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return list(itertools.islice(iter(RandomPatchDataset(items, (24, 24), seed=seed)), 4))

    first, again, other = take(0), take(0), take(1)
    for (a_image, a_target), (b_image, b_target) in zip(first, again, strict=True):
        torch.testing.assert_close(a_image, b_image, rtol=0, atol=0)
        torch.testing.assert_close(a_target, b_target, rtol=0, atol=0)
    assert not all(torch.equal(a, b) for (a, _), (b, _) in zip(first, other, strict=True))


def test_dataloader_batches(items: list[LabelledImage]) -> None:
    loader = torch.utils.data.DataLoader(
        RandomPatchDataset(items, (32, 32), seed=2), batch_size=4, num_workers=0
    )
    image, target = next(iter(loader))
    assert image.shape == (4, 1, 32, 32)
    assert target.shape == (4, 32, 32)
    assert set(torch.unique(target).tolist()) <= {0, 1, 2}


def test_items_not_mutated(items: list[LabelledImage]) -> None:
    images = [item.image.copy() for item in items]
    labels = [item.labels.copy() for item in items]
    dataset = RandomPatchDataset(items, (32, 32), seed=0)
    for _ in itertools.islice(iter(dataset), 10):
        pass
    for item, image, label in zip(items, images, labels, strict=True):
        np.testing.assert_array_equal(item.image, image)
        np.testing.assert_array_equal(item.labels, label)


def test_label_shape_mismatch_raises(folder: Path) -> None:
    tifffile.imwrite(folder / "labels" / "b.tif", np.zeros((40, 41), dtype=np.uint16))
    with pytest.raises(ValueError, match=r"b\.tif"):
        load_image_label_folder(folder)
