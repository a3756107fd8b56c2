"""FeatureSet, channel layout of compute_features, input handling and every bad-input path."""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest
import yaml

from semiseg_zoo.features import (
    DEFAULT_SIGMAS,
    FEATURE_NAMES,
    FeatureSet,
    compute_features,
    n_features,
)

# 2D: smoothing at 7 scales, LoG / gradient magnitude / DoG at 6, two eigenvalue features at
# 6 scales x 2 eigenvalues: 7 + 3 * 6 + 2 * 6 * 2 = 49. 3D: 7 + 18 + 2 * 6 * 3 = 61.
DEFAULT_CHANNELS = {2: 49, 3: 61}


# --- FeatureSet -----------------------------------------------------------------------------


def test_default_is_all_features_at_all_scales() -> None:
    feature_set = FeatureSet.default()
    assert (
        feature_set.names
        == FEATURE_NAMES
        == (
            "gaussian_smoothing",
            "laplacian_of_gaussian",
            "gaussian_gradient_magnitude",
            "difference_of_gaussians",
            "structure_tensor_eigenvalues",
            "hessian_of_gaussian_eigenvalues",
        )
    )
    assert feature_set.sigmas == DEFAULT_SIGMAS == (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)


def test_sigma_0_3_is_used_for_gaussian_smoothing_only() -> None:
    scales = FeatureSet.default().scales()
    assert [name for name, sigma in scales if sigma == 0.3] == ["gaussian_smoothing"]
    assert len(scales) == 7 + 5 * 6


def test_round_trips_through_dict_json_and_yaml() -> None:
    feature_set = FeatureSet(("hessian_of_gaussian_eigenvalues", "gaussian_smoothing"), (0.3, 1.6))
    data = feature_set.to_dict()
    assert data == {
        "names": ["hessian_of_gaussian_eigenvalues", "gaussian_smoothing"],
        "sigmas": [0.3, 1.6],
    }
    assert FeatureSet.from_dict(data) == feature_set
    assert FeatureSet.from_dict(json.loads(json.dumps(data))) == feature_set
    assert FeatureSet.from_dict(yaml.safe_load(yaml.safe_dump(data))) == feature_set
    assert FeatureSet.from_dict(FeatureSet.default().to_dict()) == FeatureSet.default()


def test_lists_and_integers_are_normalised() -> None:
    feature_set = FeatureSet(["gaussian_smoothing"], [1, np.float32(2.5)])  # type: ignore[arg-type]
    assert feature_set.names == ("gaussian_smoothing",)
    assert feature_set.sigmas == (1.0, 2.5)
    assert all(type(sigma) is float for sigma in feature_set.sigmas)
    assert hash(feature_set) == hash(FeatureSet(("gaussian_smoothing",), (1.0, 2.5)))


def test_is_frozen() -> None:
    feature_set = FeatureSet.default()
    with pytest.raises(dataclasses.FrozenInstanceError):
        feature_set.sigmas = (1.0,)  # type: ignore[misc]


def test_channel_names() -> None:
    feature_set = FeatureSet(
        ("gaussian_smoothing", "laplacian_of_gaussian", "hessian_of_gaussian_eigenvalues"),
        (0.3, 1.6),
    )
    assert feature_set.channel_names(2) == (
        "gaussian_smoothing_s0.3",
        "gaussian_smoothing_s1.6",
        "laplacian_of_gaussian_s1.6",
        "hessian_of_gaussian_eigenvalues_s1.6_e0",
        "hessian_of_gaussian_eigenvalues_s1.6_e1",
    )
    assert feature_set.channel_names(3)[-3:] == (
        "hessian_of_gaussian_eigenvalues_s1.6_e0",
        "hessian_of_gaussian_eigenvalues_s1.6_e1",
        "hessian_of_gaussian_eigenvalues_s1.6_e2",
    )


@pytest.mark.parametrize("ndim", [2, 3])
def test_default_channel_names_are_unique_and_counted(ndim: int) -> None:
    names = FeatureSet.default().channel_names(ndim)
    assert len(names) == len(set(names)) == n_features(None, ndim) == DEFAULT_CHANNELS[ndim]
    assert n_features(FeatureSet.default(), ndim) == DEFAULT_CHANNELS[ndim]
    assert "gaussian_smoothing_s10.0" in names
    assert "structure_tensor_eigenvalues_s0.3_e0" not in names


VALID_NAMES = re.escape(str(FEATURE_NAMES))


