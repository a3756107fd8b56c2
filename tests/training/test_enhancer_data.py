"""Source data of enhancers: stacks and folders, targets by label convention, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from semiseg_zoo.spec import SourceData
from semiseg_zoo.training.enhancer.source_data import (
    binary_target,
    instances_of,
    load_source_images,
)

LABELS = np.array([[0, 0, 255, 255], [0, 0, 255, 255], [255, 0, 0, 0]], dtype=np.uint8)


def test_zero_is_the_positive_class_for_membrane_labels() -> None:
    membranes = binary_target(LABELS, SourceData(raw="r", labels="l", positive="zero"))
    np.testing.assert_array_equal(membranes, LABELS == 0)
    cells = instances_of(LABELS, SourceData(raw="r", labels="l", positive="zero"))
    assert cells.max() == 2 and cells[0, 2] != cells[2, 0] and cells[0, 0] == 0


def test_boundaries_of_instances() -> None:
    instances = np.zeros((6, 6), np.uint16)
    instances[1:5, 1:5] = 3
    target = binary_target(instances, SourceData(raw="r", boundaries_of_instances=True))
    assert target.sum() == 12 and not target[2:4, 2:4].any() and not target[0].any()


def test_stack_is_read_slice_by_slice(tmp_path) -> None:
    raw = np.random.default_rng(0).integers(0, 255, (3, 8, 10), dtype=np.uint8)
    mask = np.zeros((3, 8, 10), np.uint8)
    mask[:, 2:5, 3:7] = 1
    tifffile.imwrite(tmp_path / "raw.tif", raw, photometric="minisblack")
    tifffile.imwrite(tmp_path / "mask.tif", mask, photometric="minisblack")
    images = load_source_images(SourceData(raw="raw.tif", labels="mask.tif"), tmp_path)
    assert [image.name for image in images] == ["raw_z000", "raw_z001", "raw_z002"]
    assert images[1].image.shape == (8, 10) and images[1].image.dtype == np.float32
    # Percentile scaling (1, 99.8): the bulk of the values lies in [0, 1].
    assert np.percentile(images[1].image, 1) == pytest.approx(0, abs=1e-3)
    assert np.percentile(images[1].image, 99.8) == pytest.approx(1, abs=1e-2)
    assert images[2].target.sum() == 12 and images[2].instances.max() == 1


def test_missing_and_mismatched_files_are_named(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="raw.tif does not exist"):
        load_source_images(SourceData(raw="raw.tif", labels="mask.tif"), tmp_path)
    tifffile.imwrite(tmp_path / "raw.tif", np.zeros((2, 8, 8), np.uint8))
    tifffile.imwrite(tmp_path / "mask.tif", np.zeros((2, 8, 9), np.uint8))
    with pytest.raises(ValueError, match="mask.tif has shape"):
        load_source_images(SourceData(raw="raw.tif", labels="mask.tif"), tmp_path)
    with pytest.raises(FileNotFoundError, match="must contain `images/` and `labels/`"):
        load_source_images(SourceData(raw="."), tmp_path)
