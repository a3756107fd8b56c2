"""Pure functions: network outputs (numpy) → uint32 instance labels, registered by name."""

from .affinities import (
    affinities_to_boundaries,
    agglomerated_watershed_from_affinities,
    mutex_watershed_from_affinities,
)
from .distance_watershed import distance_watershed_from_boundaries
from .embedding_clustering import hdbscan_from_embeddings, mean_shift_from_embeddings
from .embedding_mws import mutex_watershed_from_embeddings
from .embeddings import merge_close_clusters
from .labels import remove_small_objects
from .registry import (
    apply_postprocessing,
    available_methods,
    method_defaults,
    register_postprocessing,
)
from .threshold import connected_components_from_foreground
from .watershed import watershed_from_probabilities

__all__ = [
    "affinities_to_boundaries",
    "agglomerated_watershed_from_affinities",
    "apply_postprocessing",
    "available_methods",
    "method_defaults",
    "connected_components_from_foreground",
    "distance_watershed_from_boundaries",
    "hdbscan_from_embeddings",
    "mean_shift_from_embeddings",
    "merge_close_clusters",
    "mutex_watershed_from_affinities",
    "mutex_watershed_from_embeddings",
    "register_postprocessing",
    "remove_small_objects",
    "watershed_from_probabilities",
]
