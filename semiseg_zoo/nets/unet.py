"""2D and 3D U-Nets, and U-Nets whose output is the cosine affinity of pixel embeddings.

This file is self-contained (it imports only ``torch``): the exporter copies it verbatim into
model packages as the architecture source of the ``pytorch_state_dict`` weights.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

Norm = Literal["batch", "group", "instance", "none"]
Activation = Literal["softmax", "sigmoid", "none"]


def _norm_layer(norm: str, ndim: int, channels: int) -> nn.Module:
    if norm == "batch":
        return (nn.BatchNorm2d if ndim == 2 else nn.BatchNorm3d)(channels)
    if norm == "instance":
        return (nn.InstanceNorm2d if ndim == 2 else nn.InstanceNorm3d)(channels, affine=True)
    if norm == "group":
        return nn.GroupNorm(math.gcd(8, channels), channels)
    return nn.Identity()


class _ConvBlock(nn.Sequential):
    def __init__(self, ndim: int, in_channels: int, out_channels: int, norm: str) -> None:
        conv = nn.Conv2d if ndim == 2 else nn.Conv3d
        # A conv followed by a norm layer needs no bias.
        bias = norm == "none"
        super().__init__(
            conv(in_channels, out_channels, 3, padding=1, bias=bias),
            _norm_layer(norm, ndim, out_channels),
            nn.ReLU(inplace=True),
            conv(out_channels, out_channels, 3, padding=1, bias=bias),
            _norm_layer(norm, ndim, out_channels),
            nn.ReLU(inplace=True),
        )


class _UNet(nn.Module):
    ndim = 2

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        depth: int = 4,
        base_features: int = 16,
        norm: Norm = "batch",
        final_activation: Activation = "none",
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"`depth` must be >= 1, got {depth}")
        if norm not in ("batch", "group", "instance", "none"):
            raise ValueError(f"`norm` must be batch, group, instance or none, got {norm!r}")
        if final_activation not in ("softmax", "sigmoid", "none"):
            raise ValueError(
                f"`final_activation` must be softmax, sigmoid or none, got {final_activation!r}"
            )
        conv = nn.Conv2d if self.ndim == 2 else nn.Conv3d
        up_conv = nn.ConvTranspose2d if self.ndim == 2 else nn.ConvTranspose3d
        pool = nn.MaxPool2d if self.ndim == 2 else nn.MaxPool3d
        features = [base_features * 2**level for level in range(depth)]

        self.encoders = nn.ModuleList()
        channels = in_channels
        for f in features[:-1]:
            self.encoders.append(_ConvBlock(self.ndim, channels, f, norm))
            channels = f
        self.pool = pool(2)
        self.bottom = _ConvBlock(self.ndim, channels, features[-1], norm)
        self.upsamplers = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for f_low, f_high in zip(reversed(features[:-1]), reversed(features[1:]), strict=True):
            self.upsamplers.append(up_conv(f_high, f_low, 2, stride=2))
            self.decoders.append(_ConvBlock(self.ndim, 2 * f_low, f_low, norm))
        self.head = conv(features[0], out_channels, 1)
        if final_activation == "softmax":
            self.activation: nn.Module = nn.Softmax(dim=1)
        elif final_activation == "sigmoid":
            self.activation = nn.Sigmoid()
        else:
            self.activation = nn.Identity()
        self.depth = depth

    @property
    def divisor(self) -> int:
        """Each spatial input size must be a multiple of this number."""
        return 2 ** (self.depth - 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Return the output before the final activation (for training losses)."""
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottom(x)
        for upsample, decoder, skip in zip(
            self.upsamplers, self.decoders, reversed(skips), strict=True
        ):
            x = decoder(torch.cat([skip, upsample(x)], dim=1))
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.forward_logits(x))


