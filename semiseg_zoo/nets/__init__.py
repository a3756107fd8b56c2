"""Torch architectures; each file is self-contained so it can be copied into a package."""

from pathlib import Path

from .unet import CosineAffinityUNet2d, CosineAffinityUNet3d, UNet2d, UNet3d, cosine_affinities

ARCHITECTURES = {
    "UNet2d": UNet2d,
    "UNet3d": UNet3d,
    "CosineAffinityUNet2d": CosineAffinityUNet2d,
    "CosineAffinityUNet3d": CosineAffinityUNet3d,
}


def architecture_source(name: str) -> Path:
    """Return the path of the self-contained source file that defines architecture ``name``."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {name!r}; expected one of {sorted(ARCHITECTURES)}")
    return Path(__file__).parent / "unet.py"


__all__ = [
    "ARCHITECTURES",
    "CosineAffinityUNet2d",
    "CosineAffinityUNet3d",
    "UNet2d",
    "UNet3d",
    "architecture_source",
    "cosine_affinities",
]
