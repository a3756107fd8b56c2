"""Tiled prediction with halo: seamless stitching, padding to valid shapes, window layout."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import uniform_filter

from semiseg_zoo.inference import ShapeRule, predict_tiled, tile_layout
from semiseg_zoo.inference.tiling import pad_to_valid
from semiseg_zoo.synthetic import synthetic_nuclei

TINY_RULE = ShapeRule(minimum=(64, 64), step=(4, 4), halo=(24, 24))


def _is_valid(size: int, minimum: int, step: int) -> bool:
    return size == minimum if step == 0 else size >= minimum and (size - minimum) % step == 0


def _local_filter(radius: int):
    """A fake network whose receptive field is ``radius`` px: a box mean over each channel,
    zero outside the window (like a conv's zero padding), plus a second squared channel."""

    def predict(batch: np.ndarray) -> np.ndarray:
        assert batch.ndim == 4 and batch.shape[0] == 1
        mean = uniform_filter(batch[0], size=(1, 2 * radius + 1, 2 * radius + 1), mode="constant")
        return np.concatenate([mean, mean**2])[None].astype(np.float32)

    return predict


# --- the tiny package -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "tile"),
    [
        ((203, 317), (64, 64)),
        ((203, 317), (100, 130)),
        ((203, 317), (128, 128)),
        ((130, 600), (72, 200)),
        ((130, 600), (256, 96)),
        ((67, 81), (64, 64)),
    ],
)
def test_tiled_equals_untiled_with_the_tiny_package(tiny_model, shape, tile):
    image = synthetic_nuclei(shape, seed=sum(shape))[0]
    whole = tiny_model.predict(image, tile=None)
    tiled = tiny_model.predict(image, tile=tile)
    assert whole.shape == tiled.shape == (3, *shape)
    assert tiled.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-4, rtol=0)
    np.testing.assert_allclose(tiled.sum(axis=0), 1.0, atol=1e-5)