class UNet2d(_UNet):
    """2D U-Net with inputs of shape ``(B, C, Y, X)``; Y and X must be multiples of ``divisor``.

    Parameters
    ----------
    in_channels, out_channels:
        Number of input and output channels.
    depth:
        Number of resolution levels (``depth - 1`` poolings).
    base_features:
        Feature maps at the first level; doubled at each level below.
    norm:
        ``batch`` (recommended for tiled inference), ``group``, ``instance`` or ``none``.
    final_activation:
        ``softmax`` over channels, ``sigmoid`` or ``none``.
    """

    ndim = 2


class UNet3d(_UNet):
    """3D U-Net with inputs of shape ``(B, C, Z, Y, X)``; see :class:`UNet2d` for parameters."""

    ndim = 3


def shift_to_offset(x: torch.Tensor, offset: tuple[int, ...]) -> torch.Tensor:
    """``y[..., i] = x[..., i + offset]`` over the trailing spatial axes of ``x``, zero where
    ``i + offset`` leaves the image (traceable and ONNX-exportable: no data-dependent shapes)."""
    pads: list[int] = []
    for axis, step in enumerate(offset):
        dim = x.ndim - len(offset) + axis
        if step > 0:
            x = x.narrow(dim, step, x.shape[dim] - step)
        elif step < 0:
            x = x.narrow(dim, 0, x.shape[dim] + step)
        pads = [max(-step, 0), max(step, 0)] + pads  # F.pad lists the last axis first
    return nn.functional.pad(x, pads)


def cosine_affinities(
    embeddings: torch.Tensor, offsets: list[tuple[int, ...]], eps: float = 1e-6
) -> torch.Tensor:
    """Affinities ``relu(cos(e_i, e_{i+n}))`` in [0, 1] for each offset ``n`` (CRAC, Eq. 2).

    ``embeddings`` is ``(B, D, *spatial)``; the result is ``(B, N, *spatial)``, 0 where the
    pair leaves the image. ReLU maps the cosine into [0, 1] as the paper does for inference.
    """
    unit = embeddings / (embeddings.norm(dim=1, keepdim=True) + eps)
    channels = [(unit * shift_to_offset(unit, tuple(o))).sum(dim=1) for o in offsets]
    return torch.relu(torch.stack(channels, dim=1))


class _CosineAffinityUNet(_UNet):
    def __init__(
        self,
        in_channels: int = 1,
        embedding_dim: int = 16,
        offsets: list[list[int]] | None = None,
        depth: int = 4,
        base_features: int = 16,
        norm: Norm = "batch",
    ) -> None:
        if not offsets or any(len(o) != self.ndim for o in offsets):
            raise ValueError(f"`offsets` must be a non-empty list of {self.ndim}D offsets")
        super().__init__(in_channels, embedding_dim, depth, base_features, norm, "none")
        self.offsets = [tuple(int(v) for v in o) for o in offsets]

    def embeddings(self, x: torch.Tensor) -> torch.Tensor:
        """The pixel embeddings ``(B, D, *spatial)`` the affinities are computed from."""
        return self.forward_logits(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cosine_affinities(self.forward_logits(x), self.offsets)


class CosineAffinityUNet2d(_CosineAffinityUNet):
    """2D U-Net predicting ``embedding_dim``-D pixel embeddings, output as their cosine
    affinities (ReLU, [0, 1]) for each of ``offsets``: ``(B, C, Y, X) → (B, N, Y, X)``.

    Parameters
    ----------
    in_channels:
        Number of input channels.
    embedding_dim:
        Dimension D of the pixel embeddings.
    offsets:
        ``N`` pixel offsets ``[dy, dx]``; channel ``n`` pairs pixel ``i`` with ``i + offsets[n]``.
    depth, base_features, norm:
        As :class:`UNet2d`.
    """

    ndim = 2


class CosineAffinityUNet3d(_CosineAffinityUNet):
    """3D version of :class:`CosineAffinityUNet2d` with ``[dz, dy, dx]`` offsets."""

    ndim = 3
