"""Synthetic nuclei with hand-made pixel features for the shallow tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from semiseg_zoo.synthetic import synthetic_nuclei


@dataclass(frozen=True)
class NucleiSample:
    """A synthetic image's features ``(Y, X, 3)`` and its semantic ground truth ``(Y, X)``."""

    features: np.ndarray
    gt: np.ndarray


def hand_made_features(image: np.ndarray) -> np.ndarray:
    """Raw intensity in [0, 1] and two Gaussian-smoothed copies, channels last (float32)."""
    raw = image.astype(np.float32) / 255
    return np.stack([raw, ndimage.gaussian_filter(raw, 1.0), ndimage.gaussian_filter(raw, 2.5)], -1)


def nuclei_sample(seed: int) -> NucleiSample:
    image, instances = synthetic_nuclei((128, 128), seed=seed)
    return NucleiSample(hand_made_features(image), (instances > 0).astype(np.uint8))
