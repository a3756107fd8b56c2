"""SPOCO losses for pixel-embedding networks (Wolny et al., CVPR 2022, Sec. 3.1-3.2).

Every function works on one image: embeddings ``(D, N)`` (the spatial axes flattened) and labels
``(N,)`` with ``-1`` = unlabeled, ``0`` = background (an object of its own under full
supervision) and ``> 0`` = instances. Terms are vectorised over instances with
``index_add_`` / broadcasting (no torch_scatter); only the greedy covering of the unlabeled
region by consistency anchors (Eq. 7) is a loop, and it runs without gradients.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

UNLABELED = -1
EPS = 1e-6


@dataclass(frozen=True)
class SpocoWeights:
    """Margins and weights of :func:`spoco_loss` (the paper's values as defaults).

    ``delta_v``/``delta_d``: pull / push margins (Eq. 1-2); ``kernel_threshold``: t of Eq. 3;
    ``alpha``, ``beta``, ``lambda_obj``: Eq. 5; ``gamma`` (unlabeled push) and ``delta``
    (consistency): Eq. 8; ``regularizer``: weight of the mean-norm term (footnote 1);
    ``max_anchors``: cap on the consistency anchors per image.
    """

    delta_v: float = 0.5
    delta_d: float = 2.0
    kernel_threshold: float = 0.9
    alpha: float = 1.0
    beta: float = 1.0
    lambda_obj: float = 1.0
    gamma: float = 1.0
    delta: float = 1.0
    regularizer: float = 0.001
    max_anchors: int = 32


def kernel_variance(delta_v: float, threshold: float) -> float:
    """σ² of the Gaussian kernel with ``φ = threshold`` at distance ``delta_v`` (Sec. 3.1):
    ``σ² = −δv² / (2 ln t)``."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"the kernel threshold t must be in (0, 1), got {threshold}")
    return -(delta_v**2) / (2.0 * math.log(threshold))


def instance_index(labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The labeled pixels and, for each, the index of its object in ``0..C-1``.

    Returns
    -------
    pixels:
        Flat indices of the labeled pixels (``labels >= 0``).
    index:
        Object index ``(n_labeled,)`` of each of them.
    ids:
        The label value of each object ``(C,)``, sorted.
    """
    pixels = torch.nonzero(labels >= 0).squeeze(1)
    ids, index = torch.unique(labels[pixels], return_inverse=True)
    return pixels, index, ids


def instance_means(embeddings: torch.Tensor, index: torch.Tensor, n_objects: int) -> torch.Tensor:
    """Mean embedding μ_k of every object ``(C, D)`` from embeddings ``(D, n)`` of its pixels."""
    dim = embeddings.shape[0]
    sums = embeddings.new_zeros(n_objects, dim).index_add_(0, index, embeddings.T)
    counts = torch.bincount(index, minlength=n_objects).clamp(min=1).to(embeddings.dtype)
    return sums / counts[:, None]


def pull_term(
    embeddings: torch.Tensor, index: torch.Tensor, means: torch.Tensor, delta_v: float
) -> torch.Tensor:
    """Eq. 1: ``1/C Σ_k 1/N_k Σ_i [‖μ_k − e_i‖ − δv]²₊`` over the labeled pixels ``(D, n)``."""
    n_objects = means.shape[0]
    distances = torch.linalg.vector_norm(embeddings.T - means[index], dim=1)
    hinged = torch.clamp(distances - delta_v, min=0.0) ** 2
    per_object = hinged.new_zeros(n_objects).index_add_(0, index, hinged)
    counts = torch.bincount(index, minlength=n_objects).clamp(min=1).to(hinged.dtype)
    return (per_object / counts).mean()


def push_term(means: torch.Tensor, delta_d: float) -> torch.Tensor:
    """Eq. 2 over pairs of distinct objects: ``1/(C(C−1)) Σ_{k≠l} [2δd − ‖μ_k − μ_l‖]²₊``.

    The paper's ``1/C² Σ_{k,l}`` would add the constant ``(2δd)²/C`` of the ``k = l`` terms; as in
    De Brabandere et al. (2017) they are left out. Zero for fewer than two objects.
    """
    n_objects = means.shape[0]
    if n_objects < 2:
        return means.sum() * 0.0
    differences = means[:, None, :] - means[None, :, :]
    # The norm's gradient is NaN at 0 (the diagonal), so take the norm of off-diagonal pairs only.
    off_diagonal = ~torch.eye(n_objects, dtype=torch.bool, device=means.device)
    distances = torch.linalg.vector_norm(differences[off_diagonal], dim=1)
    hinged = torch.clamp(2.0 * delta_d - distances, min=0.0) ** 2
    return hinged.sum() / (n_objects * (n_objects - 1))


def regularizer_term(means: torch.Tensor) -> torch.Tensor:
    """``1/C Σ_k ‖μ_k‖``: keeps the embeddings bounded (footnote 1)."""
    if means.shape[0] == 0:
        return means.sum() * 0.0
    return torch.linalg.vector_norm(means, dim=1).mean()


def soft_masks(embeddings: torch.Tensor, anchors: torch.Tensor, variance: float) -> torch.Tensor:
    """Eq. 3: ``S_k(i) = exp(−‖e_i − a_k‖² / (2σ²))`` for anchors ``(K, D)`` → ``(K, N)``."""
    # ‖e‖² − 2 e·a + ‖a‖² needs (K, N) memory instead of the (K, N, D) of the differences.
    squared = (
        (embeddings**2).sum(dim=0)[None, :]
        - 2.0 * anchors @ embeddings
        + (anchors**2).sum(dim=1)[:, None]
    )
    return torch.exp(-squared.clamp(min=0.0) / (2.0 * variance))


def dice_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-row Dice loss ``1 − 2 Σ p·g / (Σ p² + Σ g²)`` of ``(K, N)`` masks → ``(K,)``.

    The squared denominator is the V-Net form (Milletari et al. 2016), the paper's ref. [36].
    """
    overlap = (prediction * target).sum(dim=1)
    denominator = (prediction**2).sum(dim=1) + (target**2).sum(dim=1)
    return 1.0 - 2.0 * overlap / denominator.clamp(min=EPS)


def random_pixel_per_object(index: torch.Tensor, n_objects: int, generator=None) -> torch.Tensor:
    """One uniformly drawn position (into ``index``) per object ``(C,)``: the anchor points."""
    jitter = torch.rand(index.shape[0], generator=generator, device="cpu").to(index.device)
    order = torch.argsort(index.to(jitter.dtype) + jitter)
    counts = torch.bincount(index, minlength=n_objects)
    starts = torch.cumsum(counts, 0) - counts
    return order[starts]


def object_term(
    embeddings: torch.Tensor,
    pixels: torch.Tensor,
    index: torch.Tensor,
    n_objects: int,
    variance: float,
    generator=None,
) -> torch.Tensor:
    """Eq. 4: ``1/C Σ_k D(S_k, I_k)`` with one random anchor pixel per object.

    ``embeddings`` ``(D, N)`` cover the whole image; ``pixels``/``index`` say which pixels are
    labeled and to which object they belong. Each soft mask spans the whole image.
    """
    if n_objects == 0:
        return embeddings.sum() * 0.0
    anchor_pixels = pixels[random_pixel_per_object(index, n_objects, generator)]
    masks = soft_masks(embeddings, embeddings[:, anchor_pixels].T, variance)
    targets = embeddings.new_zeros(n_objects, embeddings.shape[1])
    targets[index, pixels] = 1.0
    return dice_loss(masks, targets).mean()


def unlabeled_push_term(
    embeddings: torch.Tensor, unlabeled: torch.Tensor, means: torch.Tensor, delta_d: float
) -> torch.Tensor:
    """Eq. 6: ``1/C Σ_k 1/N_U Σ_{i∈U} [δd − ‖μ_k − e_i‖]²₊``: labeled objects are pushed away
    from every pixel of the unlabeled region ``unlabeled`` (bool ``(N,)``)."""
    if means.shape[0] == 0 or not bool(unlabeled.any()):
        return embeddings.sum() * 0.0
    region = embeddings[:, unlabeled].T
    distances = torch.cdist(means[None], region[None])[0]
    return (torch.clamp(delta_d - distances, min=0.0) ** 2).mean()


def covering_anchors(
    embeddings_f: torch.Tensor,
    embeddings_g: torch.Tensor,
    region: torch.Tensor,
    delta_v: float,
    max_anchors: int,
    generator=None,
) -> torch.Tensor:
    """Anchor pixels drawn from ``region`` until it is covered (Eq. 7).

    Each anchor is a random pixel of the still uncovered region; it covers the pixels within
    ``delta_v`` of its embedding in f or in g (where the kernel is ≥ t). At most ``max_anchors``.
    """
    # A sequential, gradient-free search: numpy is much faster than torch for these small steps.
    flat_f = embeddings_f.detach().cpu().numpy()
    flat_g = embeddings_g.detach().cpu().numpy()
    uncovered = region.cpu().numpy().copy()
    anchors: list[int] = []
    while len(anchors) < max_anchors and uncovered.any():
        candidates = np.flatnonzero(uncovered)
        pick = int(torch.randint(len(candidates), (1,), generator=generator))
        pixel = int(candidates[pick])
        anchors.append(pixel)
        for flat in (flat_f, flat_g):
            squared = ((flat - flat[:, pixel : pixel + 1]) ** 2).sum(axis=0)
            uncovered &= squared > delta_v**2
        uncovered[pixel] = False
    return torch.tensor(anchors, dtype=torch.long, device=region.device)


def consistency_term(
    embeddings_f: torch.Tensor,
    embeddings_g: torch.Tensor,
    anchors: torch.Tensor,
    variance: float,
) -> torch.Tensor:
    """Eq. 7: ``1/K Σ_k D(S_k^f, S_k^g)`` for anchor pixels ``(K,)``; g is a fixed target."""
    if anchors.numel() == 0:
        return embeddings_f.sum() * 0.0
    masks_f = soft_masks(embeddings_f, embeddings_f[:, anchors].T, variance)
    with torch.no_grad():
        masks_g = soft_masks(embeddings_g, embeddings_g[:, anchors].T, variance)
    return dice_loss(masks_f, masks_g).mean()


def spoco_loss(
    embeddings_f: torch.Tensor,
    embeddings_g: torch.Tensor,
    labels: torch.Tensor,
    weights: SpocoWeights = SpocoWeights(),
    generator=None,
) -> dict[str, torch.Tensor]:
    """The SPOCO loss of one image (Eq. 8; Eq. 5 when nothing is unlabeled).

    Parameters
    ----------
    embeddings_f:
        Embeddings ``(D, *spatial)`` of the trained network f on one augmentation.
    embeddings_g:
        Embeddings of the momentum network g on another geometry-preserving augmentation.
    labels:
        int labels ``(*spatial)``: ``-1`` unlabeled, ``0`` background (an object of its own,
        under full supervision), ``> 0`` objects.
    weights:
        Margins and loss weights.
    generator:
        torch CPU generator for the anchors (seeded training).

    Returns
    -------
    dict
        ``total`` and each weighted term's value: ``pull``, ``push``, ``regularizer``,
        ``object``, ``unlabeled_push``, ``consistency``. The consistency anchors cover the
        unlabeled region, or the whole image when every pixel is labeled (full supervision).
    """
    dim = embeddings_f.shape[0]
    flat_f = embeddings_f.reshape(dim, -1)
    flat_g = embeddings_g.reshape(dim, -1).detach()
    flat_labels = labels.reshape(-1)
    variance = kernel_variance(weights.delta_v, weights.kernel_threshold)

    pixels, index, ids = instance_index(flat_labels)
    n_objects = int(ids.numel())
    means = instance_means(flat_f[:, pixels], index, n_objects)
    unlabeled = flat_labels == UNLABELED
    terms = {
        "pull": weights.alpha * pull_term(flat_f[:, pixels], index, means, weights.delta_v)
        if n_objects
        else flat_f.sum() * 0.0,
        "push": weights.beta * push_term(means, weights.delta_d),
        "regularizer": weights.regularizer * regularizer_term(means),
        "object": weights.lambda_obj
        * object_term(flat_f, pixels, index, n_objects, variance, generator),
        "unlabeled_push": weights.gamma
        * unlabeled_push_term(flat_f, unlabeled, means, weights.delta_d),
    }
    if weights.delta > 0:
        region = unlabeled if bool(unlabeled.any()) else torch.ones_like(unlabeled)
        anchors = covering_anchors(
            flat_f.detach(), flat_g, region, weights.delta_v, weights.max_anchors, generator
        )
        terms["consistency"] = weights.delta * consistency_term(flat_f, flat_g, anchors, variance)
    else:
        terms["consistency"] = flat_f.sum() * 0.0
    terms["total"] = sum(terms.values())
    return terms
