"""CRAC losses (Liu et al., CVPR 2024, Sec. 4): supervision on the annotated affinity pairs,
affinity entropy, the adaptive quantile threshold and the cross-supervision of two networks.

All affinity tensors are ``(B, N, *spatial)`` in [0, 1] with 1 = same object.
"""

from __future__ import annotations

import torch

# torch.quantile refuses inputs above 2**24 elements; larger sets are subsampled.
_MAX_QUANTILE_ELEMENTS = 2**24


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the pairs where ``mask`` is true (Eq. 3); 0 without any."""
    mask = mask.to(prediction.dtype)
    return ((prediction - target) ** 2 * mask).sum() / mask.sum().clamp(min=1.0)


def affinity_entropy(affinities: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Binary entropy ``-a log a - (1 - a) log(1 - a)`` of every affinity (Eq. 4), in nats."""
    a = affinities.clamp(eps, 1.0 - eps)
    return -a * torch.log(a) - (1.0 - a) * torch.log(1.0 - a)


def adaptive_quantile(
    step: int, total_steps: int, alpha0: float = 0.05, power: float = 1.5
) -> float:
    """``α_t = α0 (1 − t/T)^p`` (Eq. 6): the fraction of most uncertain affinities left out of
    cross-supervision at step ``t``, shrinking from ``α0`` to 0 at ``T``.

    Examples
    --------
    >>> adaptive_quantile(0, 100), adaptive_quantile(100, 100), round(adaptive_quantile(50, 100), 5)
    (0.05, 0.0, 0.01768)
    """
    if total_steps < 1 or not 0 <= step <= total_steps:
        raise ValueError(
            f"need 0 <= step <= total_steps and total_steps >= 1, got {step}, {total_steps}"
        )
    return alpha0 * (1.0 - step / total_steps) ** power


def confident_by_entropy(
    entropy: torch.Tensor,
    region: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Indicator of the confident affinities (Eq. 5): inside ``region``, entropy below the
    ``1 − α`` quantile γ_t of the entropies in ``region`` (the top ``α`` are left out).

    Parameters
    ----------
    entropy:
        Affinity entropies.
    region:
        bool, where the quantile is taken and where the result may be true.
    alpha:
        α_t in [0, 1); 0 keeps every affinity of ``region``.
    generator:
        Draws the subsample when ``region`` holds more than 2**24 values.
    """
    if not 0.0 <= alpha < 1.0:
        raise ValueError(f"alpha must be in [0, 1), got {alpha}")
    values = entropy[region]
    if alpha == 0.0 or values.numel() == 0:
        return region.clone()
    if values.numel() > _MAX_QUANTILE_ELEMENTS:
        index = torch.randint(
            values.numel(), (_MAX_QUANTILE_ELEMENTS,), generator=generator, device=values.device
        )
        values = values[index]
    gamma = torch.quantile(values.float(), 1.0 - alpha)
    return region & (entropy < gamma)


def cross_supervision_loss(
    implicit: torch.Tensor,
    explicit: torch.Tensor,
    implicit_confident: torch.Tensor,
    explicit_confident: torch.Tensor,
    unannotated: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(L_c1, L_c2)`` of Eq. 9 on the unannotated pairs R_a^U.

    Each network is pulled towards the other's detached prediction where the other is
    confident; both sums are divided by the number of unannotated pairs ``|R_a^U|``.
    """
    count = unannotated.sum().clamp(min=1).to(implicit.dtype)
    weight_1 = (explicit_confident & unannotated).to(implicit.dtype)
    weight_2 = (implicit_confident & unannotated).to(implicit.dtype)
    loss_1 = ((implicit - explicit.detach()) ** 2 * weight_1).sum() / count
    loss_2 = ((explicit - implicit.detach()) ** 2 * weight_2).sum() / count
    return loss_1, loss_2


def error_targets(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Ground-truth error map for the CPSN: 1 where the affinity is on the wrong side of 0.5."""
    return ((prediction > 0.5) != (target > 0.5)).to(prediction.dtype)
