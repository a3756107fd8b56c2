"""Write a torch module's weights in the three formats a package carries."""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

ONNX_OPSET = 17


def write_state_dict(net: nn.Module, path: Path) -> Path:
    """Save ``net.state_dict()`` (loadable with ``torch.load(weights_only=True)``)."""
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, path)
    return path


def write_torchscript(net: nn.Module, sample: torch.Tensor, path: Path) -> Path:
    """Trace ``net`` on ``sample`` and save the TorchScript module."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        traced = torch.jit.trace(net, sample)
    traced.save(str(path))
    return path


def write_onnx(
    net: nn.Module, sample: torch.Tensor, path: Path, *, opset: int = ONNX_OPSET
) -> Path:
    """Export ``net`` to ONNX with the TorchScript-based exporter (``dynamo=False``) and dynamic
    batch and spatial axes, as ilastik and deepImageJ need."""
    spatial = {axis: f"dim{axis}" for axis in range(2, sample.ndim)}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net,
            (sample,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            opset_version=opset,
            dynamic_axes={"input": {0: "batch", **spatial}, "output": {0: "batch", **spatial}},
            dynamo=False,
        )
    return path
