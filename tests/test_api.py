"""The Python API: semiseg_zoo.predict / semiseg_zoo.segment with the tiny package."""

from __future__ import annotations

import shutil
import zipfile

import numpy as np
import pytest
import tifffile
import yaml

import semiseg_zoo
from semiseg_zoo.api import predict, segment
from semiseg_zoo.evaluation import instance_scores
from semiseg_zoo.inference import Model
from semiseg_zoo.synthetic import synthetic_nuclei


@pytest.fixture(scope="module")
def nuclei() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_nuclei((256, 320), seed=21)


def test_public_names():
    assert semiseg_zoo.predict is predict
    assert semiseg_zoo.segment is segment


@pytest.mark.parametrize("seed", [21, 22])
def test_segment_finds_the_nuclei(tiny_model, seed):
    image, truth = synthetic_nuclei((256, 320), seed=seed)
    labels = segment(image, tiny_model)
    assert labels.dtype == np.uint32
    assert labels.shape == image.shape
    n_true = int(truth.max())
    n_found = len(np.unique(labels[labels > 0]))
    assert n_true >= 30
    assert abs(n_found - n_true) <= 0.2 * n_true, (n_found, n_true)
    scores = instance_scores(labels, truth)
    # the tiny net reaches ~1.0 on these images; 0.85 leaves room for platform differences
    assert scores["ap"] >= 0.85, scores
    assert scores["recall"] >= 0.85, scores
    # consecutive ids from 1
    assert labels.max() == n_found


def test_segment_accepts_a_package_path_and_builds_the_model(tiny_package_path, nuclei):
    image, truth = nuclei
    from_path = segment(image, tiny_package_path, device="cpu")
    from_str = segment(image, str(tiny_package_path), device="cpu")
    np.testing.assert_array_equal(from_path, from_str)
    assert instance_scores(from_path, truth)["ap"] >= 0.85


def test_segment_untiled_and_tiled_agree(tiny_model, nuclei):
    image, _ = nuclei
    np.testing.assert_array_equal(
        segment(image, tiny_model, tile=None), segment(image, tiny_model, tile=(96, 96))
    )


def test_segment_postprocessing_override(tiny_model, nuclei):
    image, _ = nuclei
    default = segment(image, tiny_model)
    huge_min_size = segment(
        image,
        tiny_model,
        postprocessing={"method": "watershed", "seed_threshold": 0.5, "min_size": 10**6},
    )
    assert default.max() > 0 and huge_min_size.max() == 0


def test_default_model_is_the_builtin_default(tiny_package_path, nuclei, tmp_path, monkeypatch):
    import semiseg_zoo.inference.package as package_module

    shutil.copyfile(tiny_package_path, tmp_path / f"{package_module.DEFAULT_MODEL}.zip")
    monkeypatch.setattr(package_module, "BUILTIN_DIR", tmp_path)
    image, truth = nuclei
    labels = segment(image, device="cpu")
    assert instance_scores(labels, truth)["ap"] >= 0.85


def test_predict_returns_probabilities(tiny_model, nuclei):
    image, truth = nuclei
    probabilities = predict(image, tiny_model)
    assert probabilities.dtype == np.float32
    assert probabilities.shape == (3, *image.shape)
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-5)
    # background wins outside the nuclei, not-background inside them
    background = probabilities[0]
    assert (background[truth == 0] > 0.5).mean() > 0.95
    assert (background[truth > 0] < 0.5).mean() > 0.95


def test_predict_accepts_a_file_path(tiny_model, nuclei, tmp_path):
    image, _ = nuclei
    path = tmp_path / "nuclei.tif"
    tifffile.imwrite(path, image)
    from_file = predict(path, tiny_model)
    np.testing.assert_allclose(from_file, predict(image, tiny_model), atol=1e-6)
    np.testing.assert_allclose(predict(str(path), tiny_model), from_file, atol=1e-6)
    labels = segment(path, tiny_model)
    assert labels.shape == image.shape and labels.max() > 0


def test_rgb_image_is_accepted(tiny_model, nuclei):
    image, truth = nuclei
    rgb = np.stack([image] * 3, axis=-1)
    assert rgb.shape == (256, 320, 3)
    labels = segment(rgb, tiny_model)
    assert labels.shape == image.shape
    np.testing.assert_array_equal(labels, segment(image, tiny_model))
    assert instance_scores(labels, truth)["ap"] >= 0.85


def test_channel_first_single_channel_image(tiny_model, nuclei):
    image, _ = nuclei
    np.testing.assert_allclose(
        predict(image[None], tiny_model), predict(image, tiny_model), atol=1e-6
    )
    np.testing.assert_allclose(
        predict(image.T, tiny_model, axes="xy"), predict(image, tiny_model), atol=1e-5
    )


