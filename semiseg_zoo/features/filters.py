"""The six ilastik pixel filters at one scale, computed with bioimage-cpp.

Conventions (those of vigra / fastfilters, which bioimage-cpp follows):

- Kernels are sampled Gaussians (derivatives) truncated at radius ``ceil((3 + order / 2) * sigma)``
  per axis: ``ceil(3 sigma)`` for smoothing, ``ceil(3.5 sigma)`` for first and ``ceil(4 sigma)``
  for second derivatives. The smoothing kernel sums to 1; derivative kernels are renormalised to
  exact moments (first: ``sum(x k) = -1``; second: ``sum(k) = 0``, ``sum(x^2 k) = 2``), so a ramp
  has gradient exactly its slope and a parabola ``x^2`` second derivative exactly 2.
- Borders are mirrored without repeating the edge pixel (scipy's ``mode="mirror"``, vigra's
  ``BORDER_TREATMENT_REFLECT``), repeatedly where the kernel is longer than the axis, so every
  sigma works on every shape; an axis of length 1 behaves like a constant image along it.
- Eigenvalues come sorted descending (signed values, not magnitudes) in a trailing axis of length
  ``image.ndim``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

import bioimage_cpp.filters as bf
import numpy as np

# ilastik's ratios (lazyflow's OpPixelFeaturesPresmoothed): DoG = G(sigma) - G(0.66 sigma). For the
# structure tensor ilastik passes innerScale=sigma, outerScale=sigma/2 to fastfilters, whose Python
# layer hands them on swapped, so what ilastik computes is inner (gradient) scale sigma/2 and outer
# (averaging) scale sigma; we reproduce what ilastik computes.
DOG_SIGMA_RATIO = 0.66
STRUCTURE_TENSOR_INNER_RATIO = 0.5

# ilastik offers sigma 0.3 for Gaussian smoothing only: at that width a sampled derivative kernel has
# three non-negligible taps and is a plain finite difference ([-1, 0, 1] / 2, [1, -2, 1]) of the
# unsmoothed image rather than a Gaussian derivative.
MIN_DERIVATIVE_SIGMA = 0.7


def _gaussian_smoothing(image: np.ndarray, sigma: float) -> np.ndarray:
    return bf.gaussian_smoothing(image, sigma)[..., None]


def _laplacian_of_gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    return bf.laplacian_of_gaussian(image, sigma)[..., None]


def _gaussian_gradient_magnitude(image: np.ndarray, sigma: float) -> np.ndarray:
    return bf.gaussian_gradient_magnitude(image, sigma)[..., None]


def _difference_of_gaussians(image: np.ndarray, sigma: float) -> np.ndarray:
    wide = bf.gaussian_smoothing(image, sigma)
    wide -= bf.gaussian_smoothing(image, DOG_SIGMA_RATIO * sigma)
    return wide[..., None]


def _structure_tensor_eigenvalues(image: np.ndarray, sigma: float) -> np.ndarray:
    return bf.structure_tensor_eigenvalues(image, STRUCTURE_TENSOR_INNER_RATIO * sigma, sigma)


def _hessian_of_gaussian_eigenvalues(image: np.ndarray, sigma: float) -> np.ndarray:
    return bf.hessian_of_gaussian_eigenvalues(image, sigma)


@dataclass(frozen=True)
class PixelFilter:
    """One named filter: ``apply(image, sigma) -> (*image.shape, k)`` float32.

    ``k`` is 1, or ``image.ndim`` when ``eigenvalues`` is true (descending eigenvalues).
    """

    apply: Callable[[np.ndarray, float], np.ndarray]
    eigenvalues: bool
    min_sigma: float

    def n_channels(self, ndim: int) -> int:
        """Channels this filter contributes per sigma on an ``ndim``-dimensional image."""
        return ndim if self.eigenvalues else 1


# Insertion order is ilastik's feature order and the order of FeatureSet.default().
FILTERS: Mapping[str, PixelFilter] = MappingProxyType(
    {
        "gaussian_smoothing": PixelFilter(_gaussian_smoothing, False, 0.0),
        "laplacian_of_gaussian": PixelFilter(_laplacian_of_gaussian, False, MIN_DERIVATIVE_SIGMA),
        "gaussian_gradient_magnitude": PixelFilter(
            _gaussian_gradient_magnitude, False, MIN_DERIVATIVE_SIGMA
        ),
        "difference_of_gaussians": PixelFilter(
            _difference_of_gaussians, False, MIN_DERIVATIVE_SIGMA
        ),
        "structure_tensor_eigenvalues": PixelFilter(
            _structure_tensor_eigenvalues, True, MIN_DERIVATIVE_SIGMA
        ),
        "hessian_of_gaussian_eigenvalues": PixelFilter(
            _hessian_of_gaussian_eigenvalues, True, MIN_DERIVATIVE_SIGMA
        ),
    }
)
FEATURE_NAMES: tuple[str, ...] = tuple(FILTERS)
