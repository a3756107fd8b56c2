"""Large volumes: blockwise, out-of-core prediction and instance segmentation into zarr,
in this process or on a dask.distributed cluster."""

from .executor import BlockwiseOptions, default_workers, run_blocks
from .grid import BlockGrid
from .predict import predict_blockwise
from .segment import BLOCKWISE_METHODS, segment_blockwise
from .sources import ModelSource, VolumeSource

__all__ = [
    "BLOCKWISE_METHODS",
    "BlockwiseOptions",
    "BlockGrid",
    "ModelSource",
    "VolumeSource",
    "default_workers",
    "predict_blockwise",
    "run_blocks",
    "segment_blockwise",
]
