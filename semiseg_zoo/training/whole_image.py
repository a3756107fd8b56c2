"""Whole-image forward passes used during training (validation, pseudo-labels)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


@torch.no_grad()
def predict_whole_image(
    net: nn.Module, image: np.ndarray, *, divisor: int, device: str
) -> np.ndarray:
    """Run ``net`` on one image ``(C, Y, X)``, reflect-padded at the end to multiples of
    ``divisor``; returns the output ``(C_out, Y, X)`` as float32."""
    shape = image.shape[1:]
    pads = [(-s) % divisor for s in shape]
    padded = np.pad(image, [(0, 0)] + [(0, p) for p in pads], mode="reflect")
    was_training = net.training
    net.eval()
    output = net(torch.from_numpy(np.ascontiguousarray(padded))[None].to(device))[0]
    net.train(was_training)
    crop = (slice(None),) + tuple(slice(0, s) for s in shape)
    return output.float().cpu().numpy()[crop]
