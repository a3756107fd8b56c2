"""Many Random Forests, each trained on a random patch of densely labeled source data
(shallow2deep step 1: the diverse shallow classifiers whose predictions the enhancer learns to
improve)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from .checks import check_features, check_labels
from .random_forest import labeled_classes, train_random_forest

#: A patch with a single class is redrawn; give up after this many draws per forest requested.
MAX_DRAWS_PER_FOREST = 20


@dataclass(frozen=True)
class PatchForest:
    """A forest and the patch of the source image whose labels trained it.

    Attributes
    ----------
    forest:
        The fitted forest; ``forest.classes_`` holds the label values.
    patch:
        One slice per spatial axis; ``labels[patch]`` are the labels it saw.
    """

    forest: RandomForestClassifier
    patch: tuple[slice, ...]


def _per_axis(value: int | Sequence[int], ndim: int, name: str) -> tuple[int, ...]:
    sizes = (value,) * ndim if isinstance(value, (int, np.integer)) else tuple(value)
    if len(sizes) != ndim or any(s < 1 for s in sizes):
        raise ValueError(
            f"`{name}` must be a positive int or {ndim} positive ints (one per axis), got {value!r}"
        )
    return tuple(int(s) for s in sizes)


def random_patch(
    shape: Sequence[int],
    rng: np.random.Generator,
    *,
    min_size: int | Sequence[int],
    max_size: int | Sequence[int],
) -> tuple[slice, ...]:
    """Draw a patch of random size and position inside an array of ``shape``.

    Along each axis the size is uniform in ``[min_size, max_size]`` and then clipped to the
    axis length (so a patch is never larger than the image), and the start is uniform among
    the positions that keep the patch inside.

    Parameters
    ----------
    shape:
        Spatial shape of the image.
    rng:
        Random generator (advanced by the call).
    min_size, max_size:
        Smallest and largest side length, one int for all axes or one per axis.

    Returns
    -------
    tuple of slice
        One ``slice(start, stop)`` per axis.

    Raises
    ------
    ValueError
        If a size is < 1, ``min_size`` > ``max_size`` along an axis or ``shape`` has an empty
        axis.

    Examples
    --------
    >>> patch = random_patch((10, 20), np.random.default_rng(0), min_size=4, max_size=8)
    >>> all(4 <= s.stop - s.start <= 8 for s in patch)
    True
    """
    shape = tuple(int(s) for s in shape)
    if not shape or min(shape) < 1:
        raise ValueError(f"`shape` must have positive axis lengths, got {shape}")
    low = _per_axis(min_size, len(shape), "min_size")
    high = _per_axis(max_size, len(shape), "max_size")
    if any(lo > hi for lo, hi in zip(low, high, strict=True)):
        raise ValueError(f"`min_size` {min_size!r} exceeds `max_size` {max_size!r} along an axis")
    patch = []
    for length, lo, hi in zip(shape, low, high, strict=True):
        size = min(int(rng.integers(lo, hi + 1)), length)
        start = int(rng.integers(0, length - size + 1))
        patch.append(slice(start, start + size))
    return tuple(patch)


def train_patch_forests(
    features: np.ndarray,
    dense_labels: np.ndarray,
    *,
    n_forests: int,
    seed: int,
    min_size: int | Sequence[int] = 64,
    max_size: int | Sequence[int] = 256,
    n_per_class: int = 500,
    n_trees: int = 10,
    max_depth: int | None = None,
    ignore_label: int | None = None,
    n_jobs: int = 1,
) -> Iterator[PatchForest]:
    """Train ``n_forests`` Random Forests, each on a class-balanced sample of one random patch.

    For each forest a patch is drawn with :func:`random_patch`; a patch whose labels hold fewer
    than two classes (all background, or inside one large object) cannot train a classifier
    and is redrawn. The sample comes from the patch only, so forests see different parts of
    the data and disagree in useful ways; ``features`` is computed on the whole image, so the
    patch border does not distort them.

    Forests are trained lazily, one per ``next()``; the sequence depends only on the inputs
    and ``seed``.

    Parameters
    ----------
    features:
        ``(Y, X, C)`` or ``(Z, Y, X, C)`` real features of the source image.
    dense_labels:
        Integer semantic class ids (0 = background, 1 = foreground, …) with the spatial shape
        of ``features``; convert instance labels first (``instances > 0``).
    n_forests:
        Forests to train.
    seed:
        Seeds the patches, the samples and the forests.
    min_size, max_size:
        Patch side lengths (:func:`random_patch`).
    n_per_class:
        Training pixels per class and patch.
    n_trees, max_depth, n_jobs:
        Passed to :func:`train_random_forest`. Few trees per forest: hundreds of forests are
        trained, and their diversity matters more than each one's accuracy.
    ignore_label:
        Value of unlabeled pixels, None (default) when every pixel is labeled.

    Returns
    -------
    Iterator[PatchForest]
        The forests with their patches.

    Raises
    ------
    TypeError
        If ``dense_labels`` is not integer or ``features`` not real.
    ValueError
        If shapes disagree, a parameter is out of range or ``dense_labels`` hold fewer than two
        classes; while iterating, if ``MAX_DRAWS_PER_FOREST × n_forests`` patches did not give
        ``n_forests`` patches with two classes (increase ``min_size``).
    """
    check_labels(dense_labels, "dense_labels")
    check_features(features, dense_labels.shape)
    if n_forests < 1:
        raise ValueError(f"`n_forests` must be ≥ 1, got {n_forests}")
    # Checks the sizes before the first forest is requested.
    random_patch(dense_labels.shape, np.random.default_rng(0), min_size=min_size, max_size=max_size)
    classes = labeled_classes(dense_labels, ignore_label)
    if classes.size < 2:
        raise ValueError(
            f"`dense_labels` hold the classes {classes.tolist()}; patch forests need at least "
            "two (background and foreground)"
        )
    if n_trees < 1 or n_per_class < 1:
        raise ValueError(f"`n_trees` and `n_per_class` must be ≥ 1, got {n_trees}, {n_per_class}")
    return _patch_forests(
        features,
        dense_labels,
        n_forests=n_forests,
        rng=np.random.default_rng(seed),
        min_size=min_size,
        max_size=max_size,
        n_per_class=n_per_class,
        n_trees=n_trees,
        max_depth=max_depth,
        ignore_label=ignore_label,
        n_jobs=n_jobs,
    )


def _patch_forests(
    features: np.ndarray,
    dense_labels: np.ndarray,
    *,
    n_forests: int,
    rng: np.random.Generator,
    min_size: int | Sequence[int],
    max_size: int | Sequence[int],
    n_per_class: int,
    n_trees: int,
    max_depth: int | None,
    ignore_label: int | None,
    n_jobs: int,
) -> Iterator[PatchForest]:
    trained = 0
    for _ in range(MAX_DRAWS_PER_FOREST * n_forests):
        patch = random_patch(dense_labels.shape, rng, min_size=min_size, max_size=max_size)
        if labeled_classes(dense_labels[patch], ignore_label).size < 2:
            continue
        forest = train_random_forest(
            features[patch],
            dense_labels[patch],
            n_per_class=n_per_class,
            n_trees=n_trees,
            max_depth=max_depth,
            seed=int(rng.integers(2**31 - 1)),
            ignore_label=ignore_label,
            n_jobs=n_jobs,
        )
        yield PatchForest(forest=forest, patch=patch)
        trained += 1
        if trained == n_forests:
            return
    raise ValueError(
        f"only {trained} of {n_forests} random patches (sizes {min_size}-{max_size}) held two "
        f"classes after {MAX_DRAWS_PER_FOREST * n_forests} draws; increase `min_size`"
    )
