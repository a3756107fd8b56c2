"""Synthetic fluorescence-nuclei images and their labels."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.synthetic import synthetic_nuclei


@pytest.fixture(scope="module")
def sample() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_nuclei((128, 96), n_objects=20, seed=7)


def test_dtypes_and_shapes(sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = sample
    assert image.dtype == np.uint8
    assert labels.dtype == np.uint16
    assert image.shape == labels.shape == (128, 96)


def test_labels_are_consecutive(sample: tuple[np.ndarray, np.ndarray]) -> None:
    _, labels = sample
    ids = np.unique(labels)
    np.testing.assert_array_equal(ids, np.arange(labels.max() + 1))
    assert 2 <= labels.max() <= 20


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_objects_do_not_touch(seed: int) -> None:
    _, labels = synthetic_nuclei((96, 96), n_objects=40, radius=(4.0, 10.0), seed=seed)
    assert labels.max() >= 5
    for a, b in [(labels[1:, :], labels[:-1, :]), (labels[:, 1:], labels[:, :-1])]:
        different_objects = (a != b) & (a > 0) & (b > 0)
        assert not different_objects.any()


def test_each_object_is_one_component(sample: tuple[np.ndarray, np.ndarray]) -> None:
    from scipy.ndimage import label

    _, labels = sample
    for object_id in range(1, int(labels.max()) + 1):
        _, n = label(labels == object_id)
        assert n == 1


def test_objects_are_brighter_than_background(sample: tuple[np.ndarray, np.ndarray]) -> None:
    image, labels = sample
    assert image[labels > 0].mean() > image[labels == 0].mean() + 50
    # Background is about 0.08 * 255 = 20.
    assert 10 < np.median(image[labels == 0]) < 35


def test_object_sizes_follow_radius() -> None:
    _, labels = synthetic_nuclei((128, 128), n_objects=10, radius=(6.0, 6.0), seed=0)
    sizes = np.bincount(labels.ravel())[1:]
    assert len(sizes) >= 3
    # A disc of radius 6 has about pi * 36 = 113 pixels (fewer where cut by the border).
    assert sizes.max() <= 125
    assert np.median(sizes) > 90


def test_seed_reproducibility() -> None:
    a_image, a_labels = synthetic_nuclei((64, 64), seed=11)
    b_image, b_labels = synthetic_nuclei((64, 64), seed=11)
    np.testing.assert_array_equal(a_image, b_image)
    np.testing.assert_array_equal(a_labels, b_labels)
    c_image, _ = synthetic_nuclei((64, 64), seed=12)
    assert not np.array_equal(a_image, c_image)


def test_default_number_of_objects() -> None:
    # One attempt per 40^2 pixels: at most 160 * 160 / 1600 = 16 objects.
    _, labels = synthetic_nuclei((160, 160), seed=0)
    assert 1 <= labels.max() <= 16
    _, small = synthetic_nuclei((16, 16), radius=(3.0, 4.0), seed=0)
    assert small.max() == 1


def test_zero_objects() -> None:
    image, labels = synthetic_nuclei((32, 32), n_objects=0, seed=0)
    assert labels.max() == 0
    assert image.shape == (32, 32)


@pytest.mark.parametrize("shape", [(15, 64), (64, 8), (24, 64), (64,), (32, 32, 3)])
def test_bad_shape_raises(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"`shape` must be \(Y, X\) with both sides > 2 \* radius"):
        synthetic_nuclei(shape)  # type: ignore[arg-type]
