"""The supervised training loop, device resolution and whole-image prediction."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import pytest
import torch
from torch import nn

from semiseg_zoo.nets import UNet2d
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    predict_whole_image,
    resolve_device,
    scale_range,
    three_class_targets,
    train_supervised,
    weighted_cross_entropy,
)


def _item(seed: int, shape: tuple[int, int] = (64, 64)) -> LabelledImage:
    image, labels = synthetic_nuclei(shape, n_objects=6, radius=(5.0, 9.0), seed=seed)
    return LabelledImage(f"s{seed}", scale_range(image)[None], labels.astype(np.int64))


def _batches(dataset: RandomPatchDataset, batch_size: int) -> Iterator:
    return iter(torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=0))


class _Validation:
    """Mean log-probability of the correct class on a fixed image (higher is better)."""

    def __init__(self, item: LabelledImage) -> None:
        self.image = item.image
        self.target = torch.from_numpy(three_class_targets(item.labels).astype(np.int64))

    def __call__(self, net: nn.Module) -> float:
        probabilities = predict_whole_image(net, self.image, divisor=net.divisor, device="cpu")
        log_p = torch.from_numpy(probabilities).clamp_min(1e-8).log()
        return float(log_p.gather(0, self.target[None]).mean())


def test_training_reduces_loss_and_keeps_best() -> None:
    torch.manual_seed(0)
    net = UNet2d(out_channels=3, depth=2, base_features=4, final_activation="softmax")
    dataset = RandomPatchDataset([_item(0), _item(1)], (32, 32), seed=0)
    validate = _Validation(_item(2))
    messages: list[str] = []
    result = train_supervised(
        net,
        _batches(dataset, 4),
        steps=30,
        learning_rate=1e-2,
        weight_decay=0.0,
        class_weights=[1.0, 1.0, 2.0],
        validate=validate,
        validate_every=10,
        log=messages.append,
    )
    assert [entry["step"] for entry in result.history] == [10, 20, 30]
    losses = [entry["loss"] for entry in result.history]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < losses[0]
    scores = [entry["score"] for entry in result.history]
    assert result.best_score == max(scores)
    assert result.best_step == result.history[scores.index(max(scores))]["step"]
    assert scores[-1] > scores[0]
    assert len(messages) == 3
    assert messages[0].startswith("step 10/30  loss ")
    # The kept weights reproduce the best score.
    fresh = UNet2d(out_channels=3, depth=2, base_features=4, final_activation="softmax")
    fresh.load_state_dict(result.best_state)
    assert validate(fresh) == pytest.approx(result.best_score, abs=1e-5)
    assert net.training  # the loop leaves the net in training mode


class _Tiny(nn.Module):
    """A 1x1 convolution with ``forward_logits``: 3 classes from 1 channel."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(1, 3, 1)

    def forward_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.forward_logits(x), dim=1)


def _fixed_batches() -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 1, 4, 4, generator=generator)
    target = torch.randint(0, 3, (2, 4, 4), generator=generator)
    while True:
        yield image, target


def test_loss_is_averaged_over_each_window() -> None:
    net = _Tiny()
    image, target = next(_fixed_batches())
    with torch.no_grad():
        initial = float(weighted_cross_entropy(net.forward_logits(image), target))
    # A negligible learning rate keeps every step's loss at the initial value.
    result = train_supervised(
        net,
        _fixed_batches(),
        steps=5,
        learning_rate=1e-12,
        weight_decay=0.0,
        class_weights=None,
        validate=lambda _: 0.0,
        validate_every=2,
        log=lambda _: None,
    )
    assert [entry["step"] for entry in result.history] == [2, 4, 5]
    for entry in result.history:
        assert entry["loss"] == pytest.approx(initial, rel=1e-6)


