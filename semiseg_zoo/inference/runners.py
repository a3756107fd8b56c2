"""Run a package's network on numpy batches: onnxruntime, TorchScript or a state dict."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np

from .package import Package, PackageError

WeightFormat = Literal["auto", "onnx", "torchscript", "pytorch_state_dict"]
Device = Literal["auto", "cpu", "cuda"]
RUNNABLE_FORMATS = ("onnx", "torchscript", "pytorch_state_dict")


class Runner(Protocol):
    """Maps a float32 batch ``(B, C, ...)`` to the network output ``(B, C_out, ...)``;
    ``run_all`` maps all input tensors (package order) to all output tensors."""

    weight_format: str
    device: str

    def __call__(self, batch: np.ndarray) -> np.ndarray: ...

    def run_all(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]: ...


def read_verified(package: Package, file: Any, what: str) -> bytes:
    """The bytes of a file the package declares, checked against its declared sha256.

    Raises
    ------
    PackageError
        If the file is missing or unreadable, or its content does not match the sha256.
    """
    try:
        data = file.get_reader().read()
    except Exception as error:  # missing member/file, unreadable URL: bioimageio raises many
        raise PackageError(
            f"{package.source}: the {what} file {file.source} is missing or unreadable "
            f"({type(error).__name__}: {error}); the package is incomplete: download or export "
            "it again"
        ) from None
    declared = getattr(file, "sha256", None)
    if declared is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != str(declared):
            raise PackageError(
                f"{package.source}: the {what} file {file.source} does not match the sha256 "
                f"the package declares (expected {declared}, found {actual}); it was altered "
                "or damaged: download or export the package again"
            )
    return data


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

    def __init__(self, package: Package, device: str, threads: int | None = None) -> None:
        import onnxruntime as ort

        providers = ["CPUExecutionProvider"]
        if device == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        weights = package.description.weights.onnx
        assert weights is not None
        model = read_verified(package, weights, "onnx weights")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(model, options, providers=providers)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.device = "cuda" if providers[0].startswith("CUDA") else "cpu"

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.run_all([batch])[0]

    def run_all(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        feed = {
            name: np.asarray(tensor).astype(np.float32, copy=False)
            for name, tensor in zip(self.input_names, tensors, strict=True)
        }
        return list(self.session.run(None, feed))


class _TorchRunner:
    def __init__(self, module, device: str, threads: int | None = None) -> None:
        import torch

        if threads is not None:
            torch.set_num_threads(threads)  # process-wide: torch has no per-module setting
        self.torch = torch
        self.module = module.to(device).eval()
        self.device = device

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return self.run_all([batch])[0]

    def run_all(self, tensors: Sequence[np.ndarray]) -> list[np.ndarray]:
        with self.torch.no_grad():
            inputs = [
                self.torch.from_numpy(np.ascontiguousarray(t, dtype=np.float32)).to(self.device)
                for t in tensors
            ]
            output = self.module(*inputs)
        outputs = list(output) if isinstance(output, (tuple, list)) else [output]
        return [o.float().cpu().numpy() for o in outputs]


class TorchscriptRunner(_TorchRunner):
    weight_format = "torchscript"

    def __init__(self, package: Package, device: str, threads: int | None = None) -> None:
        import torch

        weights = package.description.weights.torchscript
        assert weights is not None
        buffer = io.BytesIO(read_verified(package, weights, "torchscript weights"))
        super().__init__(torch.jit.load(buffer, map_location=device), device, threads)


class StateDictRunner(_TorchRunner):
    weight_format = "pytorch_state_dict"

    def __init__(self, package: Package, device: str, threads: int | None = None) -> None:
        import torch
        from bioimageio.core.digest_spec import import_callable
        from bioimageio.spec.model import v0_5

        weights = package.description.weights.pytorch_state_dict
        assert weights is not None
        if isinstance(weights.architecture, v0_5.ArchitectureFromFileDescr):
            # Checked before core imports (executes) it.
            read_verified(package, weights.architecture, "architecture")
        network = import_callable(weights.architecture)(**weights.architecture.kwargs)
        buffer = io.BytesIO(read_verified(package, weights, "pytorch_state_dict weights"))
        state = torch.load(buffer, map_location="cpu", weights_only=True)
        network.load_state_dict(state)
        super().__init__(network, device, threads)


_RUNNERS = {
    "onnx": OnnxRunner,
    "torchscript": TorchscriptRunner,
    "pytorch_state_dict": StateDictRunner,
}


def choose_weight_format(
    package: Package, weight_format: WeightFormat = "auto", *, trust_code: bool = False
) -> str:
    """The weight format to run: ``auto`` prefers onnx (fastest on CPU), then torchscript, then
    ``pytorch_state_dict``.

    The last executes the package's Python architecture file, so it is chosen only for packages
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
    return weight_format


def make_runner(
    package: Package,
    *,
    weight_format: WeightFormat = "auto",
    device: Device = "auto",
    trust_code: bool = False,
    threads: int | None = None,
) -> Runner:
    """Pick (see :func:`choose_weight_format`) and build a runner for ``package``.

    ``threads`` limits the CPU threads of one inference (default: the library's choice, all
    cores); blockwise workers use 1 so that several run side by side without contention.

    Raises
    ------
    PackageError
        If no usable weight format is present, or the weights are missing or damaged.
    """
    chosen = choose_weight_format(package, weight_format, trust_code=trust_code)
    if threads is not None and threads < 1:
        raise ValueError(f"`threads` must be a positive number or None, got {threads}")
    return _RUNNERS[chosen](package, resolve_device(device, chosen), threads)
