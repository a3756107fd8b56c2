"""CRAC loss terms: masked MSE, entropy, the α_t schedule, confidence and cross-supervision."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from semiseg_zoo.training.affinity.losses import (
    adaptive_quantile,
    affinity_entropy,
    confident_by_entropy,
    cross_supervision_loss,
    error_targets,
    masked_mse,
)


def test_masked_mse_averages_over_the_mask_only():
    prediction = torch.tensor([0.2, 0.9, 0.5, 0.0])
    target = torch.tensor([0.0, 1.0, 1.0, 1.0])
    mask = torch.tensor([True, True, False, False])
    assert masked_mse(prediction, target, mask).item() == pytest.approx((0.04 + 0.01) / 2)
    assert masked_mse(prediction, target, torch.zeros(4, dtype=bool)).item() == 0.0


def test_entropy_is_binary_entropy_in_nats():
    values = affinity_entropy(torch.tensor([0.5, 0.0, 1.0, 0.1]))
    assert values[0].item() == pytest.approx(math.log(2))
    assert values[1].item() < 1e-4 and values[2].item() < 1e-4
    assert values[3].item() == pytest.approx(-(0.1 * math.log(0.1) + 0.9 * math.log(0.9)), 1e-5)


@pytest.mark.parametrize(
    ("step", "expected"),
    [(0, 0.05), (250, 0.05 * 0.75**1.5), (500, 0.05 * 0.5**1.5), (1000, 0.0)],
)
def test_alpha_schedule(step, expected):
    assert adaptive_quantile(step, 1000, alpha0=0.05, power=1.5) == pytest.approx(expected)


def test_alpha_schedule_decreases_monotonically():
    values = [adaptive_quantile(t, 100) for t in range(101)]
    assert all(a > b for a, b in zip(values[:-1], values[1:], strict=True))


def test_alpha_schedule_refuses_steps_outside_training():
    with pytest.raises(ValueError, match="step"):
        adaptive_quantile(11, 10)


def test_confidence_leaves_out_the_top_alpha_entropies_of_the_region():
    entropy = torch.arange(100, dtype=torch.float32) / 100
    region = torch.ones(100, dtype=torch.bool)
    region[:10] = False
    confident = confident_by_entropy(entropy, region, alpha=0.1)
    assert not confident[:10].any()  # outside the region
    kept = confident[10:]
    assert kept.sum().item() == 81  # the 9 most uncertain of 90 are left out
    assert not kept[-9:].any() and kept[:81].all()
    assert confident_by_entropy(entropy, region, alpha=0.0).equal(region)


def test_cross_supervision_pulls_each_net_to_the_other_where_confident():
    implicit = torch.tensor([0.9, 0.1, 0.5, 0.2], requires_grad=True)
    explicit = torch.tensor([0.7, 0.4, 0.5, 0.0], requires_grad=True)
    implicit_confident = torch.tensor([True, True, False, True])
    explicit_confident = torch.tensor([True, False, True, True])
    unannotated = torch.tensor([True, True, True, False])
    loss_1, loss_2 = cross_supervision_loss(
        implicit, explicit, implicit_confident, explicit_confident, unannotated
    )
    # L_c1 uses the explicit net's confident pairs (0, 2) and L_c2 the implicit's (0, 1).
    assert loss_1.item() == pytest.approx((0.2**2 + 0.0) / 3)
    assert loss_2.item() == pytest.approx((0.2**2 + 0.3**2) / 3)
    (loss_1 + loss_2).backward()
    # The targets are detached: each loss moves only its own network.
    assert implicit.grad[0].item() == pytest.approx(2 * 0.2 / 3)
    assert explicit.grad[0].item() == pytest.approx(-2 * 0.2 / 3)


def test_error_targets_mark_the_wrong_side_of_one_half():
    prediction = torch.tensor([0.8, 0.3, 0.6, 0.1])
    target = torch.tensor([1.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(error_targets(prediction, target).numpy(), [0, 1, 1, 0])
