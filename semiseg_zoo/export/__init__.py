"""Trained torch module + ModelSpec → validated bioimage.io 0.5 package zip."""

from .package import WEIGHT_FORMATS, PackageTestError, export_package
from .validation import check_package

__all__ = ["WEIGHT_FORMATS", "PackageTestError", "check_package", "export_package"]
