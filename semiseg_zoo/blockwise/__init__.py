"""Large volumes: blockwise, out-of-core prediction into zarr."""

from .predict import block_grid, predict_blockwise

__all__ = ["block_grid", "predict_blockwise"]
