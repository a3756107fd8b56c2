"""Float64 scipy/scikit-image references for the six features, with bioimage-cpp's conventions.

The kernels are written out here (sampled Gaussian derivatives, radius ``ceil((3 + order/2) s)``,
renormalised to exact moments) and applied separably with ``scipy.ndimage.convolve1d`` and
``mode="mirror"``; eigenvalues come from scikit-image. Where this reproduces the conventions
exactly, only float32 rounding separates it from bioimage-cpp.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.ndimage as ndi
from skimage.feature import hessian_matrix_eigvals, structure_tensor_eigenvalues


def kernel(sigma: float, order: int) -> np.ndarray:
    """1D Gaussian (derivative) kernel normalised like vigra: sum 1; sum(x k) = -1; sum(x^2 k) = 2."""
    radius = math.ceil((3 + 0.5 * order) * sigma)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    gauss = np.exp(-0.5 * (x / sigma) ** 2)
    if order == 0:
        return gauss / gauss.sum()
    if order == 1:
        weights = -x * gauss
        return weights / -(weights * x).sum()
    weights = (x**2 / sigma**2 - 1.0) * gauss
    weights -= weights.mean()
    return weights / ((weights * x**2).sum() / 2.0)


def derivative(image: np.ndarray, sigma: float, orders: tuple[int, ...]) -> np.ndarray:
    """Separable Gaussian derivative of ``orders`` (one per axis), mirrored borders."""
    result = image.astype(np.float64)
    for axis, order in enumerate(orders):
        result = ndi.convolve1d(result, kernel(sigma, order), axis=axis, mode="mirror")
    return result


def _unit(ndim: int, *axes: int) -> tuple[int, ...]:
    return tuple(sum(axis == a for a in axes) for axis in range(ndim))


def _pairs(ndim: int) -> list[tuple[int, int]]:
    # scikit-image's upper-triangle order: (0, 0), (0, 1), ..., (ndim - 1, ndim - 1).
    return list(itertools.combinations_with_replacement(range(ndim), 2))


def reference_feature(image: np.ndarray, name: str, sigma: float) -> np.ndarray:
    """``(*image.shape, k)`` float64 reference for one feature at one scale."""
    ndim = image.ndim
    if name == "gaussian_smoothing":
        result = derivative(image, sigma, _unit(ndim))
    elif name == "difference_of_gaussians":
        result = derivative(image, sigma, _unit(ndim)) - derivative(
            image, 0.66 * sigma, _unit(ndim)
        )
    elif name == "laplacian_of_gaussian":
        result = sum(derivative(image, sigma, _unit(ndim, a, a)) for a in range(ndim))
    elif name == "gaussian_gradient_magnitude":
        result = np.sqrt(sum(derivative(image, sigma, _unit(ndim, a)) ** 2 for a in range(ndim)))
    elif name == "hessian_of_gaussian_eigenvalues":
        hessian = [derivative(image, sigma, _unit(ndim, a, b)) for a, b in _pairs(ndim)]
        return np.moveaxis(hessian_matrix_eigvals(hessian), 0, -1)
    elif name == "structure_tensor_eigenvalues":
        gradient = [derivative(image, sigma / 2, _unit(ndim, a)) for a in range(ndim)]
        tensor = [
            derivative(gradient[a] * gradient[b], sigma, _unit(ndim)) for a, b in _pairs(ndim)
        ]
        return np.moveaxis(structure_tensor_eigenvalues(tensor), 0, -1)
    else:
        raise ValueError(f"no reference for {name!r}")
    return result[..., None]
