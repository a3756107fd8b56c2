"""Segmentation metrics on label images (pure numpy, with elf): instance, CVPPP and EM scores.

:func:`evaluate_pair` computes any of :data:`METRICS` for one image; :func:`evaluate_pairs`
adds the mean over images.
"""

from .cvppp import abs_difference_in_count, symmetric_best_dice
from .evaluate import (
    METRIC_GROUPS,
    METRICS,
    Evaluation,
    evaluate_pair,
    evaluate_pairs,
    mean_scores,
    resolve_metrics,
)
from .inputs import check_label_images, count_objects
from .instances import (
    AP_10_90_THRESHOLDS,
    DSB_THRESHOLDS,
    ap,
    ap_10_90,
    dsb_map,
    instance_metrics,
    instance_scores,
    mean_instance_scores,
)
from .matching import MatchCounts, match_counts
from .partitions import VariationOfInformation, adapted_rand_error, variation_of_information

__all__ = [
    "AP_10_90_THRESHOLDS",
    "DSB_THRESHOLDS",
    "METRICS",
    "METRIC_GROUPS",
    "Evaluation",
    "MatchCounts",
    "VariationOfInformation",
    "abs_difference_in_count",
    "adapted_rand_error",
    "ap",
    "ap_10_90",
    "check_label_images",
    "count_objects",
    "dsb_map",
    "evaluate_pair",
    "evaluate_pairs",
    "instance_metrics",
    "instance_scores",
    "match_counts",
    "mean_instance_scores",
    "mean_scores",
    "resolve_metrics",
    "symmetric_best_dice",
    "variation_of_information",
]
