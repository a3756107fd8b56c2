"""Run a package's network on numpy batches: onnxruntime, TorchScript or a state dict."""

from __future__ import annotations

import io
from typing import Literal, Protocol

import numpy as np

from .package import Package, PackageError

WeightFormat = Literal["auto", "onnx", "torchscript", "pytorch_state_dict"]
Device = Literal["auto", "cpu", "cuda"]
RUNNABLE_FORMATS = ("onnx", "torchscript", "pytorch_state_dict")


class Runner(Protocol):
    """Maps a float32 batch ``(B, C, ...)`` to the network output ``(B, C_out, ...)``."""

    weight_format: str
    device: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...


def _cuda_available(weight_format: str) -> bool:
    """Whether the engine behind ``weight_format`` can use a GPU (onnx never imports torch)."""
    if weight_format == "onnx":
        import onnxruntime as ort

        return "CUDAExecutionProvider" in ort.get_available_providers()
    import torch

    return torch.cuda.is_available()


def resolve_device(device: Device, weight_format: str = "torchscript") -> str:
    """``auto`` → ``cuda`` if the engine for ``weight_format`` sees a GPU, else ``cpu``."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"`device` must be auto, cpu or cuda, got {device!r}")
    if device == "auto":
        return "cuda" if _cuda_available(weight_format) else "cpu"
    if device == "cuda" and not _cuda_available(weight_format):
        raise ValueError(
            f"`device` is 'cuda' but no CUDA device is available to {weight_format}; "
            "use cpu or auto"
        )
    return device


class OnnxRunner:
    weight_format = "onnx"

    def __init__(self, package: Package, device: str) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        weights = package.description.weights.onnx
        assert weights is not None
        self.session = ort.InferenceSession(weights.get_reader().read(), providers=providers)
        self.input_name = self.session.get_inputs()[0].name
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch.astype(np.float32, copy=False)})[0]


class _TorchRunner:
    def __init__(self, module, device: str) -> None:
        import torch

        self.torch = torch
        self.module = module.to(device).eval()
        self.device = device

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        with self.torch.no_grad():
            tensor = self.torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32))
            output = self.module(tensor.to(self.device))
        if isinstance(output, (tuple, list)):
            output = output[0]
        return output.float().cpu().numpy()


class TorchscriptRunner(_TorchRunner):
    weight_format = "torchscript"

    def __init__(self, package: Package, device: str) -> None:
        import torch

        weights = package.description.weights.torchscript
        assert weights is not None
        buffer = io.BytesIO(weights.get_reader().read())
        super().__init__(torch.jit.load(buffer, map_location=device), device)


class StateDictRunner(_TorchRunner):
    weight_format = "pytorch_state_dict"

    def __init__(self, package: Package, device: str) -> None:
        import torch
        from bioimageio.core.digest_spec import import_callable

        weights = package.description.weights.pytorch_state_dict
        assert weights is not None
        network = import_callable(weights.architecture)(**weights.architecture.kwargs)
        buffer = io.BytesIO(weights.get_reader().read())
        state = torch.load(buffer, map_location="cpu", weights_only=True)
        network.load_state_dict(state)
        super().__init__(network, device)


_RUNNERS = {
    "onnx": OnnxRunner,
    "torchscript": TorchscriptRunner,
    "pytorch_state_dict": StateDictRunner,
}


def make_runner(
    package: Package,
    *,
    weight_format: WeightFormat = "auto",
    device: Device = "auto",
    trust_code: bool = False,
) -> Runner:
    """Pick and build a runner for ``package``.

    ``auto`` prefers onnx (fastest on CPU), then torchscript, then ``pytorch_state_dict``.
    The last executes the package's Python architecture file, so it is used only for packages
    whose architecture is this library's own network source, or with ``trust_code=True``.

    Raises
    ------
    PackageError
        If no usable weight format is present (naming the formats the package has).
    """
    present = package.weight_formats
    may_run_code = trust_code or package.builtin or package.own_architecture
    if weight_format == "auto":
        candidates = [f for f in RUNNABLE_FORMATS if f in present]
        if not may_run_code and "pytorch_state_dict" in candidates and len(candidates) > 1:
            candidates.remove("pytorch_state_dict")
        if not candidates:
            raise PackageError(
                f"{package.source}: no weights this tool can run; the package has "
                f"{present or 'no weights'}, semiseg-zoo runs {list(RUNNABLE_FORMATS)}"
            )
        weight_format = candidates[0]  # type: ignore[assignment]
    if weight_format not in present:
        raise PackageError(
            f"{package.source}: the package has no {weight_format} weights (it has {present})"
        )
    if weight_format == "pytorch_state_dict" and not may_run_code:
        raise PackageError(
            f"{package.source}: pytorch_state_dict weights need the package's Python "
            "architecture file, which would run foreign code; pass --trust-code "
            "(trust_code=True) if you trust this package"
        )
    return _RUNNERS[weight_format](package, resolve_device(device, weight_format))