@pytest.mark.parametrize(
    ("names", "sigmas", "error", "match"),
    [
        (("gaussian_smoothing", "sobel"), (1.0,), ValueError, r"\['sobel'\]; valid names are "),
        (("Gaussian Smoothing",), (1.0,), ValueError, VALID_NAMES),
        ("gaussian_smoothing", (1.0,), TypeError, r"string 'gaussian_smoothing'; write"),
        ((), (1.0,), ValueError, r"`names` is empty"),
        ((1,), (1.0,), TypeError, r"`names` must hold strings, got \[1\]"),
        (None, (1.0,), TypeError, r"`names` must be a sequence of feature names, got NoneType"),
        (("gaussian_smoothing",) * 2, (1.0,), ValueError, r"`names` repeats an entry"),
        (("gaussian_smoothing",), (1.0, 0.0), ValueError, r"positive and finite .*\[0\.0\]"),
        (("gaussian_smoothing",), (-1.0,), ValueError, r"positive and finite .*\[-1\.0\]"),
        (("gaussian_smoothing",), (float("nan"),), ValueError, r"positive and finite .*\[nan\]"),
        (("gaussian_smoothing",), (float("inf"),), ValueError, r"positive and finite .*\[inf\]"),
        (("gaussian_smoothing",), (), ValueError, r"`sigmas` is empty"),
        (("gaussian_smoothing",), (True,), TypeError, r"real numbers, got \[True\]"),
        (("gaussian_smoothing",), ("1.0",), TypeError, r"real numbers, got \['1.0'\]"),
        (("gaussian_smoothing",), "1.0", TypeError, r"got the string '1.0'"),
        (("gaussian_smoothing",), 1.0, TypeError, r"sequence of numbers, got float"),
        (("gaussian_smoothing",), (1.0, 1), ValueError, r"`sigmas` repeats a value"),
        (
            ("gaussian_smoothing", "laplacian_of_gaussian"),
            (0.3, 0.5),
            ValueError,
            r"'laplacian_of_gaussian' is computed only at sigma >= 0.7 .* add a sigma >= 0.7",
        ),
    ],
)
def test_invalid_feature_sets_are_rejected(
    names: object, sigmas: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        FeatureSet(names, sigmas)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        ({"names": ["gaussian_smoothing"]}, ValueError, r"missing \['sigmas'\], unknown \[\]"),
        (
            {"names": ["gaussian_smoothing"], "sigmas": [1.0], "scales": [2.0]},
            ValueError,
            r"missing \[\], unknown \['scales'\]",
        ),
        ({"names": ["sobel"], "sigmas": [1.0]}, ValueError, r"unknown feature name"),
        (["gaussian_smoothing"], TypeError, r"must be a mapping .* got list"),
    ],
)
def test_invalid_dicts_are_rejected(data: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        FeatureSet.from_dict(data)  # type: ignore[arg-type]


@pytest.mark.parametrize("ndim", [1, 4, True])
def test_channel_names_and_n_features_reject_other_ndims(ndim: int) -> None:
    with pytest.raises(ValueError, match=r"`ndim` must be 2 or 3"):
        FeatureSet.default().channel_names(ndim)
    with pytest.raises(ValueError, match=r"`ndim` must be 2 or 3"):
        n_features(None, ndim)


# --- compute_features -----------------------------------------------------------------------


def test_default_stack_shape_dtype_and_layout(image: np.ndarray) -> None:
    features = compute_features(image)
    ndim = image.ndim
    assert features.shape == (*image.shape, DEFAULT_CHANNELS[ndim])
    assert features.dtype == np.float32
    assert features.flags.c_contiguous
    assert np.isfinite(features).all()
    # Each channel is the single feature at that scale, at the position channel_names gives.
    index = {name: i for i, name in enumerate(FeatureSet.default().channel_names(ndim))}
    for name, sigma in FeatureSet.default().scales():
        single = compute_features(image, FeatureSet((name,), (sigma,)))
        channels = FeatureSet((name,), (sigma,)).channel_names(ndim)
        assert single.shape[-1] == len(channels)
        for k, channel in enumerate(channels):
            np.testing.assert_array_equal(features[..., index[channel]], single[..., k])


def test_channels_follow_the_order_of_names_and_sigmas(image_2d: np.ndarray) -> None:
    forward = FeatureSet(("gaussian_smoothing", "laplacian_of_gaussian"), (1.0, 3.5))
    backward = FeatureSet(("laplacian_of_gaussian", "gaussian_smoothing"), (3.5, 1.0))
    a, b = compute_features(image_2d, forward), compute_features(image_2d, backward)
    np.testing.assert_array_equal(a, b[..., ::-1])
    assert forward.channel_names(2) == backward.channel_names(2)[::-1]


def test_eigenvalues_are_descending(image: np.ndarray) -> None:
    feature_set = FeatureSet(
        ("structure_tensor_eigenvalues", "hessian_of_gaussian_eigenvalues"), (0.7, 3.5)
    )
    features = compute_features(image, feature_set)
    ndim = image.ndim
    groups = features.reshape(*image.shape, -1, ndim)  # (..., feature x scale, eigenvalue)
    assert (np.diff(groups, axis=-1) <= 0).all()
    assert groups[..., 0, -1].min() >= -1e-6  # structure tensor: positive semi-definite


@pytest.mark.parametrize(
    "dtype", [np.uint8, np.uint16, np.int16, np.int64, np.float16, np.float64, bool]
)
def test_any_real_dtype_gives_the_float32_result(dtype: type) -> None:
    image = (
        np.random.default_rng(3).integers(0, 2 if dtype is bool else 100, (20, 24)).astype(dtype)
    )
    feature_set = FeatureSet(FEATURE_NAMES, (0.3, 1.0))
    expected = compute_features(image.astype(np.float32), feature_set)
    result = compute_features(image, feature_set)
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result, expected)


