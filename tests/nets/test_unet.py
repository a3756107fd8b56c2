"""Shapes, activations and argument checks of the tiny U-Nets (``semiseg_zoo.nets``)."""

from __future__ import annotations

import pytest
import torch

from semiseg_zoo.nets import (
    ARCHITECTURES,
    CosineAffinityUNet2d,
    CosineAffinityUNet3d,
    UNet2d,
    UNet3d,
    architecture_source,
)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


def _input(*shape: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=generator)


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet2d_output_shape(depth: int) -> None:
    net = UNet2d(in_channels=2, out_channels=3, depth=depth, base_features=4).eval()
    size = 2 ** (depth - 1) * 3
    with torch.no_grad():
        y = net(_input(2, 2, size, 2 * size))
    assert y.shape == (2, 3, size, 2 * size)
    assert y.dtype == torch.float32


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_unet3d_output_shape(depth: int) -> None:
    net = UNet3d(in_channels=1, out_channels=2, depth=depth, base_features=4).eval()
    size = 2 ** (depth - 1) * 2
    with torch.no_grad():
        y = net(_input(1, 1, size, size, 2 * size))
    assert y.shape == (1, 2, size, size, 2 * size)


@pytest.mark.parametrize(("depth", "divisor"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16)])
def test_divisor(depth: int, divisor: int) -> None:
    assert UNet2d(depth=depth, base_features=4).divisor == divisor
    assert UNet3d(depth=depth, base_features=4).divisor == divisor
    assert UNet2d(depth=depth, base_features=4).depth == depth


def test_input_not_multiple_of_divisor_fails() -> None:
    net = UNet2d(depth=2, base_features=4).eval()
    with pytest.raises(RuntimeError, match="Sizes of tensors must match"):
        net(torch.zeros(1, 1, 9, 9))


def test_feature_maps_double_per_level() -> None:
    net = UNet2d(in_channels=1, out_channels=2, depth=3, base_features=4)
    assert [block[0].out_channels for block in net.encoders] == [4, 8]
    assert net.bottom[0].out_channels == 16
    assert [block[0].out_channels for block in net.decoders] == [8, 4]
    assert net.head.in_channels == 4
    assert net.head.out_channels == 2


@pytest.mark.parametrize("net_class", [UNet2d, UNet3d])
def test_softmax_sums_to_one(net_class: type) -> None:
    net = net_class(out_channels=3, depth=2, base_features=4, final_activation="softmax").eval()
    shape = (2, 1, 8, 8) if net_class is UNet2d else (1, 1, 4, 8, 8)
    with torch.no_grad():
        y = net(_input(*shape))
    assert torch.allclose(y.sum(dim=1), torch.ones(()), atol=1e-6)
    assert y.min() >= 0
    assert y.max() <= 1


def test_sigmoid_range() -> None:
    net = UNet2d(out_channels=2, depth=2, base_features=4, final_activation="sigmoid").eval()
    with torch.no_grad():
        y = net(10 * _input(1, 1, 16, 16) - 5)
    assert y.min() >= 0
    assert y.max() <= 1
    # Two channels, not a distribution over channels.
    assert not torch.allclose(y.sum(dim=1), torch.ones(()))


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        ("softmax", lambda z: torch.softmax(z, dim=1)),
        ("sigmoid", torch.sigmoid),
        ("none", lambda z: z),
    ],
)
def test_forward_is_activation_of_logits(activation: str, expected) -> None:
    net = UNet2d(out_channels=3, depth=3, base_features=4, final_activation=activation).eval()
    x = _input(2, 1, 16, 16)
    with torch.no_grad():
        logits = net.forward_logits(x)
        y = net(x)
    assert logits.shape == y.shape == (2, 3, 16, 16)
    torch.testing.assert_close(y, expected(logits))


@pytest.mark.parametrize("norm", ["batch", "group", "instance", "none"])
def test_norms(norm: str) -> None:
    net = UNet2d(out_channels=2, depth=2, base_features=4, norm=norm).eval()
    with torch.no_grad():
        y = net(_input(1, 1, 8, 8))
    assert y.shape == (1, 2, 8, 8)
    assert torch.isfinite(y).all()
    has_bias = net.encoders[0][0].bias is not None
    assert has_bias == (norm == "none")


def test_group_norm_with_base_features_not_multiple_of_8() -> None:
    net = UNet2d(out_channels=2, depth=2, base_features=12, norm="group").eval()
    with torch.no_grad():
        y = net(_input(1, 1, 8, 8))
    assert y.shape == (1, 2, 8, 8)


def test_eval_mode_is_deterministic() -> None:
    net = UNet2d(out_channels=3, depth=3, base_features=4, final_activation="softmax")
    # A few training-mode passes so batch norm's running statistics are not the defaults.
    net.train()
    with torch.no_grad():
        for seed in range(3):
            net(_input(2, 1, 16, 16, seed=seed))
    net.eval()
    x = _input(2, 1, 16, 16, seed=10)
    with torch.no_grad():
        first = net(x)
        second = net(x)
        single = net(x[1:])
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    # In eval mode a sample's output does not depend on the rest of the batch.
    torch.testing.assert_close(first[1:], single, rtol=1e-5, atol=1e-6)


def test_same_seed_same_weights() -> None:
    torch.manual_seed(3)
    a = UNet2d(depth=2, base_features=4)
    torch.manual_seed(3)
    b = UNet2d(depth=2, base_features=4)
    for (name_a, value_a), (name_b, value_b) in zip(
        a.state_dict().items(), b.state_dict().items(), strict=True
    ):
        assert name_a == name_b
        torch.testing.assert_close(value_a, value_b, rtol=0, atol=0)


def test_backward_reaches_first_layer() -> None:
    net = UNet2d(out_channels=3, depth=2, base_features=4).train()
    loss = net.forward_logits(_input(2, 1, 8, 8)).pow(2).mean()
    loss.backward()
    grad = net.encoders[0][0].weight.grad
    assert grad is not None
    assert grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"depth": 0}, r"`depth` must be >= 1, got 0"),
        ({"depth": -2}, r"`depth` must be >= 1, got -2"),
        ({"norm": "layer"}, r"`norm` must be batch, group, instance or none, got 'layer'"),
        ({"final_activation": "relu"}, r"`final_activation` must be softmax, sigmoid or none"),
    ],
)
@pytest.mark.parametrize("net_class", [UNet2d, UNet3d])
def test_bad_arguments(net_class: type, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        net_class(base_features=4, **kwargs)


def test_architecture_registry() -> None:
    assert ARCHITECTURES == {
        "UNet2d": UNet2d,
        "UNet3d": UNet3d,
        "CosineAffinityUNet2d": CosineAffinityUNet2d,
        "CosineAffinityUNet3d": CosineAffinityUNet3d,
    }
    source = architecture_source("UNet3d")
    assert source.name == "unet.py"
    assert source.is_file()
    text = source.read_text()
    assert "class UNet2d" in text
    assert "class UNet3d" in text
    # The file is copied verbatim into packages, so it may import torch only.
    imports = [
        line.split()[1] for line in text.splitlines() if line.startswith(("import ", "from "))
    ]
    assert set(imports) <= {"__future__", "math", "typing", "torch"}


def test_architecture_source_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"unknown architecture 'ResNet'; expected one of"):
        architecture_source("ResNet")
