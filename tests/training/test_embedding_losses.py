"""SPOCO loss terms against values computed by hand on tiny embeddings."""

from __future__ import annotations

import math

import pytest
import torch

from semiseg_zoo.training.embedding.losses import (
    SpocoWeights,
    consistency_term,
    covering_anchors,
    dice_loss,
    instance_index,
    instance_means,
    kernel_variance,
    object_term,
    pull_term,
    push_term,
    regularizer_term,
    soft_masks,
    spoco_loss,
    unlabeled_push_term,
)

VARIANCE = kernel_variance(0.5, 0.9)


def embeddings_1d(values: list[float]) -> torch.Tensor:
    """``(D=1, N)`` embeddings."""
    return torch.tensor([values], dtype=torch.float64)


def test_kernel_variance_gives_threshold_at_pull_margin():
    assert VARIANCE == pytest.approx(0.25 / (-2 * math.log(0.9)))  # 1.1864
    mask = soft_masks(
        embeddings_1d([0.0, 0.5, 0.0]), torch.tensor([[0.0]], dtype=torch.float64), VARIANCE
    )
    assert mask[0].tolist() == pytest.approx([1.0, 0.9, 1.0])


def test_kernel_threshold_outside_open_interval_is_rejected():
    with pytest.raises(ValueError, match="kernel threshold"):
        kernel_variance(0.5, 1.0)


def test_instance_index_ignores_unlabeled_pixels():
    pixels, index, ids = instance_index(torch.tensor([-1, 3, 0, 3, -1, 7]))
    assert pixels.tolist() == [1, 2, 3, 5]
    assert index.tolist() == [1, 0, 1, 2]
    assert ids.tolist() == [0, 3, 7]


def test_pull_term_hand_computed():
    # Object 0: pixels at 0 and 2 (mean 1, each 1 away: (1 - 0.5)² = 0.25); object 1: at 5, 5.
    embeddings = embeddings_1d([0.0, 2.0, 5.0, 5.0])
    index = torch.tensor([0, 0, 1, 1])
    means = instance_means(embeddings, index, 2)
    assert means[:, 0].tolist() == [1.0, 5.0]
    assert float(pull_term(embeddings, index, means, 0.5)) == pytest.approx((0.25 + 0.0) / 2)


def test_push_term_hand_computed():
    means = torch.tensor([[0.0], [1.0], [10.0]], dtype=torch.float64)
    # Only the pair (0, 1) is closer than 2 δd = 4: (4 − 1)² = 9, counted for (k, l) and (l, k).
    assert float(push_term(means, 2.0)) == pytest.approx(2 * 9 / (3 * 2))
    assert float(push_term(means[:1], 2.0)) == 0.0


