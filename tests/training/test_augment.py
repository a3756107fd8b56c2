"""Augmentations: the dihedral transform keeps image and target aligned."""

from __future__ import annotations

import numpy as np
import pytest

from semiseg_zoo.training import random_dihedral, random_intensity


def _asymmetric(shape: tuple[int, int] = (5, 5)) -> np.ndarray:
    return np.arange(shape[0] * shape[1], dtype=np.int64).reshape(shape)


@pytest.mark.parametrize("seed", range(12))
def test_dihedral_keeps_image_and_target_aligned(seed: int) -> None:
    target = _asymmetric()
    image = np.stack([target, 100 + target]).astype(np.float32)
    rng = np.random.default_rng(seed)
    new_image, new_target = random_dihedral(image, target, rng)
    assert new_image.shape == (2, 5, 5)
    assert new_target.shape == (5, 5)
    np.testing.assert_array_equal(new_image[0], new_target)
    np.testing.assert_array_equal(new_image[1], 100 + new_target)
    assert new_image.flags.c_contiguous
    assert new_target.flags.c_contiguous
    assert new_image.dtype == np.float32
    assert new_target.dtype == np.int64
    # A permutation of the pixels.
    np.testing.assert_array_equal(np.sort(new_target.ravel()), target.ravel())


def test_dihedral_reaches_all_eight_transforms() -> None:
    target = _asymmetric((4, 4))
    image = target[None].astype(np.float32)
    rng = np.random.default_rng(0)
    seen = {random_dihedral(image, target, rng)[1].tobytes() for _ in range(200)}
    expected = set()
    for k in range(4):
        rotated = np.rot90(target, k)
        expected.add(np.ascontiguousarray(rotated).tobytes())
        expected.add(np.ascontiguousarray(rotated[:, ::-1]).tobytes())
    assert len(expected) == 8
    assert seen == expected


def test_dihedral_non_square() -> None:
    target = _asymmetric((3, 6))
    image = target[None].astype(np.float32)
    shapes = set()
    for seed in range(20):
        new_image, new_target = random_dihedral(image, target, np.random.default_rng(seed))
        np.testing.assert_array_equal(new_image[0], new_target)
        shapes.add(new_target.shape)
    assert shapes == {(3, 6), (6, 3)}


def test_dihedral_does_not_mutate_and_is_seeded() -> None:
    target = _asymmetric()
    image = target[None].astype(np.float32)
    image_before, target_before = image.copy(), target.copy()
    a = random_dihedral(image, target, np.random.default_rng(5))
    b = random_dihedral(image, target, np.random.default_rng(5))
    np.testing.assert_array_equal(image, image_before)
    np.testing.assert_array_equal(target, target_before)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_intensity_shape_dtype_and_seed() -> None:
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, size=(2, 16, 16)).astype(np.float32)
    before = image.copy()
    outputs = [random_intensity(image, np.random.default_rng(seed)) for seed in range(20)]
    np.testing.assert_array_equal(image, before)
    for out in outputs:
        assert out.shape == (2, 16, 16)
        assert out.dtype == np.float32
        assert np.isfinite(out).all()
    np.testing.assert_array_equal(random_intensity(image, np.random.default_rng(3)), outputs[3])
    assert not np.array_equal(outputs[0], outputs[1])


def test_intensity_accepts_float64_and_negative_values() -> None:
    image = np.linspace(-1, 1, 64).reshape(1, 8, 8)
    for seed in range(20):
        out = random_intensity(image, np.random.default_rng(seed))
        assert out.dtype == np.float32
        assert np.isfinite(out).all()