def test_auto_tile_uses_the_spec_tile_and_equals_untiled(tiny_model):
    assert tiny_model.default_tile == (128, 128)
    image = synthetic_nuclei((203, 317), seed=5)[0]
    np.testing.assert_allclose(
        tiny_model.predict(image), tiny_model.predict(image, tile=None), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("shape", [(40, 50), (20, 30), (64, 17), (40, 300)])
def test_image_smaller_than_min_shape_is_padded_and_cropped_back(tiny_model, shape):
    image = synthetic_nuclei((64, 300), seed=9)[0][: shape[0], : shape[1]]
    output = tiny_model.predict(image, tile=(64, 64))
    assert output.shape == (3, *shape)
    np.testing.assert_allclose(output.sum(axis=0), 1.0, atol=1e-5)
    np.testing.assert_allclose(output, tiny_model.predict(image, tile=None), atol=1e-4, rtol=0)


def test_wrong_tile_length_is_a_value_error(tiny_model):
    with pytest.raises(ValueError, match=r"`tile` \(64, 64, 64\) needs 2 values \(yx\)"):
        tiny_model.predict(np.zeros((64, 64), np.float32), tile=(64, 64, 64))


# --- predict_tiled with fake networks ---------------------------------------------------------


@pytest.mark.parametrize("shape", [(203, 317), (130, 600), (64, 64), (65, 300)])
@pytest.mark.parametrize("tile", [(64, 64), (96, 160), (1000, 72)])
def test_tiled_local_filter_equals_whole_image(shape, tile):
    radius = 24
    image = np.random.default_rng(0).random((2, *shape), dtype=np.float32)
    predict = _local_filter(radius)
    whole = predict_tiled(predict, image, TINY_RULE, tile=None)
    tiled = predict_tiled(predict, image, TINY_RULE, tile=tile)
    assert tiled.shape == whole.shape == (4, *shape)
    np.testing.assert_allclose(tiled, whole, atol=1e-5, rtol=0)


def test_halo_smaller_than_receptive_field_shows_seams():
    """The equality above is not trivial: with too little halo the tiles disagree."""
    image = np.random.default_rng(1).random((1, 203, 317), dtype=np.float32)
    predict = _local_filter(24)
    rule = ShapeRule((64, 64), (4, 4), (4, 4))
    whole = predict_tiled(predict, image, rule, tile=None)
    tiled = predict_tiled(predict, image, rule, tile=(64, 64))
    assert np.abs(tiled - whole).max() > 1e-3


def test_every_window_has_a_valid_shape():
    seen = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return batch

    image = np.zeros((1, 203, 317), np.float32)
    predict_tiled(predict, image, TINY_RULE, tile=(100, 130))
    assert len(seen) > 4
    for _, channels, y, x in seen:
        assert channels == 1
        assert _is_valid(y, 64, 4) and _is_valid(x, 64, 4), (y, x)
    # x: 128 is shrunk to the balanced 116, which needs the same 4 windows over 320 pixels
    assert {shape[2:] for shape in seen} == {(100, 116)}


def test_untiled_prediction_sees_the_padded_valid_shape():
    seen = []

    def predict(batch: np.ndarray) -> np.ndarray:
        seen.append(batch.shape)
        return batch * 2

    image = np.arange(203 * 317, dtype=np.float32).reshape(1, 203, 317)
    output = predict_tiled(predict, image, TINY_RULE, tile=None)
    assert seen == [(1, 1, 204, 320)]
    np.testing.assert_array_equal(output, image * 2)


def test_tile_larger_than_image_is_one_pass():
    calls = []

    def predict(batch: np.ndarray) -> np.ndarray:
        calls.append(batch.shape)
        return batch

    predict_tiled(predict, np.zeros((1, 100, 90), np.float32), TINY_RULE, tile=(512, 512))
    assert calls == [(1, 1, 100, 92)]


def test_output_of_another_spatial_size_is_a_value_error():
    def shrink(batch: np.ndarray) -> np.ndarray:
        return batch[..., 2:-2, 2:-2]

    image = np.zeros((1, 203, 317), np.float32)
    with pytest.raises(ValueError, match=r"mapped a tile of .* but its description says.*tiling"):
        predict_tiled(shrink, image, TINY_RULE, tile=(64, 64))


# --- models whose output is zoomed relative to the input --------------------------------------


def _upsample(factor: int):
    def predict(batch: np.ndarray) -> np.ndarray:
        return batch.repeat(factor, axis=-2).repeat(factor, axis=-1) * 2

    return predict


def _downsample(batch: np.ndarray) -> np.ndarray:
    return batch[..., ::2, ::2] + batch[..., 1::2, 1::2]


@pytest.mark.parametrize("tile", [None, (20, 30), (45, 25)])
def test_upsampling_model_is_stitched_in_output_pixels(tile):
    rule = ShapeRule(minimum=(5, 5), step=(5, 5), halo=(0, 0), zoom=(4.0, 4.0))
    image = np.random.default_rng(3).random((2, 47, 61), dtype=np.float32)
    output = predict_tiled(_upsample(4), image, rule, tile=tile)
    assert output.shape == (2, 188, 244)
    np.testing.assert_array_equal(output, _upsample(4)(image[None])[0])


@pytest.mark.parametrize("tile", [None, (64, 64), (96, 48)])
def test_downsampling_model_is_stitched_in_output_pixels(tile):
    rule = ShapeRule(minimum=(32, 32), step=(16, 16), halo=(16, 16), zoom=(0.5, 0.5))
    image = np.random.default_rng(4).random((1, 160, 208), dtype=np.float32)
    output = predict_tiled(_downsample, image, rule, tile=tile)
    assert output.shape == (1, 80, 104)
    np.testing.assert_array_equal(output, _downsample(image[None])[0])


def test_zoomed_output_of_an_undeclared_size_is_a_value_error():
    rule = ShapeRule(minimum=(5, 5), step=(5, 5), halo=(0, 0), zoom=(4.0, 4.0))
    image = np.zeros((1, 40, 40), np.float32)
    with pytest.raises(ValueError, match=r"mapped a tile of \(20, 20\) pixels to \(40, 40\)"):
        predict_tiled(_upsample(2), image, rule, tile=(20, 20))


def test_fixed_size_model_tiles_a_larger_image():
    rule = ShapeRule(minimum=(64, 64), step=(0, 0), halo=(8, 8))

    def fixed(batch: np.ndarray) -> np.ndarray:
        assert batch.shape[2:] == (64, 64), batch.shape
        return batch + 1

    image = np.random.default_rng(2).random((1, 100, 150), dtype=np.float32)
    output = predict_tiled(fixed, image, rule, tile=(64, 64))
    np.testing.assert_allclose(output, image + 1)


# --- tile_layout ------------------------------------------------------------------------------


LAYOUT_CASES = [
    ((204, 320), (64, 64), TINY_RULE),
    ((204, 320), (100, 130), TINY_RULE),
    ((132, 600), (72, 200), TINY_RULE),
    ((68, 68), (64, 64), TINY_RULE),
    ((64, 1000), (64, 64), TINY_RULE),
    ((300, 300), (10, 10), TINY_RULE),  # tile below 2 * halo + step is enlarged
    ((97, 203), (40, 40), ShapeRule((16, 16), (1, 1), (5, 3))),
    ((256, 256), (64, 64), ShapeRule((32, 32), (16, 16), (10, 0))),  # halo rounded up to 16
    ((40, 48, 56), (32, 32, 32), ShapeRule((8, 8, 8), (8, 8, 8), (8, 8, 8))),
]


@pytest.mark.parametrize(("shape", "tile", "rule"), LAYOUT_CASES)
def test_windows_cover_every_pixel_exactly_once(shape, tile, rule):
    tile_shape, halos, windows = tile_layout(shape, tile, rule)
    count = np.zeros(shape, dtype=np.int32)
    for source, keep, target in windows:
        assert all(s.stop - s.start == t for s, t in zip(source, tile_shape, strict=True))
        assert all(0 <= s.start and s.stop <= n for s, n in zip(source, shape, strict=True))
        # the kept part of the window lands exactly on its target
        for s, k, t in zip(source, keep, target, strict=True):
            assert s.start + k.start == t.start and s.start + k.stop == t.stop
        count[target] += 1
    assert count.min() == 1 and count.max() == 1


@pytest.mark.parametrize(("shape", "tile", "rule"), LAYOUT_CASES)
def test_windows_keep_halo_context_except_at_image_borders(shape, tile, rule):
    tile_shape, halos, windows = tile_layout(shape, tile, rule)
    for axis, (halo, step) in enumerate(zip(halos, rule.step, strict=True)):
        assert halo >= rule.halo[axis] and halo % max(step, 1) == 0
    for source, keep, _ in windows:
        for axis, (s, k) in enumerate(zip(source, keep, strict=True)):
            halo, size = halos[axis], tile_shape[axis]
            if s.start > 0:
                assert k.start >= halo, (axis, s, k)
            if s.stop < shape[axis]:
                assert size - k.stop >= halo, (axis, s, k)


@pytest.mark.parametrize(("shape", "tile", "rule"), LAYOUT_CASES)
def test_windows_lie_on_the_step_grid_with_valid_sizes(shape, tile, rule):
    tile_shape, _, windows = tile_layout(shape, tile, rule)
    for axis, size in enumerate(tile_shape):
        assert _is_valid(size, rule.minimum[axis], rule.step[axis]) or size == shape[axis]
        assert size - 2 * rule.halo[axis] > 0 or size == shape[axis]
    for source, _, _ in windows:
        for axis, s in enumerate(source):
            assert s.start % max(rule.step[axis], 1) == 0


def test_tile_layout_numbers():
    tile_shape, halos, windows = tile_layout((204, 320), (100, 130), TINY_RULE)
    # y: inner 100 - 2 * 24 = 52 -> ceil((204 - 48) / 52) = 3 windows, already balanced;
    # x: 128 -> 4 windows over 320; the smallest valid tile with 4 windows is 116 (inner 68)
    assert tile_shape == (100, 116)
    assert halos == (24, 24)
    assert len(windows) == 3 * 4
    first_source, first_keep, first_target = windows[0]
    assert first_source == (slice(0, 100), slice(0, 116))
    # the first window keeps everything up to one halo before its end
    assert first_keep == (slice(0, 76), slice(0, 92))
    assert first_target == (slice(0, 76), slice(0, 92))
    last_source, last_keep, last_target = windows[-1]
    assert last_source == (slice(104, 204), slice(204, 320))
    assert last_target == (slice(128, 204), slice(228, 320))
    assert last_keep == (slice(24, 100), slice(24, 116))


def test_single_window_when_tile_covers_the_image():
    tile_shape, _, windows = tile_layout((68, 68), (512, 512), TINY_RULE)
    assert tile_shape == (68, 68)
    assert windows == [((slice(0, 68),) * 2, (slice(0, 68),) * 2, (slice(0, 68),) * 2)]


# --- pad_to_valid and ShapeRule -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        ((64, 64), (64, 64)),
        ((65, 64), (68, 64)),
        ((203, 317), (204, 320)),
        ((130, 600), (132, 600)),
        ((40, 50), (64, 64)),
        ((10, 200), (64, 200)),
        ((1, 1), (64, 64)),
    ],
)
def test_pad_to_valid_shapes(shape, expected):
    image = np.random.default_rng(3).random((2, *shape), dtype=np.float32)
    padded, original = pad_to_valid(image, TINY_RULE)
    assert original == shape
    assert padded.shape == (2, *expected)
    # the image is kept at the start and padded at the end only
    np.testing.assert_array_equal(padded[:, : shape[0], : shape[1]], image)


