"""segment_blockwise: stitched blockwise instances equal the whole-volume result."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

from semiseg_zoo.blockwise import segment_blockwise
from semiseg_zoo.evaluation import adapted_rand_error
from semiseg_zoo.inference import load_model, postprocessing_recipe
from semiseg_zoo.postprocess import apply_postprocessing
from semiseg_zoo.synthetic import synthetic_nuclei
from tests.postprocess.helpers import assert_valid_labels
from tests.postprocess.test_affinities import OFFSETS_3D, neurites, noisy, perfect

MWS = {"method": "mutex_watershed", "offsets": OFFSETS_3D, "strides": [1, 4, 4]}


@pytest.fixture(scope="module")
def teacher():
    return load_model("teacher-nuclei-2d", weight_format="onnx", device="cpu")


@pytest.fixture(scope="module")
def nuclei(teacher):
    raw, _ = synthetic_nuclei((600, 700), seed=3)
    return raw.astype(np.float32)


@pytest.fixture(scope="module")
def affinities() -> tuple[np.ndarray, np.ndarray]:
    truth = neurites((32, 160, 160), 16, seed=1)
    return noisy(perfect(truth, OFFSETS_3D), 0.2), truth


def assert_same_partition(result: np.ndarray, expected: np.ndarray) -> None:
    assert result.shape == expected.shape
    assert result.max() == expected.max()
    np.testing.assert_array_equal(result == 0, expected == 0)
    assert adapted_rand_error(result, expected) == 0.0


def test_blockwise_watershed_equals_the_whole_image_one(teacher, nuclei, tmp_path):
    probabilities = teacher.predict(nuclei, tile=None)
    recipe, _ = postprocessing_recipe(teacher.package, teacher.output_channel_names)
    assert recipe["method"] == "watershed" and recipe["min_size"] > 0
    expected = apply_postprocessing(probabilities, recipe)
    result = segment_blockwise(
        probabilities, tmp_path / "seg.zarr", recipe=recipe, block_shape=(128, 128), halo=(16, 16)
    )
    assert result.dtype == np.uint32 and result.chunks == (128, 128)
    assert expected.max() > 100  # many nuclei, many of them cut by block borders
    assert_same_partition(result[:], expected)
    assert_valid_labels(result[:])


@pytest.mark.parametrize("background", ["none", "largest"])
def test_blockwise_mutex_watershed_equals_the_whole_volume_one(affinities, tmp_path, background):
    affs, truth = affinities
    recipe = {**MWS, "min_size": 20, "background": background}
    expected = apply_postprocessing(affs, recipe)
    source = zarr.create_array(
        tmp_path / "affs.zarr", shape=affs.shape, chunks=(8, 16, 64, 64), dtype="f4"
    )
    source[:] = affs
    result = segment_blockwise(
        str(tmp_path / "affs.zarr"),
        tmp_path / "seg.zarr",
        recipe=recipe,
        block_shape=(16, 64, 64),
        halo=(8, 32, 32),
        scheduler="synchronous",
    )[:]
    assert adapted_rand_error(result, expected) < 0.01
    assert_same_partition(result, expected)  # measured: identical at this halo
    assert_valid_labels(result)
    assert np.bincount(result.ravel())[1:].min() >= 20  # min_size applied to whole objects


def test_a_small_halo_costs_accuracy_and_says_so_in_the_numbers(affinities, tmp_path):
    """Context matters for the mutex watershed: 9 voxels of halo merge objects cut by the block
    border that 32 keep apart (the default is at least 16)."""
    affs, _ = affinities
    expected = apply_postprocessing(affs, MWS)
    small = segment_blockwise(
        affs, tmp_path / "small.zarr", recipe=MWS, block_shape=(16, 64, 64), halo=(4, 9, 9)
    )[:]
    assert adapted_rand_error(small, expected) > 0.01


def test_model_and_volume_are_predicted_and_segmented_in_one_pass(teacher, nuclei, tmp_path):
    expected = apply_postprocessing(
        teacher.predict(nuclei, tile=None),
        postprocessing_recipe(teacher.package, teacher.output_channel_names)[0],
    )
    path = tmp_path / "raw.zarr"
    zarr.create_array(path, data=nuclei, chunks=(100, 100))
    result = segment_blockwise(
        teacher,
        tmp_path / "seg.zarr",
        volume=str(path),
        block_shape=(200, 256),
        scheduler="synchronous",
    )
    assert_same_partition(result[:], expected)


def test_a_crashed_run_resumes_and_equals_an_uninterrupted_one(affinities, tmp_path, monkeypatch):
    import semiseg_zoo.blockwise.segment as segment_module

    affs, _ = affinities
    reference = segment_blockwise(
        affs, tmp_path / "ref.zarr", recipe=MWS, block_shape=(16, 64, 64)
    )[:]
    original = segment_module.apply_postprocessing
    calls = {"n": 0}

    def crash_after_four(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("killed")
        return original(*args, **kwargs)

    monkeypatch.setattr(segment_module, "apply_postprocessing", crash_after_four)
    target = tmp_path / "seg.zarr"
    with pytest.raises(RuntimeError, match="killed"):
        segment_blockwise(affs, target, recipe=MWS, block_shape=(16, 64, 64))
    assert not target.exists()  # never a half-written output under the final name
    assert (tmp_path / "seg.zarr.partial").is_dir()

    calls["n"] = -100  # no more crashes; count the blocks segmented on resume
    result = segment_blockwise(affs, target, recipe=MWS, block_shape=(16, 64, 64))[:]
    assert calls["n"] == -100 + 18 - 4  # 2 x 3 x 3 blocks, 4 done before the crash
    np.testing.assert_array_equal(result, reference)
    assert not (tmp_path / "seg.zarr.partial").exists()


def test_existing_output_needs_overwrite(affinities, tmp_path):
    affs, _ = affinities
    target = tmp_path / "seg.zarr"
    segment_blockwise(affs[:, :16, :64, :64], target, recipe=MWS, block_shape=(16, 32, 32))
    with pytest.raises(FileExistsError, match="--overwrite"):
        segment_blockwise(affs[:, :16, :64, :64], target, recipe=MWS, block_shape=(16, 32, 32))
    result = segment_blockwise(
        affs[:, :16, :64, :64], target, recipe=MWS, block_shape=(8, 32, 32), overwrite=True
    )
    assert result.chunks == (8, 32, 32)


def test_methods_that_cluster_the_whole_volume_are_refused(tmp_path):
    with pytest.raises(ValueError, match="cannot run blockwise"):
        segment_blockwise(
            np.zeros((4, 32, 32), np.float32), tmp_path / "s.zarr", recipe={"method": "hdbscan"}
        )


def test_a_halo_of_zero_is_refused(affinities, tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        segment_blockwise(affinities[0], tmp_path / "s.zarr", recipe=MWS, halo=(0, 8, 8))


def test_global_rules_default_to_the_methods_own_defaults():
    from semiseg_zoo.blockwise.segment import split_recipe

    local, min_size, largest = split_recipe({"method": "embedding_mws", "min_size": 7})
    assert (min_size, largest) == (7, True)  # embedding_mws drops the largest object by default
    assert local["min_size"] == 0 and local["background"] == "none"
    assert split_recipe({"method": "mutex_watershed"})[1:] == (0, False)
