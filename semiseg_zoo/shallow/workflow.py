"""Target-side shallow2deep: scribbles → Random Forest probabilities (→ enhancer, elsewhere)."""

from __future__ import annotations

import numpy as np

from semiseg_zoo.features import FeatureSet, compute_features

from .random_forest import predict_probabilities, train_random_forest

#: Scribble values, as ilastik's brush: 0 unlabeled, 1 background, 2 foreground.
BACKGROUND, FOREGROUND = 1, 2


def rf_probabilities_from_scribbles(
    image: np.ndarray,
    scribbles: np.ndarray,
    feature_set: FeatureSet,
    *,
    n_trees: int = 100,
    pixels_per_class: int = 5000,
    seed: int = 0,
) -> np.ndarray:
    """Train a Random Forest on ``image``'s pixel features at the scribbled pixels and return its
    foreground probability everywhere.

    Parameters
    ----------
    image:
        2D ``(Y, X)`` or 3D ``(Z, Y, X)`` single-channel image (any real dtype).
    scribbles:
        Same shape, uint: 0 unlabeled, 1 background, 2 foreground (the class the enhancer
        predicts: foreground objects, or boundaries for a boundary enhancer).
    feature_set:
        The features the enhancer was trained with (its package's ``config.semiseg.features``).
    n_trees, pixels_per_class, seed:
        Forest size, class-balanced training sample per class, and seed.

    Returns
    -------
    np.ndarray
        float32 foreground probability with ``image``'s shape.

    Raises
    ------
    ValueError
        If shapes differ, scribbles hold values other than 0, 1, 2, or a class has no strokes.
    """
    image, scribbles = np.asarray(image), np.asarray(scribbles)
    if image.shape != scribbles.shape:
        raise ValueError(
            f"the scribbles have shape {scribbles.shape} but the image {image.shape}; draw them "
            "on the same image"
        )
    values = set(np.unique(scribbles).tolist())
    if not values <= {0, BACKGROUND, FOREGROUND}:
        raise ValueError(
            f"scribbles hold values {sorted(values)}; expected 0 (unlabeled), 1 (background) "
            "and 2 (foreground)"
        )
    missing = [
        name for v, name in ((1, "background (1)"), (2, "foreground (2)")) if v not in values
    ]
    if missing:
        raise ValueError(f"no scribbles for {' and '.join(missing)}: draw strokes for both classes")
    features = compute_features(image, feature_set)
    forest = train_random_forest(
        features,
        scribbles,
        n_per_class=pixels_per_class,
        n_trees=n_trees,
        seed=seed,
        ignore_label=0,
    )
    return predict_probabilities(forest, features, classes=FOREGROUND)
