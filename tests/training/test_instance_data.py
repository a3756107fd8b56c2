"""Sparse object sampling (SPOCO@p), label loading and patches for embedding training."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PIL import Image

from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training.instance_data import (
    UNLABELED,
    InstancePatchDataset,
    load_instance_images,
    object_ids,
    training_labels,
)


@pytest.fixture(scope="module")
def nuclei_labels() -> np.ndarray:
    _, labels = synthetic_nuclei((256, 256), n_objects=60, seed=3)
    return labels.astype(np.int64)


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.8, 1.0])
def test_sparse_sampling_never_labels_background_and_respects_p(nuclei_labels, fraction):
    n_objects = len(object_ids(nuclei_labels))
    sparse = training_labels(nuclei_labels, fraction=fraction, rng=np.random.default_rng(0))
    assert not (sparse == 0).any()  # background is never labeled
    assert (sparse[nuclei_labels == 0] == UNLABELED).all()
    kept = object_ids(sparse)
    assert len(kept) == max(1, round(fraction * n_objects))
    for object_id in object_ids(nuclei_labels):
        region = sparse[nuclei_labels == object_id]
        # Every object is labeled completely or not at all, with its own id.
        assert (region == object_id).all() or (region == UNLABELED).all()


def test_sparse_sampling_is_seeded_and_varies_with_the_seed(nuclei_labels):
    draw = [
        set(object_ids(training_labels(nuclei_labels, fraction=0.4, rng=np.random.default_rng(s))))
        for s in (0, 0, 1)
    ]
    assert draw[0] == draw[1] != draw[2]


def test_fraction_keeps_at_least_one_object():
    labels = np.zeros((8, 8), dtype=np.int64)
    labels[2:4, 2:4] = 5
    sparse = training_labels(labels, fraction=0.1, rng=np.random.default_rng(0))
    assert object_ids(sparse).tolist() == [5]


def test_full_supervision_labels_background_as_an_object(nuclei_labels):
    full = training_labels(nuclei_labels, fraction=None, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(full, nuclei_labels)


def test_real_sparse_annotations_leave_unannotated_pixels_unlabeled():
    labels = np.array([[0, 1, 1], [0, 0, 2]])
    result = training_labels(labels, fraction=None, rng=np.random.default_rng(0), sparse=True)
    assert result.tolist() == [[-1, 1, 1], [-1, -1, 2]]


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.1])
def test_bad_fraction_is_rejected(fraction):
    with pytest.raises(ValueError, match=r"fraction p must be in \(0, 1\]"):
        training_labels(np.ones((2, 2), int), fraction=fraction, rng=np.random.default_rng(0))


def test_patches_pad_with_unlabeled_and_keep_object_ids():
    image = np.random.default_rng(0).random((1, 20, 20)).astype(np.float32)
    labels = np.full((20, 20), UNLABELED)
    labels[5:10, 5:10] = 3
    patches = iter(InstancePatchDataset([image], [labels], (32, 32), seed=0))
    patch, patch_labels = next(patches)
    assert tuple(patch.shape) == (1, 32, 32) and tuple(patch_labels.shape) == (32, 32)
    assert set(np.unique(patch_labels.numpy())) == {UNLABELED, 3}
    assert int((patch_labels == 3).sum()) == 25


def test_load_instance_images_pairs_rgba_png_with_palette_labels(tmp_path):
    rgba = np.zeros((40, 30, 4), dtype=np.uint8)
    rgba[..., 1] = np.arange(30, dtype=np.uint8)[None] * 8
    rgba[..., 3] = 255
    labels = np.zeros((40, 30), dtype=np.uint8)
    labels[5:15, 5:15] = 7
    for name in ("plant001", "plant002"):
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"{name}_rgb.png")
        palette_image = Image.fromarray(labels, "P")
        palette_image.putpalette([0, 0, 0] + [255, 0, 0] * 255)
        palette_image.save(tmp_path / f"{name}_label.png")
    items = load_instance_images(tmp_path, "*_rgb.png", "*_label.png", channels=3, n_spatial=2)
    assert [item.name for item in items] == ["plant001_rgb", "plant002_rgb"]
    assert items[0].image.shape == (3, 40, 30)
    assert set(np.unique(items[0].labels)) == {0, 7}  # palette indices, not colours
    assert items[0].image[1].max() == pytest.approx(1.0, abs=0.01)  # scale_range per channel


def test_load_instance_images_errors_name_the_problem(tmp_path):
    tifffile.imwrite(tmp_path / "a_image.tif", np.zeros((10, 10), np.uint8))
    tifffile.imwrite(tmp_path / "a_label.tif", np.zeros((12, 10), np.uint16))
    with pytest.raises(ValueError, match="labels must match their image"):
        load_instance_images(tmp_path, "*_image.tif", "*_label.tif", channels=1, n_spatial=2)
    with pytest.raises(FileNotFoundError, match="no files match"):
        load_instance_images(tmp_path, "*.png", "*_label.tif", channels=1, n_spatial=2)
    tifffile.imwrite(tmp_path / "b_image.tif", np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="each image needs exactly one label file"):
        load_instance_images(tmp_path, "*_image.tif", "*_label.tif", channels=1, n_spatial=2)


def test_load_instance_images_reads_3d_stacks(tmp_path):
    tifffile.imwrite(tmp_path / "vol_raw.tif", np.random.default_rng(0).random((6, 16, 16)))
    labels = np.zeros((6, 16, 16), np.uint16)
    labels[1:4, 2:8, 2:8] = 1
    tifffile.imwrite(tmp_path / "vol_labels.tif", labels)
    (item,) = load_instance_images(tmp_path, "*_raw.tif", "*_labels.tif", channels=1, n_spatial=3)
    assert item.image.shape == (1, 6, 16, 16) and item.labels.shape == (6, 16, 16)