# --- bad inputs -------------------------------------------------------------------------------


def test_3d_stack_with_axes_is_a_value_error(tiny_model):
    stack = np.zeros((8, 64, 64), np.uint8)
    with pytest.raises(ValueError, match=r"'tiny-nuclei-2d' takes 2D images.*pass a 2D image"):
        segment(stack, tiny_model, axes="zyx")


def test_3d_stack_without_axes_is_a_value_error(tiny_model):
    stack = np.zeros((8, 64, 64), np.uint8)
    with pytest.raises(
        ValueError, match=r"image has 8 channels but model 'tiny-nuclei-2d' expects 1"
    ):
        segment(stack, tiny_model)


def test_3d_tif_file_is_a_value_error(tiny_model, tmp_path):
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros((8, 64, 64), np.uint8), imagej=True, metadata={"axes": "ZYX"})
    with pytest.raises(ValueError, match=r"takes 2D images"):
        predict(path, tiny_model)


@pytest.mark.parametrize(
    "shape", [(100,), (2, 3, 64, 64), (1, 1, 1, 64, 64)], ids=["1d", "4d", "5d"]
)
def test_wrong_number_of_dimensions_is_a_value_error(tiny_model, shape):
    with pytest.raises(
        ValueError, match=rf"\({len(shape)} dimensions\) but model 'tiny-nuclei-2d' takes 2D"
    ):
        segment(np.zeros(shape, np.float32), tiny_model)


def test_axes_that_do_not_match_the_image_are_a_value_error(tiny_model):
    with pytest.raises(ValueError, match=r"with axes 'yxc'"):
        predict(np.zeros((64, 64), np.float32), tiny_model, axes="yxc")


def test_wrong_channel_count_is_a_value_error(tiny_model):
    with pytest.raises(ValueError, match=r"has 2 channels but model 'tiny-nuclei-2d' expects 1"):
        predict(np.zeros((64, 64, 2), np.float32), tiny_model, axes="yxc")


def test_missing_model_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"absent\.zip"):
        segment(np.zeros((64, 64), np.float32), tmp_path / "absent.zip", device="cpu")


def test_missing_image_file_is_file_not_found(tiny_model, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.tif"):
        predict(tmp_path / "missing.tif", tiny_model)


def test_package_without_recipe_cannot_segment(tiny_package_path, nuclei, tmp_path, tiny_recipe):
    folder = tmp_path / "no_recipe"
    with zipfile.ZipFile(tiny_package_path) as archive:
        archive.extractall(folder)
    rdf = yaml.safe_load((folder / "rdf.yaml").read_text())
    rdf.pop("config")
    for axis in rdf["outputs"][0]["axes"]:
        if axis["type"] == "channel":
            axis["channel_names"] = ["c0", "c1", "c2"]
    (folder / "rdf.yaml").write_text(yaml.safe_dump(rdf, sort_keys=False))

    model = semiseg_zoo.load_model(folder, device="cpu")
    assert isinstance(model, Model)
    image, truth = nuclei
    with pytest.raises(ValueError, match=r"cannot segment with 'tiny-nuclei-2d'.*c0"):
        segment(image, model)
    labels = segment(image, model, postprocessing=tiny_recipe)
    assert instance_scores(labels, truth)["ap"] >= 0.85


def test_predict_and_segment_write_large_images_blockwise_into_zarr(tmp_path):
    import zarr

    from semiseg_zoo.evaluation import adapted_rand_error

    raw, _ = synthetic_nuclei((300, 420), seed=4)
    path = tmp_path / "raw.zarr"
    zarr.create_array(path, data=raw.astype(np.float32), chunks=(100, 100))
    options = semiseg_zoo.BlockwiseOptions(block_shape=(128, 128), scheduler="synchronous")
    model = "teacher-nuclei-2d"
    probabilities = semiseg_zoo.predict(path, model, output=tmp_path / "p.zarr", blockwise=options)
    assert probabilities.shape == (3, 300, 420) and probabilities.chunks == (3, 128, 128)
    in_memory = semiseg_zoo.predict(raw, model, tile=None)
    np.testing.assert_allclose(probabilities[:], in_memory, atol=2e-5)
    labels = semiseg_zoo.segment(path, model, output=tmp_path / "s.zarr", blockwise=options)
    expected = semiseg_zoo.segment(raw, model, tile=None)
    assert labels.dtype == np.uint32 and int(labels.attrs["n_objects"]) == expected.max()
    assert adapted_rand_error(labels[:], expected) == 0.0