def test_input_is_not_modified_and_views_are_fine(image_3d: np.ndarray) -> None:
    feature_set = FeatureSet(("difference_of_gaussians", "gaussian_gradient_magnitude"), (1.6,))
    view = image_3d.transpose(2, 0, 1)[:, ::2]
    copy = view.copy()
    result = compute_features(view, feature_set)
    np.testing.assert_array_equal(view, copy)
    np.testing.assert_array_equal(result, compute_features(copy, feature_set))
    nested = compute_features(image_3d[0].tolist(), feature_set)  # array-likes too
    np.testing.assert_array_equal(nested, compute_features(image_3d[0], feature_set))


@pytest.mark.parametrize("shape", [(5, 5), (1, 9), (2, 6, 6), (1, 7, 7)])
def test_sigmas_larger_than_the_image_are_fine(shape: tuple[int, ...]) -> None:
    # Borders are mirrored repeatedly, so sigma 10 (radius up to 40) works on a 5 x 5 image.
    image = np.random.default_rng(4).random(shape)
    features = compute_features(image)
    assert features.shape == (*shape, DEFAULT_CHANNELS[len(shape)])
    assert np.isfinite(features).all()


def test_constant_image() -> None:
    features = compute_features(np.full((12, 12), 7, dtype=np.uint8))
    names = FeatureSet.default().channel_names(2)
    smoothing = [i for i, name in enumerate(names) if name.startswith("gaussian_smoothing")]
    others = [i for i in range(len(names)) if i not in smoothing]
    np.testing.assert_allclose(features[..., smoothing], 7.0, atol=1e-5)
    np.testing.assert_allclose(features[..., others], 0.0, atol=1e-5)


@pytest.mark.parametrize(
    ("image", "error", "match"),
    [
        (
            np.zeros((2, 3, 4, 5)),
            ValueError,
            r"`image` has shape \(2, 3, 4, 5\); expected a single",
        ),
        (np.zeros(16), ValueError, r"`image` has shape \(16,\); expected"),
        (np.zeros((0, 8)), ValueError, r"shape \(0, 8\) with an empty axis"),
        (np.zeros((8, 8), dtype=complex), TypeError, r"dtype complex128; expected a bool"),
        (np.full((8, 8), "a"), TypeError, r"dtype <U1"),
        (np.where(np.eye(8), np.nan, 0.0), ValueError, r"NaN or infinite"),
        (np.where(np.eye(8), -np.inf, 0.0), ValueError, r"NaN or infinite"),
        (np.full((8, 8), 1e300), ValueError, r"beyond float32's range"),
    ],
)
def test_invalid_images_are_rejected(image: np.ndarray, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        compute_features(image, FeatureSet(("gaussian_smoothing",), (1.0,)))


def test_a_config_dict_is_not_a_feature_set(image_2d: np.ndarray) -> None:
    with pytest.raises(TypeError, match=r"got dict; use FeatureSet.from_dict"):
        compute_features(image_2d, FeatureSet.default().to_dict())  # type: ignore[arg-type]
