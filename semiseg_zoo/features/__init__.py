"""ilastik-style pixel features (Gaussian, LoG, gradient magnitude, DoG, structure tensor and
Hessian eigenvalues at several scales) for random-forest pixel classification."""

from .filters import FEATURE_NAMES
from .stack import DEFAULT_SIGMAS, FeatureSet, compute_features, n_features

__all__ = ["DEFAULT_SIGMAS", "FEATURE_NAMES", "FeatureSet", "compute_features", "n_features"]
