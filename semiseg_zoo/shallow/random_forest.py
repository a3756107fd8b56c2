"""Random Forest pixel classifier on precomputed features: class-balanced sampling, training and
chunked prediction.

Label convention
----------------
Labels are integer class ids; the forest's classes are the distinct label values, except the
value ``ignore_label`` marks unlabeled pixels:

- scribbles (:func:`semiseg_zoo.shallow.simulate_scribbles`, ilastik): ``ignore_label=0``
  (the default), 1 = background, 2 = foreground; the forest's classes are ``[1, 2]``.
- dense semantic ground truth: ``ignore_label=None``, 0 = background, 1 = foreground; the
  forest's classes are ``[0, 1]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from .checks import check_features, check_labels

#: Pixels per chunk in :func:`predict_probabilities`: 2**16 pixels × 40 float32 features is
#: 10 MB, and scikit-learn's per-tree float64 outputs stay as small.
DEFAULT_CHUNK_SIZE = 65536


def labeled_classes(labels: np.ndarray, ignore_label: int | None) -> np.ndarray:
    """The sorted class ids present in ``labels``, without ``ignore_label``."""
    classes = np.unique(labels)
    if ignore_label is not None:
        classes = classes[classes != ignore_label]
    return classes


def sample_balanced_pixels(
    labels: np.ndarray,
    n_per_class: int,
    rng: np.random.Generator | int,
    *,
    ignore_label: int | None = 0,
) -> np.ndarray:
    """Draw a class-balanced random sample of labeled pixels.

    Each class present in ``labels`` (except ``ignore_label``) contributes
    ``min(n_per_class, its pixel count)`` pixels, drawn without replacement: all classes get the
    same number when each has at least ``n_per_class`` pixels; a smaller class gives all its
    pixels. Unlabeled pixels are never drawn.

    Parameters
    ----------
    labels:
        Integer class ids, ``(Y, X)`` or ``(Z, Y, X)``; see the module's label convention.
    n_per_class:
        Pixels to draw per class (≥ 1).
    rng:
        Random generator, or an int seed for a new one.
    ignore_label:
        Value of unlabeled pixels (0 for scribbles), or None when every pixel is labeled
        (dense ground truth).

    Returns
    -------
    np.ndarray
        int64 flat indices into ``labels.ravel()``, sorted ascending; use
        ``np.unravel_index(indices, labels.shape)`` for coordinates.

    Raises
    ------
    TypeError
        If ``labels`` does not hold integer class ids.
    ValueError
        If ``labels`` is not 2D/3D or ``n_per_class`` < 1.

    Examples
    --------
    >>> labels = np.array([[0, 1, 1], [2, 2, 2]])
    >>> sample_balanced_pixels(labels, 2, 0).size
    4
    """
    check_labels(labels)
    if n_per_class < 1:
        raise ValueError(f"`n_per_class` must be ≥ 1, got {n_per_class}")
    rng = np.random.default_rng(rng)
    flat = labels.ravel()
    picked = []
    for value in labeled_classes(labels, ignore_label):
        candidates = np.flatnonzero(flat == value)
        n = min(n_per_class, candidates.size)
        picked.append(rng.choice(candidates, size=n, replace=False))
    if not picked:
        return np.empty(0, dtype=np.int64)
    return np.sort(np.concatenate(picked)).astype(np.int64, copy=False)


def train_random_forest(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_per_class: int = 2000,
    n_trees: int = 100,
    max_depth: int | None = None,
    seed: int = 0,
    ignore_label: int | None = 0,
    n_jobs: int = 1,
) -> RandomForestClassifier:
    """Train a Random Forest pixel classifier on a class-balanced sample of labeled pixels.

    The forest uses ``class_weight="balanced"``: with equal per-class counts (the usual case)
    this changes nothing, and when a class has fewer than ``n_per_class`` labeled pixels it
    keeps that class from being outvoted.

    Parameters
    ----------
    features:
        ``(Y, X, C)`` or ``(Z, Y, X, C)`` real pixel features of the labeled image.
    labels:
        Integer class ids with the spatial shape of ``features``; see the module's label
        convention.
    n_per_class:
        Training pixels per class (:func:`sample_balanced_pixels`).
    n_trees:
        Trees in the forest.
    max_depth:
        Maximum tree depth; None grows trees until their leaves are pure.
    seed:
        Seeds the pixel sample and the forest.
    ignore_label:
        Value of unlabeled pixels (0 for scribbles), or None for dense ground truth.
    n_jobs:
        Parallel jobs of scikit-learn (1: do not compete with a training run for CPU cores).

    Returns
    -------
    sklearn.ensemble.RandomForestClassifier
        The fitted forest; ``forest.classes_`` holds the label values.

    Raises
    ------
    TypeError
        If ``labels`` is not integer or ``features`` not real.
    ValueError
        If the shapes disagree, fewer than two classes are labeled, a parameter is out of range
        or a sampled feature is not finite.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = np.repeat([[1, 2]], 8, axis=0).repeat(4, axis=1)
    >>> features = (labels + rng.normal(0, 0.1, labels.shape))[..., None]
    >>> train_random_forest(features, labels, n_trees=5).classes_.tolist()
    [1, 2]
    """
    check_labels(labels)
    check_features(features, labels.shape)
    if n_trees < 1:
        raise ValueError(f"`n_trees` must be ≥ 1, got {n_trees}")
    if max_depth is not None and max_depth < 1:
        raise ValueError(f"`max_depth` must be ≥ 1 or None, got {max_depth}")
    classes = labeled_classes(labels, ignore_label)
    if classes.size < 2:
        raise ValueError(
            f"`labels` hold {classes.size} labeled class(es) {classes.tolist()} besides the "
            f"unlabeled value {ignore_label}; draw scribbles for both background and foreground"
            + (" (or pass `ignore_label=None` for dense ground truth)" if ignore_label == 0 else "")
        )
    rng = np.random.default_rng(seed)
    indices = sample_balanced_pixels(labels, n_per_class, rng, ignore_label=ignore_label)
    x = features.reshape(-1, features.shape[-1])[indices].astype(np.float32, copy=False)
    if not np.isfinite(x).all():
        raise ValueError(
            "`features` hold NaN or infinite values at labeled pixels; fix the feature computation"
        )
    forest = RandomForestClassifier(
        n_estimators=n_trees,
        max_depth=max_depth,
        class_weight="balanced",
        random_state=int(rng.integers(2**31 - 1)),
        n_jobs=n_jobs,
    )
    forest.fit(x, labels.ravel()[indices])
    return forest


def predict_probabilities(
    forest: RandomForestClassifier,
    features: np.ndarray,
    *,
    classes: int | Sequence[int] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> np.ndarray:
    """Predict per-pixel class probabilities, ``chunk_size`` pixels at a time.

    Memory beyond the output stays proportional to ``chunk_size``; ``features`` is not copied
    when it is C-contiguous.

    Parameters
    ----------
    forest:
        A fitted forest (:func:`train_random_forest`).
    features:
        ``(Y, X, C)`` or ``(Z, Y, X, C)`` features with the channels the forest was trained on.
    classes:
        Label values whose probabilities to return: None for all of ``forest.classes_`` in
        that order, a sequence for those channels in the given order, an int for that single
        class without a channel axis (``classes=2`` is the foreground of a scribble-trained
        forest, ``classes=1`` of one trained on dense ground truth).
    chunk_size:
        Pixels predicted at once.

    Returns
    -------
    np.ndarray
        float32 ``(*spatial, n_classes)``, or ``(*spatial,)`` when ``classes`` is an int.

    Raises
    ------
    TypeError
        If ``features`` is not a real array.
    ValueError
        If ``features`` has a different channel count than the forest was trained with, a
        requested class is unknown to the forest or ``chunk_size`` < 1.
    """
    check_features(features)
    n_features = features.shape[-1]
    if n_features != forest.n_features_in_:
        raise ValueError(
            f"`features` has {n_features} channels but the forest was trained on "
            f"{forest.n_features_in_}; compute the same feature set as for training"
        )
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be ≥ 1, got {chunk_size}")
    known = forest.classes_.tolist()
    wanted = known if classes is None else [classes] if np.isscalar(classes) else list(classes)
    unknown = [c for c in wanted if c not in known]
    if unknown or not wanted:
        raise ValueError(
            f"`classes` {classes!r} must name classes of the forest, which knows {known}"
        )
    channels = [known.index(c) for c in wanted]

    flat = features.reshape(-1, n_features)
    out = np.empty((flat.shape[0], len(channels)), dtype=np.float32)
    for start in range(0, flat.shape[0], chunk_size):
        chunk = flat[start : start + chunk_size].astype(np.float32, copy=False)
        out[start : start + chunk_size] = forest.predict_proba(chunk)[:, channels]
    out = out.reshape(*features.shape[:-1], len(channels))
    return out[..., 0] if np.isscalar(classes) else out
