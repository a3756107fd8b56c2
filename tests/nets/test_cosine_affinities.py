"""Cosine affinities of pixel embeddings (CRAC Eq. 2) and the networks that output them."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from semiseg_zoo.nets import CosineAffinityUNet2d, CosineAffinityUNet3d, cosine_affinities
from semiseg_zoo.nets.unet import shift_to_offset


def brute_force(embeddings: np.ndarray, offsets: list[list[int]]) -> np.ndarray:
    spatial = embeddings.shape[1:]
    result = np.zeros((len(offsets), *spatial))
    for n, offset in enumerate(offsets):
        for index in itertools.product(*(range(s) for s in spatial)):
            other = tuple(i + o for i, o in zip(index, offset, strict=True))
            if all(0 <= j < s for j, s in zip(other, spatial, strict=True)):
                a, b = embeddings[(slice(None), *index)], embeddings[(slice(None), *other)]
                result[(n, *index)] = max(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)), 0)
    return result


@pytest.mark.parametrize(
    ("shape", "offsets"),
    [((6, 7), [[-1, 0], [0, -1], [0, 3], [2, -2]]), ((3, 4, 5), [[-1, 0, 0], [0, 1, 2]])],
)
def test_cosine_affinities_match_a_brute_force_loop(shape, offsets):
    embeddings = np.random.default_rng(0).normal(size=(4, *shape))
    result = cosine_affinities(torch.from_numpy(embeddings)[None].float(), offsets)[0]
    np.testing.assert_allclose(result.numpy(), brute_force(embeddings, offsets), atol=1e-5)


def test_same_direction_is_one_orthogonal_and_opposite_are_zero():
    embeddings = torch.tensor([[[1.0, 2.0, 0.0, 0.0]], [[0.0, 0.0, 3.0, -3.0]]])[None]
    result = cosine_affinities(embeddings, [[0, 1]])[0, 0, 0]
    # (1,0)·(2,0) = same, (2,0)·(0,3) orthogonal, (0,3)·(0,-3) opposite, last leaves the image.
    np.testing.assert_allclose(result.numpy(), [1.0, 0.0, 0.0, 0.0], atol=1e-5)


def test_shift_fills_pairs_outside_the_image_with_zeros():
    x = torch.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    assert shift_to_offset(x, (1, -1))[0, 0].tolist() == [[0, 4, 5], [0, 7, 8], [0, 0, 0]]


@pytest.mark.parametrize(
    ("net", "shape", "offsets"),
    [
        (CosineAffinityUNet2d, (1, 1, 32, 32), [[-1, 0], [0, -1], [-3, 0]]),
        (CosineAffinityUNet3d, (1, 1, 8, 16, 16), [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]),
    ],
)
def test_networks_output_one_affinity_in_unit_range_per_offset(net, shape, offsets):
    model = net(in_channels=1, embedding_dim=6, offsets=offsets, depth=2, base_features=4).eval()
    with torch.no_grad():
        output = model(torch.rand(shape))
        embeddings = model.embeddings(torch.rand(shape))
    assert output.shape == (1, len(offsets), *shape[2:])
    assert embeddings.shape == (1, 6, *shape[2:])
    assert output.min() >= 0 and output.max() <= 1 + 1e-6


def test_networks_refuse_offsets_of_the_wrong_dimension():
    with pytest.raises(ValueError, match="2D offsets"):
        CosineAffinityUNet2d(offsets=[[1, 0, 0]])
