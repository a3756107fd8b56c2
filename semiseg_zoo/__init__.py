"""semiseg-zoo: label-efficient segmentation of microscopy images with bioimage.io packages.

The API (:func:`predict`, :func:`segment`, :func:`load_model`, :func:`load_package`,
:func:`run_tensors`, :func:`export_model`) is imported
lazily so that ``import semiseg_zoo`` and the CLI's ``--help`` stay fast.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "BlockwiseOptions",
    "export_model",
    "load_model",
    "load_package",
    "predict",
    "run_tensors",
    "segment",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from semiseg_zoo import api

        return getattr(api, name)
    raise AttributeError(f"module 'semiseg_zoo' has no attribute {name!r}")
