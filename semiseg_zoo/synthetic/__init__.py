"""Synthetic images made by the project (test tensors, the demo's sample image, tests)."""

from .nuclei import synthetic_nuclei

__all__ = ["synthetic_nuclei"]
