"""An ilastik-style pixel feature stack: which filters at which scales, and computing it."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np

from .filters import FEATURE_NAMES, FILTERS, MIN_DERIVATIVE_SIGMA

DEFAULT_SIGMAS: tuple[float, ...] = (0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0)
_DICT_KEYS = ("names", "sigmas")


@dataclass(frozen=True)
class FeatureSet:
    """The filters and scales of a pixel feature stack (ilastik's feature selection).

    Every feature in ``names`` is computed at every sigma in ``sigmas`` that it supports:
    ``gaussian_smoothing`` at any sigma, the five derivative features only at sigma >= 0.7, as in
    ilastik, where sigma 0.3 is offered for Gaussian smoothing only. So the default set computes
    ``gaussian_smoothing`` at 7 scales and every other feature at 6.

    Channels are ordered feature by feature (in the order of ``names``), then by sigma (in the
    order of ``sigmas``), then, for the eigenvalue features, by eigenvalue, largest first; see
    :meth:`channel_names`.

    Parameters
    ----------
    names:
        Feature ids, each one of ``FEATURE_NAMES``, no repeats. Lists are accepted and stored as
        tuples.
    sigmas:
        Gaussian scales in pixels, positive and finite, no repeats; stored as a tuple of floats.

    Raises
    ------
    TypeError
        If ``names`` is a single string or holds non-strings, or ``sigmas`` holds non-numbers.
    ValueError
        If a name is unknown, a sigma is not positive and finite, either is empty or repeats
        an entry, or a derivative feature has no sigma >= 0.7.

    Examples
    --------
    >>> feature_set = FeatureSet(("hessian_of_gaussian_eigenvalues",), (0.3, 1.6))
    >>> feature_set.channel_names(2)  # no derivative features at sigma 0.3
    ('hessian_of_gaussian_eigenvalues_s1.6_e0', 'hessian_of_gaussian_eigenvalues_s1.6_e1')
    """

    names: tuple[str, ...]
    sigmas: tuple[float, ...]

    def __post_init__(self) -> None:
        names = _checked_names(self.names)
        sigmas = _checked_sigmas(self.sigmas)
        for name in names:
            if not any(sigma >= FILTERS[name].min_sigma for sigma in sigmas):
                raise ValueError(
                    f"feature {name!r} is computed only at sigma >= {MIN_DERIVATIVE_SIGMA} "
                    f"(ilastik's minimum for derivative features) but `sigmas` is {sigmas}; "
                    f"add a sigma >= {MIN_DERIVATIVE_SIGMA} or drop the feature"
                )
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "sigmas", sigmas)

    @classmethod
    def default(cls) -> FeatureSet:
        """All six features at all seven default scales, like ilastik's "all features"."""
        return cls(FEATURE_NAMES, DEFAULT_SIGMAS)

    def to_dict(self) -> dict[str, list[Any]]:
        """``{"names": [...], "sigmas": [...]}``, plain lists for YAML/JSON package configs."""
        return {"names": list(self.names), "sigmas": list(self.sigmas)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSet:
        """Rebuild a feature set from :meth:`to_dict`'s output, validating it.

        Raises
        ------
        TypeError
            If ``data`` is not a mapping (or its values have the wrong types).
        ValueError
            If a key is missing or unknown, or the values are invalid (see :class:`FeatureSet`).
        """
        if not isinstance(data, Mapping):
            raise TypeError(
                f"a feature set dict must be a mapping with keys {_DICT_KEYS}, "
                f"got {type(data).__name__}"
            )
        unknown = sorted(str(key) for key in data if key not in _DICT_KEYS)
        missing = [key for key in _DICT_KEYS if key not in data]
        if unknown or missing:
            raise ValueError(
                f"a feature set dict needs exactly the keys {_DICT_KEYS}; "
                f"missing {missing}, unknown {unknown}"
            )
        return cls(names=data["names"], sigmas=data["sigmas"])

    def scales(self) -> tuple[tuple[str, float], ...]:
        """The ``(name, sigma)`` pairs that are computed, in channel order."""
        return tuple(
            (name, sigma)
            for name in self.names
            for sigma in self.sigmas
            if sigma >= FILTERS[name].min_sigma
        )

    def channel_names(self, ndim: int) -> tuple[str, ...]:
        """One name per output channel for ``ndim``-dimensional images (2 or 3).

        ``"{feature}_s{sigma}"``, with ``"_e{i}"`` appended for eigenvalue ``i`` (0 = largest),
        e.g. ``"gaussian_smoothing_s0.3"``, ``"hessian_of_gaussian_eigenvalues_s1.6_e0"``.
        """
        _check_ndim(ndim)
        channels = []
        for name, sigma in self.scales():
            base = f"{name}_s{sigma!r}"
            if FILTERS[name].eigenvalues:
                channels.extend(f"{base}_e{i}" for i in range(ndim))
            else:
                channels.append(base)
        return tuple(channels)


def n_features(feature_set: FeatureSet | None, ndim: int) -> int:
    """Number of channels :func:`compute_features` returns for ``ndim``-dimensional images.

    Parameters
    ----------
    feature_set:
        The features and scales; ``None`` means :meth:`FeatureSet.default` (49 channels in 2D,
        61 in 3D).
    ndim:
        Spatial dimensions of the image, 2 or 3.

    Raises
    ------
    ValueError
        If ``ndim`` is not 2 or 3.
    """
    _check_ndim(ndim)
    feature_set = _resolve(feature_set)
    return sum(FILTERS[name].n_channels(ndim) for name, _ in feature_set.scales())


def compute_features(image: np.ndarray, feature_set: FeatureSet | None = None) -> np.ndarray:
    """ilastik-style pixel features of a single-channel 2D or 3D image, channels last.

    Each feature is computed on the whole image with bioimage-cpp; see
    :mod:`semiseg_zoo.features.filters` for the kernel, normalisation and border conventions
    (mirrored borders, so any sigma works on any image size). Difference of Gaussians is
    ``G(sigma) - G(0.66 sigma)``; the structure tensor uses gradients at ``sigma / 2`` averaged at
    ``sigma``; eigenvalues are sorted descending.

    Parameters
    ----------
    image:
        ``(Y, X)`` or ``(Z, Y, X)`` array of any bool, integer or floating dtype; converted to
        float32 (integers above 2**24 lose precision). Not modified.
    feature_set:
        Features and scales; ``None`` means :meth:`FeatureSet.default`.

    Returns
    -------
    np.ndarray
        float32 ``(Y, X, C)`` or ``(Z, Y, X, C)`` with ``C = n_features(feature_set, image.ndim)``
        channels in the order of ``feature_set.channel_names(image.ndim)``; reshape to
        ``(-1, C)`` for scikit-learn. Memory: ``4 * image.size * C`` bytes (196 MiB for the
        default set on a 1024 x 1024 image).

    Raises
    ------
    TypeError
        If ``feature_set`` is not a :class:`FeatureSet` or ``image`` has a non-real dtype.
    ValueError
        If ``image`` is not 2D or 3D, has an empty axis, or holds NaN or infinite values.

    Examples
    --------
    >>> image = np.zeros((8, 8), dtype=np.uint8)
    >>> image[3:5, 3:5] = 255
    >>> compute_features(image).shape
    (8, 8, 49)
    >>> small = FeatureSet(("gaussian_smoothing",), (1.0, 3.5))
    >>> compute_features(image, small).dtype, compute_features(image, small).shape
    (dtype('float32'), (8, 8, 2))
    """
    feature_set = _resolve(feature_set)
    array = _as_float32(image)
    features = np.empty((*array.shape, n_features(feature_set, array.ndim)), dtype=np.float32)
    start = 0
    for name, sigma in feature_set.scales():
        response = FILTERS[name].apply(array, sigma)
        stop = start + response.shape[-1]
        features[..., start:stop] = response
        start = stop
    return features


def _resolve(feature_set: FeatureSet | None) -> FeatureSet:
    if feature_set is None:
        return FeatureSet.default()
    if not isinstance(feature_set, FeatureSet):
        raise TypeError(
            f"`feature_set` must be a FeatureSet or None, got {type(feature_set).__name__}; "
            "use FeatureSet.from_dict(...) for a config dict"
        )
    return feature_set


def _as_float32(image: np.ndarray) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim not in (2, 3):
        raise ValueError(
            f"`image` has shape {array.shape}; expected a single-channel 2D (Y, X) or 3D "
            "(Z, Y, X) array; compute features channel by channel for multi-channel data"
        )
    if array.size == 0:
        raise ValueError(f"`image` has shape {array.shape} with an empty axis")
    kind = array.dtype
    if not (
        kind == np.bool_ or np.issubdtype(kind, np.integer) or np.issubdtype(kind, np.floating)
    ):
        raise TypeError(
            f"`image` has dtype {kind}; expected a bool, integer or floating dtype "
            "(take the real part or magnitude of complex data first)"
        )
    with np.errstate(over="ignore"):  # overflow to inf is reported just below
        converted = np.ascontiguousarray(array, dtype=np.float32)
    # min/max propagate NaN and inf without a full boolean temporary.
    if not (np.isfinite(converted.min()) and np.isfinite(converted.max())):
        raise ValueError(
            "`image` holds NaN or infinite values (or values beyond float32's range, "
            f"|x| > {np.finfo(np.float32).max:.3g}); replace them before computing features"
        )
    return converted


def _check_ndim(ndim: int) -> None:
    if isinstance(ndim, bool) or ndim not in (2, 3):
        raise ValueError(f"`ndim` must be 2 or 3 (spatial dimensions), got {ndim!r}")


def _checked_names(names: Iterable[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise TypeError(
            f"`names` must be a sequence of feature names, got the string {names!r}; "
            f"write ({names!r},)"
        )
    try:
        names = tuple(names)
    except TypeError:
        raise TypeError(
            f"`names` must be a sequence of feature names, got {type(names).__name__}"
        ) from None
    if not names:
        raise ValueError(f"`names` is empty; choose from {FEATURE_NAMES}")
    not_strings = [name for name in names if not isinstance(name, str)]
    if not_strings:
        raise TypeError(f"`names` must hold strings, got {not_strings}")
    unknown = [name for name in names if name not in FILTERS]
    if unknown:
        raise ValueError(f"unknown feature name(s) {unknown}; valid names are {FEATURE_NAMES}")
    if len(set(names)) != len(names):
        raise ValueError(f"`names` repeats an entry: {names}")
    return names


def _checked_sigmas(sigmas: Iterable[float]) -> tuple[float, ...]:
    if isinstance(sigmas, str):
        raise TypeError(f"`sigmas` must be a sequence of numbers, got the string {sigmas!r}")
    try:
        values = tuple(sigmas)
    except TypeError:
        raise TypeError(
            f"`sigmas` must be a sequence of numbers, got {type(sigmas).__name__}"
        ) from None
    if not values:
        raise ValueError(f"`sigmas` is empty; the default is {DEFAULT_SIGMAS}")
    not_numbers = [s for s in values if isinstance(s, bool) or not isinstance(s, Real)]
    if not_numbers:
        raise TypeError(f"`sigmas` must hold real numbers, got {not_numbers}")
    floats = tuple(float(s) for s in values)
    bad = [s for s in floats if not (math.isfinite(s) and s > 0.0)]
    if bad:
        raise ValueError(f"`sigmas` must be positive and finite (in pixels), got {bad}")
    if len(set(floats)) != len(floats):
        raise ValueError(f"`sigmas` repeats a value: {floats}")
    return floats