def test_pad_to_valid_returns_valid_images_unchanged():
    image = np.zeros((1, 68, 72), np.float32)
    padded, original = pad_to_valid(image, TINY_RULE)
    assert padded is image and original == (68, 72)


def test_pad_to_valid_reflects_when_it_can():
    image = np.arange(60 * 64, dtype=np.float32).reshape(1, 60, 64)
    padded, _ = pad_to_valid(image, TINY_RULE)
    np.testing.assert_array_equal(padded[0, 60:64], image[0, 58:54:-1])


def test_pad_to_valid_falls_back_to_symmetric_for_tiny_images():
    image = np.arange(10 * 64, dtype=np.float32).reshape(1, 10, 64)
    padded, _ = pad_to_valid(image, TINY_RULE)
    expected = np.pad(image, [(0, 0), (0, 54), (0, 0)], mode="symmetric")
    np.testing.assert_array_equal(padded, expected)


def test_shape_rule_valid_sizes():
    assert [TINY_RULE.valid_at_least(s, 0) for s in (1, 64, 65, 68, 69)] == [64, 64, 68, 68, 72]
    assert [TINY_RULE.valid_at_most(s, 0) for s in (1, 64, 67, 68, 71)] == [64, 64, 64, 68, 68]
    fixed = ShapeRule((32,), (0,), (0,))
    assert fixed.valid_at_least(10, 0) == 32 and fixed.valid_at_most(100, 0) == 32
