"""Segmentation metrics."""

from .instances import instance_scores, mean_instance_scores

__all__ = ["instance_scores", "mean_instance_scores"]
