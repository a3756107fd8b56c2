"""Data augmentation on numpy arrays (2D, channel-first images ``(C, Y, X)``)."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter


def random_dihedral(
    image: np.ndarray, target: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the same random flip / 90° rotation to ``image (C, Y, X)`` and ``target (Y, X)``."""
    k = int(rng.integers(4))
    image, target = np.rot90(image, k, axes=(-2, -1)), np.rot90(target, k, axes=(-2, -1))
    if rng.random() < 0.5:
        image, target = image[..., ::-1], target[..., ::-1]
    return np.ascontiguousarray(image), np.ascontiguousarray(target)


def random_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random contrast/brightness, gamma, Gaussian blur and additive Gaussian noise."""
    image = image * rng.uniform(0.7, 1.3) + rng.uniform(-0.15, 0.15)
    if rng.random() < 0.3:
        gamma = rng.uniform(0.7, 1.5)
        image = np.sign(image) * np.abs(image) ** gamma
    if rng.random() < 0.2:
        sigma = rng.uniform(0.3, 1.2)
        image = np.stack([gaussian_filter(channel, sigma) for channel in image])
    if rng.random() < 0.3:
        image = image + rng.normal(0.0, rng.uniform(0.01, 0.08), size=image.shape)
    return image.astype(np.float32)


def strong_intensity(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """ACTIS' strong intensity perturbation ``f_color ∘ f_jitter ∘ f_blur ∘ f_noise``.

    For grey-value microscopy: contrast/brightness change (always), gamma jitter and per-channel
    brightness jitter, Gaussian blur (half of the samples) and additive Gaussian noise (always,
    random strength). Stronger than :func:`random_intensity`.
    """
    image = image * rng.uniform(0.5, 1.5) + rng.uniform(-0.3, 0.3)
    gamma = rng.uniform(0.6, 1.6)
    image = np.sign(image) * np.abs(image) ** gamma
    image = image + rng.uniform(-0.1, 0.1, size=(image.shape[0],) + (1,) * (image.ndim - 1))
    if rng.random() < 0.5:
        sigma = rng.uniform(0.5, 1.5)
        image = np.stack([gaussian_filter(channel, sigma) for channel in image])
    image = image + rng.normal(0.0, rng.uniform(0.0, 0.1), size=image.shape)
    return image.astype(np.float32)
