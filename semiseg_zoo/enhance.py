"""shallow2deep on a new image: scribbles (or an existing Random Forest probability map) →
forest probabilities → Prediction Enhancer package → enhanced probabilities and instances."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from semiseg_zoo.features import FeatureSet
from semiseg_zoo.inference import Model, Package, load_model
from semiseg_zoo.inference.runners import Device, WeightFormat
from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.shallow.workflow import rf_probabilities_from_scribbles


@dataclass
class EnhanceResult:
    """``rf_probabilities`` and ``probabilities`` (enhanced) have the image's spatial shape;
    ``labels`` are uint32 instances (0 = background) from the package's post-processing."""

    rf_probabilities: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray


def enhancer_config(package: Package) -> dict[str, Any]:
    """The package's ``config.semiseg`` after checking that it is a semiseg-zoo enhancer."""
    config = package.semiseg_config or {}
    if config.get("kind") != "enhancer" or "features" not in config:
        raise ValueError(
            f"model {package.name!r} is not a semiseg-zoo enhancer (its config.semiseg has no "
            "kind: enhancer and features); choose an enhancer package, e.g. enhancer-mito-em"
        )
    return config


def select_rf_channel(rf_probabilities: np.ndarray, ndim: int, channel: int | None) -> np.ndarray:
    """One probability map from an exported forest output: ``ndim`` spatial axes, optionally
    with a channel axis (first, or last as ilastik exports it); ``channel`` picks the class."""
    array = np.asarray(rf_probabilities, dtype=np.float32)
    if array.ndim == ndim:
        return array
    if array.ndim != ndim + 1:
        raise ValueError(
            f"the Random Forest probabilities have shape {array.shape}; expected {ndim} spatial "
            "axes, optionally with one channel axis"
        )
    axis = -1 if array.shape[-1] <= min(array.shape[:-1]) else 0
    n = array.shape[axis]
    if channel is None:
        if n != 1:
            raise ValueError(
                f"the Random Forest probabilities have {n} channels (one per class); say which "
                "is the class the enhancer improves (foreground or boundaries) with rf_channel "
                "/ --rf-channel, counting from 0"
            )
        channel = 0
    if not 0 <= channel < n:
        raise ValueError(f"rf_channel {channel} is out of range for {n} channels")
    return np.take(array, channel, axis=axis)


def enhance(
    image: np.ndarray | None,
    model: Model | str | os.PathLike[str],
    *,
    scribbles: np.ndarray | None = None,
    rf_probabilities: np.ndarray | None = None,
    rf_channel: int | None = None,
    n_trees: int = 100,
    seed: int = 0,
    device: Device = "auto",
    weight_format: WeightFormat = "auto",
) -> EnhanceResult:
    """Segment ``image`` with shallow2deep: a Random Forest from ``scribbles`` (or the given
    ``rf_probabilities``), improved by an enhancer package.

    Parameters
    ----------
    image:
        2D ``(Y, X)`` or a stack ``(Z, Y, X)`` (segmented slice by slice); may be None when
        ``rf_probabilities`` are given.
    model:
        An enhancer package (built-in name, zip, folder) or a loaded :class:`Model`.
    scribbles:
        Brush strokes with ``image``'s shape: 0 unlabeled, 1 background, 2 the enhancer's class.
    rf_probabilities:
        Instead of scribbles, a forest's probability map (e.g. exported from ilastik), with an
        optional channel axis; ``rf_channel`` picks the enhancer's class.
    n_trees, seed:
        Random Forest size and seed.
    device, weight_format:
        See :func:`semiseg_zoo.inference.load_model`.

    Returns
    -------
    EnhanceResult

    Raises
    ------
    ValueError
        If neither or both of ``scribbles`` and ``rf_probabilities`` are given, shapes differ,
        or ``model`` is not an enhancer.
    """
    if (scribbles is None) == (rf_probabilities is None):
        raise ValueError("give either scribbles or rf_probabilities (exactly one of them)")
    loaded = (
        model
        if isinstance(model, Model)
        else load_model(model, device=device, weight_format=weight_format)
    )
    config = enhancer_config(loaded.package)
    if scribbles is not None:
        if image is None:
            raise ValueError("scribbles need the image they were drawn on")
        image = np.asarray(image)
        if image.ndim not in (2, 3):
            raise ValueError(f"image has shape {image.shape}; expected (Y, X) or (Z, Y, X)")
        features = FeatureSet.from_dict(config["features"])
        forest = rf_probabilities_from_scribbles(
            image, np.asarray(scribbles), features, n_trees=n_trees, seed=seed
        )
    else:
        ndim = np.asarray(image).ndim if image is not None else _guess_ndim(rf_probabilities)
        forest = select_rf_channel(rf_probabilities, ndim, rf_channel)
        if image is not None and forest.shape != np.asarray(image).shape:
            raise ValueError(
                f"the Random Forest probabilities have spatial shape {forest.shape} but the "
                f"image {np.asarray(image).shape}"
            )
    planes = forest[None] if forest.ndim == 2 else forest
    enhanced = np.stack([loaded.predict(plane, axes="yx")[0] for plane in planes])
    recipe = config.get("postprocessing")
    if recipe is None:
        raise ValueError(f"model {loaded.package.name!r} has no config.semiseg.postprocessing")
    labels = apply_postprocessing(enhanced[None] if forest.ndim == 3 else enhanced, recipe)
    if forest.ndim == 2:
        enhanced = enhanced[0]
    return EnhanceResult(forest.astype(np.float32), enhanced.astype(np.float32), labels)


def _guess_ndim(rf_probabilities: np.ndarray) -> int:
    shape = np.shape(rf_probabilities)
    has_channels = len(shape) == 3 and min(shape[0], shape[-1]) <= 4
    return len(shape) - 1 if has_channels else len(shape)
