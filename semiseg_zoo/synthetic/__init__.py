"""Synthetic images made by the project (test tensors, the demo's sample image, tests)."""

from .cells import synthetic_cells
from .leaves import synthetic_rosette
from .nuclei import synthetic_nuclei

__all__ = ["synthetic_cells", "synthetic_nuclei", "synthetic_rosette"]
