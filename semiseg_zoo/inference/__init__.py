"""Package → runner (onnxruntime | torchscript | state dict) → tiled prediction with halo, TTA."""

from .model import Model, load_model
from .package import DEFAULT_MODEL, Package, PackageError, list_builtin_models, load_package
from .recipe import postprocessing_recipe
from .runners import make_runner, resolve_device
from .tiling import ShapeRule, predict_tiled, tile_layout
from .tta import predict_with_tta

__all__ = [
    "DEFAULT_MODEL",
    "Model",
    "Package",
    "PackageError",
    "ShapeRule",
    "list_builtin_models",
    "load_model",
    "load_package",
    "make_runner",
    "postprocessing_recipe",
    "predict_tiled",
    "predict_with_tta",
    "resolve_device",
    "tile_layout",
]