def test_best_state_is_a_snapshot_of_the_best_step() -> None:
    net = _Tiny()
    scripted = iter([0.3, 0.9, 0.9, 0.1])
    snapshots: list[dict[str, torch.Tensor]] = []

    def validate(model: nn.Module) -> float:
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return next(scripted)

    result = train_supervised(
        net,
        _fixed_batches(),
        steps=4,
        learning_rate=0.1,
        weight_decay=0.0,
        class_weights=None,
        validate=validate,
        validate_every=1,
        log=lambda _: None,
    )
    assert [entry["score"] for entry in result.history] == [0.3, 0.9, 0.9, 0.1]
    assert result.best_score == 0.9
    assert result.best_step == 2  # the first of equal scores is kept
    for key, value in result.best_state.items():
        torch.testing.assert_close(value, snapshots[1][key], rtol=0, atol=0)
    assert not torch.equal(result.best_state["conv.weight"], net.conv.weight.detach())


def test_validation_runs_at_the_end_of_a_partial_window() -> None:
    calls: list[int] = []
    result = train_supervised(
        _Tiny(),
        _fixed_batches(),
        steps=3,
        learning_rate=1e-3,
        weight_decay=0.0,
        class_weights=[1.0, 2.0, 3.0],
        validate=lambda _: float(calls.append(1) or len(calls)),
        validate_every=10,
        log=lambda _: None,
    )
    assert len(calls) == 1
    assert [entry["step"] for entry in result.history] == [3]
    assert result.best_step == 3
    assert result.best_score == 1.0


# --------------------------------------------------------------------------- loss


def test_weighted_cross_entropy_values() -> None:
    logits = torch.zeros(1, 3, 1, 2)
    target = torch.tensor([[[0, 2]]])
    # Uniform logits: -log(1/3) at every pixel, whatever the weights.
    assert float(weighted_cross_entropy(logits, target)) == pytest.approx(math.log(3))
    assert float(weighted_cross_entropy(logits, target, [1.0, 1.0, 4.0])) == pytest.approx(
        math.log(3)
    )
    logits[0, 2, 0, 1] = math.log(4.0)  # pixel 2: p(class 2) = 4 / 6
    unweighted = (math.log(3) + math.log(6 / 4)) / 2
    weighted = (1.0 * math.log(3) + 4.0 * math.log(6 / 4)) / 5.0
    assert float(weighted_cross_entropy(logits, target)) == pytest.approx(unweighted)
    assert float(weighted_cross_entropy(logits, target, [1.0, 1.0, 4.0])) == pytest.approx(weighted)


# --------------------------------------------------------------------------- device


def test_resolve_device_without_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    assert resolve_device("cpu") == "cpu"
    with pytest.raises(ValueError, match="`device` is 'cuda' but no CUDA device is available"):
        resolve_device("cuda")


def test_resolve_device_with_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda") == "cuda"
    assert resolve_device("cpu") == "cpu"


@pytest.mark.parametrize("device", ["gpu", "cuda:0", "mps", ""])
def test_resolve_device_unknown(device: str) -> None:
    with pytest.raises(ValueError, match=rf"`device` must be auto, cpu or cuda, got '{device}'"):
        resolve_device(device)


# --------------------------------------------------------------------------- whole image


def test_predict_whole_image_crops_the_padding() -> None:
    image = np.random.default_rng(0).normal(size=(2, 13, 22)).astype(np.float32)
    output = predict_whole_image(nn.Identity(), image, divisor=8, device="cpu")
    assert output.dtype == np.float32
    np.testing.assert_array_equal(output, image)


@pytest.mark.parametrize("training", [True, False])
def test_predict_whole_image_unet(training: bool) -> None:
    torch.manual_seed(0)
    net = UNet2d(out_channels=3, depth=3, base_features=4, final_activation="softmax")
    net.train(training)
    image = np.random.default_rng(1).uniform(size=(1, 30, 37)).astype(np.float32)
    before = image.copy()
    output = predict_whole_image(net, image, divisor=net.divisor, device="cpu")
    assert output.shape == (3, 30, 37)
    assert output.dtype == np.float32
    np.testing.assert_allclose(output.sum(axis=0), 1.0, atol=1e-5)
    assert net.training is training
    np.testing.assert_array_equal(image, before)
    # Identical to an eval-mode forward pass when no padding is needed.
    square = image[:, :24, :24]
    net.eval()
    with torch.no_grad():
        direct = net(torch.from_numpy(np.ascontiguousarray(square))[None])[0].numpy()
    np.testing.assert_allclose(
        predict_whole_image(net, square, divisor=net.divisor, device="cpu"), direct, atol=1e-6
    )
