"""Where and in which number format a training step runs: device, precision (float32, or
bfloat16/float16 autocast) and memory layout (channels_last)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal, get_args

import torch
from torch import nn

Precision = Literal["float32", "bfloat16", "float16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

#: What ``precision="auto"`` means on the CPU: bfloat16 autocast with channels_last measured
#: fastest for every kind's network on the development machines' AVX-512 BF16 cores (2.0-2.9x
#: float32, ``benchmarks/training_speed.py``, README "Training speed").
CPU_AUTO_PRECISION: Precision = "bfloat16"
#: ``channels_last=None`` means channels_last (faster with autocast on CPU and GPU alike).
AUTO_CHANNELS_LAST = True


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("`device` is 'cuda' but no CUDA device is available; use cpu or auto")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"`device` must be auto, cpu or cuda, got {device!r}")
    return device


def resolve_precision(precision: str, device: str) -> Precision:
    """``auto`` → mixed precision: bfloat16 on a GPU that supports it (else float16) and
    :data:`CPU_AUTO_PRECISION` on the CPU; any other value must be one of :data:`PRECISIONS`."""
    if precision == "auto":
        if device == "cuda":
            return "bfloat16" if torch.cuda.is_bf16_supported() else "float16"
        return CPU_AUTO_PRECISION
    if precision not in PRECISIONS:
        raise ValueError(f"`precision` must be auto or one of {PRECISIONS}, got {precision!r}")
    if precision == "float16" and device == "cpu":
        raise ValueError("`precision` float16 needs a GPU; use bfloat16 or float32 on the CPU")
    return precision  # type: ignore[return-value]


@dataclass(frozen=True)
class ComputeSettings:
    """How a training step runs.

    Parameters
    ----------
    device:
        ``cpu`` or ``cuda`` (see :func:`resolve_device`).
    precision:
        ``float32``, or autocast to ``bfloat16`` / ``float16`` (float16 with loss scaling, GPU
        only). Losses are always computed in float32.
    channels_last:
        Keep activations in the channels-last memory layout.
    """

    device: str = "cpu"
    precision: Precision = "float32"
    channels_last: bool = False

    @classmethod
    def resolve(
        cls, device: str = "auto", precision: str = "auto", channels_last: bool | None = None
    ) -> ComputeSettings:
        """Settings from user-facing values: ``auto`` device and precision, and
        ``channels_last=None``, pick the measured fastest."""
        device = resolve_device(device)
        layout = AUTO_CHANNELS_LAST if channels_last is None else channels_last
        return cls(device, resolve_precision(precision, device), layout)

    def autocast(self) -> contextlib.AbstractContextManager:
        """The autocast context of the forward pass (nothing for float32)."""
        if self.precision == "float32":
            return contextlib.nullcontext()
        return torch.autocast(self.device, dtype=getattr(torch, self.precision))

    def _memory_format(self, ndim: int) -> torch.memory_format:
        if not self.channels_last:
            return torch.contiguous_format
        return torch.channels_last_3d if ndim == 5 else torch.channels_last

    def prepare(self, net: nn.Module, spatial_dims: int = 2) -> nn.Module:
        """Move ``net`` to the device (and layout); returns it."""
        net.to(self.device)
        if self.channels_last:
            net.to(memory_format=self._memory_format(spatial_dims + 2))
        return net

    def inputs(self, x: torch.Tensor) -> torch.Tensor:
        """A batch on the device, in the chosen layout."""
        x = x.to(self.device, non_blocking=True)
        if self.channels_last and x.ndim in (4, 5):
            x = x.contiguous(memory_format=self._memory_format(x.ndim))
        return x

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for float16 (a no-op pass-through otherwise)."""
        return torch.amp.GradScaler(self.device, enabled=self.precision == "float16")

    def describe(self) -> dict[str, object]:
        """For run records and package metadata."""
        name = torch.cuda.get_device_name() if self.device == "cuda" else "cpu"
        return {
            "device": self.device,
            "device_name": name,
            "precision": self.precision,
            "channels_last": self.channels_last,
            "threads": torch.get_num_threads(),
        }


__all__ = [
    "CPU_AUTO_PRECISION",
    "PRECISIONS",
    "ComputeSettings",
    "Precision",
    "resolve_device",
    "resolve_precision",
]
