"""Confidence-based pseudo-label rectification (shallow2deep Eq. 6-8) on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from semiseg_zoo.shallow import ConfidenceRectifier, rectified_bce

# Batch A. Foreground S1 = {p1 | y1 > 0.5} = {0.9, 0.6}, mean 0.75.
# Background p0 = [0.1, 0.8, 0.4], y0 = [0, 1, 0.2]: S0 = {0.8}, mean 0.8.
P1_A = torch.tensor([0.9, 0.2, 0.6], dtype=torch.float64)
Y1_A = torch.tensor([1.0, 0.0, 0.8], dtype=torch.float64)
# Batch B. S1 = {0.7}; p0 = [0.3, 0.9, 0.6], y0 = [0.1, 0.7, 0.8]: S0 = {0.9, 0.6}, mean 0.75.
P1_B = torch.tensor([0.7, 0.1, 0.4], dtype=torch.float64)
Y1_B = torch.tensor([0.9, 0.3, 0.2], dtype=torch.float64)


def _close(actual: torch.Tensor, expected: list[float]) -> None:
    torch.testing.assert_close(actual, torch.tensor(expected, dtype=actual.dtype))


def test_first_update_sets_eta_to_the_batch_means() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    assert rectifier.eta1 is None and rectifier.eta0 is None
    rectifier.update(P1_A, Y1_A)
    assert rectifier.eta1 == pytest.approx(0.75)
    assert rectifier.eta0 == pytest.approx(0.8)
    w1, w0 = rectifier.weights(P1_A)
    _close(w1, [1 - 0.15, 1 - 0.55, 1 - 0.15])  # 1 - |p1 - 0.75|
    _close(w0, [1 - 0.7, 1 - 0.0, 1 - 0.4])  # 1 - |p0 - 0.8|
    y1_hat, y0_hat = rectifier.rectify(Y1_A, P1_A)
    _close(y1_hat, [0.85 * 1.0, 0.45 * 0.0, 0.85 * 0.8])
    _close(y0_hat, [0.3 * 0.0, 1.0 * 1.0, 0.6 * 0.2])


def test_later_updates_blend_with_momentum() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    rectifier.update(P1_A, Y1_A)
    rectifier.update(P1_B, Y1_B)
    assert rectifier.eta1 == pytest.approx(0.5 * 0.75 + 0.5 * 0.7)  # 0.725
    assert rectifier.eta0 == pytest.approx(0.5 * 0.8 + 0.5 * 0.75)  # 0.775
    w1, w0 = rectifier.weights(P1_A)
    _close(w1, [0.825, 0.475, 0.875])
    _close(w0, [0.325, 0.975, 0.625])
    y1_hat, y0_hat = rectifier.rectify(Y1_A, P1_A)
    _close(y1_hat, [0.825, 0.0, 0.7])
    _close(y0_hat, [0.0, 0.975, 0.125])


def test_paper_momentum_moves_eta_slowly() -> None:
    rectifier = ConfidenceRectifier()
    assert rectifier.momentum == 0.999
    rectifier.update(P1_A, Y1_A)
    rectifier.update(P1_B, Y1_B)
    assert rectifier.eta1 == pytest.approx(0.999 * 0.75 + 0.001 * 0.7)


def test_empty_s_leaves_eta_unchanged() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    rectifier.update(P1_A, Y1_A)
    # No y1 > 0.5 (0.5 is not > 0.5): η1 stays; y0 = [0.8, 0.5] gives S0 = {1 - 0.3} = {0.7}.
    rectifier.update(torch.tensor([0.3, 0.9]), torch.tensor([0.2, 0.5]))
    assert rectifier.eta1 == pytest.approx(0.75)
    assert rectifier.eta0 == pytest.approx(0.5 * 0.8 + 0.5 * 0.7)


def test_unset_eta_gives_weight_one() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    w1, w0 = rectifier.weights(P1_A)
    _close(w1, [1.0, 1.0, 1.0])
    _close(w0, [1.0, 1.0, 1.0])
    # Only foreground pseudo-labels seen: η0 is still unset.
    rectifier.update(torch.tensor([0.6, 0.8]), torch.tensor([0.9, 1.0]))
    assert rectifier.eta1 == pytest.approx(0.7) and rectifier.eta0 is None
    w1, w0 = rectifier.weights(P1_A)
    _close(w1, [0.8, 0.5, 0.9])
    _close(w0, [1.0, 1.0, 1.0])


def test_rectify_and_weights_do_not_update() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    rectifier.update(P1_A, Y1_A)
    rectifier.weights(P1_B)
    rectifier.rectify(Y1_B, P1_B)
    assert (rectifier.eta1, rectifier.eta0) == (pytest.approx(0.75), pytest.approx(0.8))


def test_any_shape_counts_all_pixels_of_the_batch() -> None:
    rectifier = ConfidenceRectifier()
    p1 = torch.tensor([[[[0.9, 0.2]], [[0.6, 0.1]]]])  # (B=1, C=2, 1, 2)
    y1 = torch.tensor([[[[1.0, 0.0]], [[0.8, 0.0]]]])
    rectifier.update(p1, y1)
    assert rectifier.eta1 == pytest.approx(0.75)
    assert rectifier.eta0 == pytest.approx(0.85)
    assert rectifier.rectify(y1, p1)[0].shape == p1.shape


def test_rectified_bce_value_and_gradient() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    p1 = P1_A.clone().requires_grad_(True)
    loss = rectified_bce(p1, Y1_A, rectifier)
    # The update ran first (η = 0.75, 0.8), so ŷ1 = [0.85, 0, 0.68] and ŷ0 = [0, 1, 0.12].
    expected = -(0.85 * math.log(0.9) + 0.68 * math.log(0.6) + math.log(0.8) + 0.12 * math.log(0.4))
    assert loss.item() == pytest.approx(expected / 3)
    assert rectifier.eta1 == pytest.approx(0.75)
    loss.backward()
    # The targets are constants: d/dp1 of -(ŷ1 log p1 + ŷ0 log(1 - p1)) / N only.
    expected_grad = [-0.85 / 0.9 / 3, 1.0 / 0.8 / 3, (-0.68 / 0.6 + 0.12 / 0.4) / 3]
    _close(p1.grad, expected_grad)


def test_rectified_bce_without_update_keeps_eta() -> None:
    rectifier = ConfidenceRectifier(momentum=0.5)
    rectifier.update(P1_A, Y1_A)
    rectified_bce(P1_B, Y1_B, rectifier, update=False)
    assert (rectifier.eta1, rectifier.eta0) == (pytest.approx(0.75), pytest.approx(0.8))


def test_rectified_bce_is_finite_at_saturated_probabilities() -> None:
    rectifier = ConfidenceRectifier()
    loss = rectified_bce(torch.tensor([0.0, 1.0]), torch.tensor([1.0, 0.0]), rectifier)
    assert math.isfinite(loss.item()) and loss.item() > 0


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="`momentum` must lie in \\[0, 1\\], got 1.5"):
        ConfidenceRectifier(momentum=1.5)
    rectifier = ConfidenceRectifier()
    with pytest.raises(ValueError, match=r"`p1` has shape \(3,\) but `y1` has \(2,\)"):
        rectifier.update(P1_A, Y1_A[:2])
    with pytest.raises(
        TypeError, match="`y1` must be a floating-point torch tensor, got torch.int64"
    ):
        rectifier.update(P1_A, torch.tensor([1, 0, 1]))
    with pytest.raises(TypeError, match="`p1` must be a floating-point torch tensor, got float64"):
        rectifier.weights(P1_A.numpy())  # type: ignore[arg-type]
    with pytest.raises(
        ValueError, match=r"`p1` must hold probabilities in \[0, 1\], got values in \[-2"
    ):
        rectified_bce(torch.tensor([-2.0, 0.5]), torch.tensor([1.0, 0.0]), rectifier)
    with pytest.raises(
        ValueError, match="`y1` must hold probabilities in \\[0, 1\\], got values in \\[nan"
    ):
        rectifier.rectify(torch.tensor([float("nan"), 0.5]), torch.tensor([0.5, 0.5]))
    assert rectifier.eta1 is None  # nothing was updated by the failed calls
