"""Package → runner (onnxruntime | torchscript | state dict) → tiled prediction with halo, TTA."""

from .model import Model, load_model
from .package import (
    DEFAULT_MODEL,
    Package,
    PackageError,
    list_builtin_models,
    load_package,
    verify_package,
)
from .processing import fixed_preprocessing
from .recipe import postprocessing_recipe
from .reproduce import OutputComparison, reproduce_test_outputs
from .runners import choose_weight_format, make_runner, resolve_device
from .tensors import run_tensors
from .tiling import ShapeRule, predict_tiled, tile_layout
from .tta import predict_with_tta

__all__ = [
    "DEFAULT_MODEL",
    "Model",
    "OutputComparison",
    "Package",
    "PackageError",
    "ShapeRule",
    "list_builtin_models",
    "load_model",
    "load_package",
    "reproduce_test_outputs",
    "run_tensors",
    "verify_package",
    "choose_weight_format",
    "fixed_preprocessing",
    "make_runner",
    "postprocessing_recipe",
    "predict_tiled",
    "predict_with_tta",
    "resolve_device",
    "tile_layout",
]
