"""The six features against scipy / scikit-image and against hand-computed values.

Three levels:

1. ``reference.py`` (scipy ``convolve1d`` with kernels written out in bioimage-cpp's conventions,
   scikit-image eigenvalues) over the whole image, borders included: only float32 rounding
   differs, so the tolerance is 1e-6 absolute (rounding of sums of inputs in [0, 1], which
   dominates for the small differences of Gaussians) or 1e-5 of the largest response (observed
   <= 3e-6), whichever is larger; 1e-4 of it for 3D eigenvalues (bioimage-cpp's float32
   closed-form 3x3 eigensolver; observed <= 3e-5).
2. scipy / scikit-image functions as they come, with truncation and border mode matched. Gaussian
   smoothing and DoG are then identical (tolerance 1e-6, float32 rounding of values in [0, 1]).
   The derivative features differ in discretisation, so 5e-3 of the largest response (observed
   <= 2.2e-3 at sigma 1.0 and 1.6): scipy samples the Gaussian derivative without renormalising
   it (its second-derivative kernel does not sum to 0, and moments are off by ~1e-3) and uses one
   truncation radius for the smoothing and derivative axes; scikit-image's Hessian chains two
   first derivatives at sigma / sqrt(2) and mirrors the even gradient image at the border, so it
   is compared only away from the border.
3. Polynomials whose derivatives are known exactly, away from the border.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.ndimage as ndi
from skimage.feature import hessian_matrix, hessian_matrix_eigvals, structure_tensor_eigenvalues
from skimage.filters import difference_of_gaussians, gaussian

from semiseg_zoo.features import FEATURE_NAMES, FeatureSet, compute_features

from .reference import reference_feature

DERIVATIVE_FEATURES = FEATURE_NAMES[1:]
EIGENVALUE_FEATURES = ("structure_tensor_eigenvalues", "hessian_of_gaussian_eigenvalues")


def single(image: np.ndarray, name: str, sigma: float) -> np.ndarray:
    return compute_features(image, FeatureSet((name,), (sigma,)))


def assert_close_to_max(
    actual: np.ndarray, expected: np.ndarray, fraction: float, floor: float = 0.0
) -> None:
    scale = float(np.abs(expected).max())
    np.testing.assert_allclose(actual, expected, rtol=0, atol=max(floor, fraction * scale))


def radius(sigma: float, order: int) -> int:
    return math.ceil((3 + 0.5 * order) * sigma)


# --- 1. exact conventions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sigma"),
    [("gaussian_smoothing", s) for s in (0.3, 1.6, 10.0)]
    + [(name, s) for name in DERIVATIVE_FEATURES for s in (0.7, 1.6, 5.0)],
)
def test_matches_reference_conventions(image: np.ndarray, name: str, sigma: float) -> None:
    # sigma 10 / 5 kernels are longer than the 16-slice axis: repeated mirroring, still equal.
    fraction = 1e-4 if name in EIGENVALUE_FEATURES and image.ndim == 3 else 1e-5
    expected = reference_feature(image, name, sigma)
    assert_close_to_max(single(image, name, sigma), expected, fraction, floor=1e-6)


# --- 2. scipy / scikit-image as they come --------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 1.0, 1.6, 5.0])
def test_gaussian_smoothing_equals_skimage(image: np.ndarray, sigma: float) -> None:
    # skimage/scipy truncate at int(truncate * sigma + 0.5) pixels; bioimage-cpp at ceil(3 sigma).
    expected = gaussian(
        image.astype(float),
        sigma,
        mode="mirror",
        truncate=radius(sigma, 0) / sigma,
        preserve_range=True,
    )
    np.testing.assert_allclose(
        single(image, "gaussian_smoothing", sigma)[..., 0], expected, atol=1e-6
    )


@pytest.mark.parametrize("sigma", [1.0, 1.6])
def test_difference_of_gaussians_equals_skimage(image: np.ndarray, sigma: float) -> None:
    # ilastik's DoG is G(sigma) - G(0.66 sigma), the negative of skimage's G(low) - G(high). One
    # truncate serves both Gaussians in skimage, so pick one that gives both of our radii.
    low = 0.66 * sigma
    truncate = next(
        t
        for t in np.arange(2.5, 4.5, 0.01)
        if all(int(t * s + 0.5) == radius(s, 0) for s in (sigma, low))
    )
    expected = -difference_of_gaussians(
        image.astype(float), low, sigma, mode="mirror", truncate=truncate
    )
    ours = single(image, "difference_of_gaussians", sigma)[..., 0]
    np.testing.assert_allclose(ours, expected, atol=1e-6)


@pytest.mark.parametrize("sigma", [1.0, 1.6])
def test_laplacian_of_gaussian_close_to_scipy(image: np.ndarray, sigma: float) -> None:
    expected = ndi.gaussian_laplace(
        image.astype(float), sigma, mode="mirror", truncate=radius(sigma, 2) / sigma
    )
    assert_close_to_max(single(image, "laplacian_of_gaussian", sigma)[..., 0], expected, 5e-3)


@pytest.mark.parametrize("sigma", [1.0, 1.6])
def test_gradient_magnitude_close_to_scipy(image: np.ndarray, sigma: float) -> None:
    expected = ndi.gaussian_gradient_magnitude(
        image.astype(float), sigma, mode="mirror", truncate=radius(sigma, 1) / sigma
    )
    ours = single(image, "gaussian_gradient_magnitude", sigma)[..., 0]
    assert_close_to_max(ours, expected, 5e-3)


@pytest.mark.parametrize("shape", [(64, 64), (40, 48, 48)])
def test_hessian_eigenvalues_close_to_skimage(shape: tuple[int, ...]) -> None:
    image = np.random.default_rng(2).random(shape).astype(np.float32)
    sigma = 1.6  # skimage truncates at 100 sigma for sigma <= 1: no interior left at this size
    elements = hessian_matrix(
        image.astype(float), sigma, mode="mirror", use_gaussian_derivatives=True
    )
    expected = np.moveaxis(hessian_matrix_eigvals(elements), 0, -1)
    border = int(8 * sigma / math.sqrt(2) + 0.5)  # radius of skimage's second pass
    inner = tuple(slice(border, -border) for _ in shape)
    ours = single(image, "hessian_of_gaussian_eigenvalues", sigma)
    assert_close_to_max(ours[inner], expected[inner], 5e-3)


@pytest.mark.parametrize("sigma", [1.6, 3.5])
def test_structure_tensor_eigenvalues_close_to_scipy_and_skimage(
    image: np.ndarray, sigma: float
) -> None:
    # skimage.feature.structure_tensor takes Sobel gradients (no inner scale), so the tensor is
    # built from scipy Gaussian derivatives at sigma / 2 and skimage smoothing at sigma.
    ndim, inner = image.ndim, sigma / 2
    gradient = []
    for axis in range(ndim):
        order = [int(a == axis) for a in range(ndim)]
        radii = [radius(inner, o) for o in order]
        gradient.append(
            ndi.gaussian_filter(
                image.astype(float), inner, order=order, mode="mirror", radius=radii
            )
        )
    tensor = [
        gaussian(
            gradient[a] * gradient[b],
            sigma,
            mode="mirror",
            truncate=radius(sigma, 0) / sigma,
            preserve_range=True,
        )
        for a, b in itertools.combinations_with_replacement(range(ndim), 2)
    ]
    expected = np.moveaxis(structure_tensor_eigenvalues(tensor), 0, -1)
    assert_close_to_max(single(image, "structure_tensor_eigenvalues", sigma), expected, 5e-3)


# --- 3. exact values on polynomials --------------------------------------------------------

# float32 spacing at |values| <= 768 is 6e-5; second-derivative kernels have an L1 norm of up to
# ~8 at sigma 0.7, so sums of such values are exact to about 5e-4.
POLYNOMIAL_ATOL = 1e-3
SIGMAS = (0.7, 1.6, 3.5)


def grid_2d() -> tuple[np.ndarray, np.ndarray]:
    y, x = np.mgrid[-16:16, -16:16].astype(np.float64)
    return y, x


def interior(ndim: int, sigma: float) -> tuple[slice, ...]:
    border = radius(sigma, 2)
    return (slice(border, -border),) * ndim


@pytest.mark.parametrize("sigma", SIGMAS)
def test_laplacian_of_paraboloid_is_exact(sigma: float) -> None:
    y, x = grid_2d()
    log = single(x**2 + y**2, "laplacian_of_gaussian", sigma)[..., 0]
    np.testing.assert_allclose(log[interior(2, sigma)], 4.0, atol=POLYNOMIAL_ATOL)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_ramp_gradient_and_structure_tensor_are_exact(sigma: float) -> None:
    y, x = grid_2d()
    ramp = 0.3 * x - 0.4 * y  # gradient (-0.4, 0.3) in (Y, X): magnitude 0.5
    features = compute_features(
        ramp,
        FeatureSet(("gaussian_gradient_magnitude", "structure_tensor_eigenvalues"), (sigma,)),
    )[interior(2, sigma)]
    np.testing.assert_allclose(features[..., 0], 0.5, atol=1e-5)
    # g g^T has eigenvalues |g|^2 and 0, largest first.
    np.testing.assert_allclose(features[..., 1], 0.25, atol=1e-4)
    np.testing.assert_allclose(features[..., 2], 0.0, atol=1e-4)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_hessian_eigenvalues_of_saddle_are_exact_and_descending(sigma: float) -> None:
    y, x = grid_2d()
    eigenvalues = single(3 * x**2 - y**2, "hessian_of_gaussian_eigenvalues", sigma)
    inner = eigenvalues[interior(2, sigma)]
    expected = np.broadcast_to([6.0, -2.0], inner.shape)
    np.testing.assert_allclose(inner, expected, atol=POLYNOMIAL_ATOL)


def test_hessian_eigenvalues_3d_are_exact_and_descending() -> None:
    z, y, x = np.mgrid[-8:8, -12:12, -12:12].astype(np.float64)
    volume = 3 * x**2 - y**2 + 0.5 * z**2  # Hessian diag(1, -2, 6) in (Z, Y, X)
    eigenvalues = single(volume, "hessian_of_gaussian_eigenvalues", 1.6)
    inner = eigenvalues[interior(3, 1.6)]
    expected = np.broadcast_to([6.0, 1.0, -2.0], inner.shape)
    np.testing.assert_allclose(inner, expected, atol=POLYNOMIAL_ATOL)
