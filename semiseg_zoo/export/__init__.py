"""Trained torch module + ModelSpec → validated bioimage.io 0.5 package zip, and the
compatibility checks a package must pass for bioimageio.core, ilastik and deepImageJ.

``export_package`` and ``WEIGHT_FORMATS`` (which need torch) are imported lazily so that the
checks and ``semiseg-export --help`` stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .compatibility import TARGETS, CheckResult, check_compatibility, format_report
from .validation import PackageTestError, check_package

if TYPE_CHECKING:
    from .package import WEIGHT_FORMATS, export_package

_FROM_PACKAGE = ("WEIGHT_FORMATS", "export_package")

__all__ = [
    "TARGETS",
    "WEIGHT_FORMATS",
    "CheckResult",
    "PackageTestError",
    "check_compatibility",
    "check_package",
    "export_package",
    "format_report",
]


def __getattr__(name: str) -> Any:
    if name in _FROM_PACKAGE:
        from . import package

        return getattr(package, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
