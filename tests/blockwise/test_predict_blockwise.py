"""predict_blockwise: equals whole-image prediction, resumes after a crash, refuses to clobber."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from semiseg_zoo.blockwise import BlockGrid, predict_blockwise
from semiseg_zoo.synthetic import synthetic_nuclei


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    raw, _ = synthetic_nuclei((300, 410), seed=5)
    return raw.astype(np.float32)


def test_block_grid_covers_the_shape_once():
    covered = np.zeros((10, 7), int)
    grid = BlockGrid((10, 7), (4, 3))
    for block_id in range(len(grid)):
        covered[grid.region(block_id)] += 1
    assert (covered == 1).all()


@pytest.mark.parametrize("block_shape", [(128, 128), (100, 150)])
def test_blockwise_equals_whole_image_prediction(tiny_model, image, tmp_path, block_shape):
    expected = tiny_model.predict(image, tile=None)
    source = zarr.create_array(tmp_path / "in.zarr", shape=image.shape, chunks=(64, 64), dtype="f4")
    source[:] = image
    result = predict_blockwise(
        tiny_model, source, tmp_path / "out.zarr", block_shape=block_shape, scheduler="synchronous"
    )
    assert result.shape == expected.shape
    assert result.chunks == (3, *block_shape)
    np.testing.assert_allclose(result[:], expected, atol=2e-5)


def test_statistics_come_from_the_whole_volume_not_the_block(tiny_model, image, tmp_path):
    """A block of background alone would be stretched to full contrast by its own statistics."""
    brighter = image.copy()
    brighter[:, 200:] += 50  # one side brighter: per-block normalisation would differ from global
    expected = tiny_model.predict(brighter, tile=None)
    result = predict_blockwise(tiny_model, brighter, tmp_path / "out.zarr", block_shape=(128, 128))
    np.testing.assert_allclose(result[:], expected, atol=2e-5)


def test_interrupted_run_resumes_and_equals_an_uninterrupted_one(
    tiny_model, image, tmp_path, monkeypatch
):
    reference = predict_blockwise(tiny_model, image, tmp_path / "ref.zarr", block_shape=(128, 128))
    calls = {"n": 0}
    original = type(tiny_model).predict

    def crash_after_three(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 3:
            raise RuntimeError("worker killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(tiny_model), "predict", crash_after_three)
    with pytest.raises(RuntimeError, match="worker killed"):
        predict_blockwise(tiny_model, image, tmp_path / "out.zarr", block_shape=(128, 128))
    monkeypatch.setattr(type(tiny_model), "predict", original)

    counted = {"n": 0}

    def counting(self, *args, **kwargs):
        counted["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(tiny_model), "predict", counting)
    result = predict_blockwise(tiny_model, image, tmp_path / "out.zarr", block_shape=(128, 128))
    n_blocks = len(BlockGrid(image.shape, (128, 128)))
    assert counted["n"] == n_blocks - 3
    np.testing.assert_array_equal(result[:], reference[:])


def test_an_existing_unrelated_output_is_not_overwritten(tiny_model, image, tmp_path):
    path = tmp_path / "out.zarr"
    predict_blockwise(tiny_model, image, path, block_shape=(128, 128))
    with pytest.raises(FileExistsError, match=r"--overwrite"):
        predict_blockwise(tiny_model, image, path, block_shape=(100, 100))
    result = predict_blockwise(tiny_model, image, path, block_shape=(100, 100), overwrite=True)
    assert result.chunks == (3, 100, 100)


def test_wrong_axes_are_a_value_error(tiny_model, tmp_path):
    with pytest.raises(ValueError, match=r"takes axes 'yx'"):
        predict_blockwise(
            tiny_model, np.zeros((4, 64, 64), np.float32), tmp_path / "o.zarr", axes="zyx"
        )


def test_a_large_volume_is_sampled_in_regions_not_read_whole():
    from semiseg_zoo.blockwise.predict import SAMPLE_REGION, _sample

    class CountingVolume:
        def __init__(self, data: np.ndarray) -> None:
            self.data, self.shape, self.ndim, self.read = data, data.shape, data.ndim, 0

        def __getitem__(self, index):
            part = self.data[index]
            self.read += part.size
            return part

    rng = np.random.default_rng(0)
    volume = CountingVolume(rng.gamma(2.0, 10.0, (96, 700, 650)).astype(np.float32))
    budget = 3 * int(np.prod(SAMPLE_REGION))
    sample = _sample(volume, "zyx", "zyx", budget)
    assert volume.read == sample.size <= budget < volume.data.size / 5
    low, high = np.percentile(volume.data, [1, 99.8])
    np.testing.assert_allclose(np.percentile(sample, [1, 99.8]), [low, high], rtol=0.05)
    small = CountingVolume(volume.data[:8, :50, :60])
    assert _sample(small, "zyx", "zyx", budget).shape == (8, 50, 60)
