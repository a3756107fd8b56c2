"""ACTIS pseudo-labels: test-time-augmented teacher predictions (Eq. 1), hard labels (Eq. 2)
and the reliability mask from class-wise percentile thresholds with an EMA (Eq. 3-4)."""

from __future__ import annotations

import math

import torch
from torch import nn

#: The 8 transforms of the dihedral group on the last two axes: (90° rotations k, flip).
DIHEDRAL_TRANSFORMS: tuple[tuple[int, bool], ...] = tuple(
    (k, flip) for k in range(4) for flip in (False, True)
)


def dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    """Flip the last axis (if ``flip``), then rotate the last two axes by ``k`` × 90°."""
    if flip:
        x = x.flip(-1)
    return torch.rot90(x, k, dims=(-2, -1))


def inverse_dihedral(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    """Undo :func:`dihedral` with the same ``k`` and ``flip``."""
    x = torch.rot90(x, -k, dims=(-2, -1))
    return x.flip(-1) if flip else x


@torch.no_grad()
def tta_prediction(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """ACTIS Eq. 1: the mean over the 8 flips / 90° rotations ``t_i`` of
    ``t_i^-1(net(t_i(images)))`` for a batch ``(B, C, Y, X)``.

    Square patches keep all 8 transformed batches the same shape; other shapes work as long as
    ``net`` accepts both orientations.
    """
    total = torch.zeros((), device=images.device)
    for k, flip in DIHEDRAL_TRANSFORMS:
        total = total + inverse_dihedral(net(dihedral(images, k, flip)).float(), k, flip)
    return total / len(DIHEDRAL_TRANSFORMS)


class ClassThresholds:
    """Class-wise confidence thresholds ``p̄_c`` of ACTIS (Eq. 3-4).

    Each :meth:`update` computes, per class ``c``, the ``quantile`` (k = 0.2 in ACTIS) of the
    teacher's scores ``ŷ_{j,c}`` over the pixels ``j`` whose pseudo-label is ``c``, and moves
    ``p̄_c`` towards it: ``p̄_c ← ema · p̄_c + (1 - ema) · p_c``. The first value seen for a class
    initialises its threshold (the paper leaves ``p_{c,0}`` open). Classes absent from a batch
    keep their threshold.

    Parameters
    ----------
    n_classes:
        Number of classes ``C``.
    quantile:
        The percentile ``k`` as a fraction in (0, 1).
    ema:
        Smoothing factor of the exponential moving average over iterations.
    """

    def __init__(self, n_classes: int, *, quantile: float = 0.2, ema: float = 0.99) -> None:
        if not 0 < quantile < 1:
            raise ValueError(f"`quantile` must be in (0, 1), got {quantile}")
        if not 0 <= ema < 1:
            raise ValueError(f"`ema` must be in [0, 1), got {ema}")
        self.quantile = quantile
        self.ema = ema
        self.values = [math.nan] * n_classes

    def state_dict(self) -> dict[str, list[float]]:
        """The current thresholds (for checkpoints)."""
        return {"values": list(self.values)}

    def load_state_dict(self, state: dict[str, list[float]]) -> None:
        """Restore thresholds saved by :meth:`state_dict`."""
        if len(state["values"]) != len(self.values):
            raise ValueError(
                f"saved thresholds are for {len(state['values'])} classes, not {len(self.values)}"
            )
        self.values = [float(v) for v in state["values"]]

    def update(self, scores: torch.Tensor, labels: torch.Tensor) -> list[float]:
        """Update with teacher ``scores (B, C, ...)`` and their hard ``labels (B, ...)``."""
        confidence = scores.gather(1, labels.unsqueeze(1)).squeeze(1)
        for c in range(len(self.values)):
            selected = confidence[labels == c]
            if selected.numel() == 0:
                continue
            value = _quantile(selected, self.quantile)
            previous = self.values[c]
            self.values[c] = (
                value if math.isnan(previous) else self.ema * previous + (1 - self.ema) * value
            )
        return list(self.values)

    def reliable(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """ACTIS Eq. 3: True where the score of the pixel's pseudo-label class exceeds that
        class's threshold (classes without a threshold yet are all reliable)."""
        confidence = scores.gather(1, labels.unsqueeze(1)).squeeze(1)
        thresholds = torch.tensor(
            [-math.inf if math.isnan(v) else v for v in self.values],
            dtype=confidence.dtype,
            device=confidence.device,
        )
        return confidence > thresholds[labels]


def _quantile(values: torch.Tensor, q: float) -> float:
    # torch.quantile refuses inputs above 2**24 elements; kthvalue has no such limit.
    values = values.flatten().float()
    position = q * (values.numel() - 1)
    low, high = math.floor(position), math.ceil(position)
    low_value = torch.kthvalue(values, low + 1).values.item()
    if high == low:
        return low_value
    high_value = torch.kthvalue(values, high + 1).values.item()
    return low_value + (position - low) * (high_value - low_value)


def pseudo_labels(
    teacher: nn.Module, images: torch.Tensor, thresholds: ClassThresholds
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Teacher scores (Eq. 1), hard labels (Eq. 2) and reliability mask (Eq. 3) for a batch.

    Updates ``thresholds`` with this batch first (Eq. 4), then applies them.
    """
    scores = tta_prediction(teacher, images)
    labels = scores.argmax(1)
    thresholds.update(scores, labels)
    return scores, labels, thresholds.reliable(scores, labels)