def test_push_term_gradient_is_finite():
    means = torch.tensor([[0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    push_term(means, 2.0).backward()
    assert torch.isfinite(means.grad).all()
    assert means.grad[0, 0] > 0 > means.grad[1, 0]  # gradient descent moves them apart


def test_regularizer_is_mean_norm():
    means = torch.tensor([[3.0, 4.0], [0.0, 1.0]])
    assert float(regularizer_term(means)) == pytest.approx((5.0 + 1.0) / 2)


def test_dice_loss_hand_computed():
    prediction = torch.tensor([[1.0, 0.5], [1.0, 0.0]])
    target = torch.tensor([[1.0, 0.0], [1.0, 0.0]])
    # 1 − 2·1 / (1 + 0.25 + 1) and a perfect match.
    assert dice_loss(prediction, target).tolist() == pytest.approx([1 - 2 / 2.25, 0.0])


def test_object_term_hand_computed():
    # Two objects of two pixels each, at 0 and at δv = 0.5: each soft mask is [1, 1, .9, .9]
    # (or mirrored) whichever anchor is drawn; Dice = 1 − 4 / (2 + 2·0.81 + 2).
    embeddings = embeddings_1d([0.0, 0.0, 0.5, 0.5])
    pixels, index, ids = instance_index(torch.tensor([1, 1, 2, 2]))
    value = object_term(embeddings, pixels, index, len(ids), VARIANCE)
    assert float(value) == pytest.approx(1 - 4 / 5.62)


def test_unlabeled_push_hand_computed():
    # One object with mean 0; unlabeled pixels at 1 and 3: [2 − 1]² = 1 and [2 − 3]₊² = 0.
    embeddings = embeddings_1d([0.0, 0.0, 1.0, 3.0])
    means = torch.tensor([[0.0]], dtype=torch.float64)
    unlabeled = torch.tensor([False, False, True, True])
    assert float(unlabeled_push_term(embeddings, unlabeled, means, 2.0)) == pytest.approx(0.5)
    assert float(unlabeled_push_term(embeddings, ~unlabeled & False, means, 2.0)) == 0.0


def test_covering_anchors_cover_each_cluster_once():
    # Three groups further apart than δv: exactly one anchor per group covers the region.
    embeddings = embeddings_1d([0.0, 0.1, 5.0, 5.1, 10.0]).float()
    generator = torch.Generator().manual_seed(0)
    anchors = covering_anchors(
        embeddings, embeddings, torch.ones(5, dtype=torch.bool), 0.5, 32, generator
    )
    groups = sorted(int(embeddings[0, a] // 4) for a in anchors)
    assert groups == [0, 1, 2]
    only_last = torch.tensor([False, False, False, False, True])
    assert covering_anchors(embeddings, embeddings, only_last, 0.5, 32).tolist() == [4]


def test_covering_anchors_respect_the_cap():
    embeddings = embeddings_1d([float(i) for i in range(10)]).float()
    anchors = covering_anchors(embeddings, embeddings, torch.ones(10, dtype=torch.bool), 0.5, 4)
    assert len(anchors) == 4


def test_consistency_term_hand_computed():
    # f = [0, 0.5], g = [0, 0]: S^f = [1, .9] (or mirrored), S^g = [1, 1].
    f, g = embeddings_1d([0.0, 0.5]), embeddings_1d([0.0, 0.0])
    for anchor in (0, 1):
        value = consistency_term(f, g, torch.tensor([anchor]), VARIANCE)
        assert float(value) == pytest.approx(1 - 2 * 1.9 / (1 + 0.81 + 2))
    assert float(consistency_term(g, g, torch.tensor([0, 1]), VARIANCE)) == pytest.approx(0.0)


def test_consistency_gradient_reaches_f_only():
    f = embeddings_1d([0.0, 0.5]).requires_grad_()
    g = embeddings_1d([0.0, 0.0]).requires_grad_()
    consistency_term(f, g, torch.tensor([0]), VARIANCE).backward()
    assert f.grad.abs().sum() > 0 and g.grad is None


def test_spoco_loss_sums_weighted_terms():
    torch.manual_seed(0)
    f, g = torch.randn(4, 8, 8), torch.randn(4, 8, 8)
    labels = torch.full((8, 8), -1)
    labels[:3, :3], labels[5:, 5:] = 1, 2
    weights = SpocoWeights(alpha=2.0, gamma=0.5, delta=0.0)
    terms = spoco_loss(f, g, labels, weights, torch.Generator().manual_seed(0))
    parts = [terms[k] for k in ("pull", "push", "regularizer", "object", "unlabeled_push")]
    assert float(terms["total"]) == pytest.approx(float(sum(parts)))
    assert float(terms["consistency"]) == 0.0
    index = torch.tensor([0] * 9 + [1] * 9)
    flat = f.reshape(4, -1)[:, labels.reshape(-1) >= 0]
    means = instance_means(flat, index, 2)
    assert float(terms["pull"]) == pytest.approx(2.0 * float(pull_term(flat, index, means, 0.5)))


def test_spoco_loss_without_labels_keeps_only_consistency():
    f, g = torch.randn(4, 6, 6), torch.randn(4, 6, 6)
    terms = spoco_loss(f, g, torch.full((6, 6), -1), generator=torch.Generator().manual_seed(1))
    assert float(terms["total"]) == pytest.approx(float(terms["consistency"]))
    assert float(terms["consistency"]) > 0


def test_optimising_embeddings_with_the_loss_separates_objects():
    # Free embeddings (no network) of 3 labeled objects and an unlabeled region.
    torch.manual_seed(0)
    labels = torch.full((12, 12), -1)
    labels[:4, :4], labels[:4, 8:], labels[8:, :4] = 1, 2, 3
    f = (0.1 * torch.randn(4, 12, 12)).requires_grad_()
    optimizer = torch.optim.Adam([f], lr=0.05)
    generator = torch.Generator().manual_seed(0)
    for _ in range(300):
        terms = spoco_loss(f, f.detach(), labels, generator=generator)
        optimizer.zero_grad()
        terms["total"].backward()
        optimizer.step()
    flat, flat_labels = f.detach().reshape(4, -1), labels.reshape(-1)
    means = [flat[:, flat_labels == k].mean(dim=1) for k in (1, 2, 3)]
    spreads = [
        torch.linalg.vector_norm(flat[:, flat_labels == k] - m[:, None], dim=0).max()
        for k, m in zip((1, 2, 3), means, strict=True)
    ]
    assert max(spreads) <= 0.5 + 1e-3  # pulled within δv
    gaps = [torch.linalg.vector_norm(means[a] - means[b]) for a, b in ((0, 1), (0, 2), (1, 2))]
    assert min(gaps) >= 3.5  # pushed towards 2 δd = 4
    unlabeled = flat[:, flat_labels < 0]
    nearest = min(float(torch.cdist(m[None], unlabeled.T).min()) for m in means)
    assert nearest >= 1.5  # the unlabeled push keeps them ~δd away from the unlabeled region
