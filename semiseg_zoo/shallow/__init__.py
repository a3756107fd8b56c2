"""shallow2deep building blocks: Random Forest pixel classifiers on precomputed features,
forests on random patches of source data, simulated scribbles and pseudo-label rectification.

Label values: 0 = unlabeled in scribbles (1 = background, 2 = foreground); dense semantic
ground truth has no unlabeled value (0 = background, 1 = foreground), selected with
``ignore_label=None``.
"""

from .patch_forests import PatchForest, random_patch, train_patch_forests
from .random_forest import predict_probabilities, sample_balanced_pixels, train_random_forest
from .rectification import ConfidenceRectifier, rectified_bce
from .scribbles import scribble_pixel_counts, simulate_scribbles

__all__ = [
    "ConfidenceRectifier",
    "PatchForest",
    "predict_probabilities",
    "random_patch",
    "rectified_bce",
    "sample_balanced_pixels",
    "scribble_pixel_counts",
    "simulate_scribbles",
    "train_patch_forests",
    "train_random_forest",
]
