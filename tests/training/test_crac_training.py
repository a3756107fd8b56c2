"""CRAC training (2D and 3D, vanilla, CPSN) and the sparse volume data it trains on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from semiseg_zoo.nets import CosineAffinityUNet2d, CosineAffinityUNet3d, UNet2d, UNet3d
from semiseg_zoo.synthetic import synthetic_cells
from semiseg_zoo.training.affinity.crac import batch_targets, train_crac
from semiseg_zoo.training.affinity.targets import UNANNOTATED
from semiseg_zoo.training.affinity.volume_data import (
    SparseInstancePatchDataset,
    instances_per_slice,
    load_volume_split,
)
from semiseg_zoo.training.instance_data import training_labels

OFFSETS_2D = [[-1, 0], [0, -1], [-3, 0], [0, -3]]
QUIET = {"log": lambda _: None, "log_every": 10}


def _cells(n: int, fraction: float) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, labels = [], []
    for seed in range(n):
        image, label = synthetic_cells((64, 64), n_cells=12, seed=seed)
        images.append((image.astype(np.float32) / 255)[None])
        labels.append(training_labels(label, fraction=fraction, rng=np.random.default_rng(seed)))
    return images, labels


def _nets_2d() -> tuple[torch.nn.Module, torch.nn.Module]:
    implicit = UNet2d(1, 4, depth=2, base_features=8, final_activation="sigmoid")
    explicit = CosineAffinityUNet2d(1, 6, OFFSETS_2D, depth=2, base_features=8)
    return implicit, explicit


def test_batch_targets_split_pairs_into_annotated_and_unannotated():
    labels = torch.tensor([[[3, 3, -1], [-1, -1, -1]]])
    targets, annotated, unannotated = batch_targets(labels, [[0, 1]])
    assert targets[0, 0].tolist() == [[1, 0, 0], [1, 1, 0]]
    assert annotated[0, 0].tolist() == [[True, True, False], [False, False, False]]
    assert unannotated[0, 0].tolist() == [[False, False, False], [True, True, False]]


def test_crac_lowers_both_supervised_losses_and_cross_supervises():
    torch.manual_seed(0)
    images, labels = _cells(3, fraction=0.3)
    implicit, explicit = _nets_2d()
    patches = SparseInstancePatchDataset(images, labels, (48, 48), seed=0)
    result = train_crac(
        implicit, explicit, patches, OFFSETS_2D, steps=40, batch_size=4, learning_rate=3e-3,
        **QUIET,
    )  # fmt: skip
    first, last = result.history[0], result.history[-1]
    assert [entry["step"] for entry in result.history] == [10, 20, 30, 40]
    for name in ("supervised_implicit", "supervised_explicit"):
        assert last[name] < 0.8 * first[name], name
    assert last["consistency_implicit"] > 0 and last["consistency_explicit"] > 0
    # α_t starts at 5%: each net leaves out about that share of its uncertain pairs.
    assert 0.9 < first["confident_fraction"] <= 1.0
    assert result.explicit is not None and result.cpsn is None
    assert not result.implicit.training and not result.explicit.training


def test_vanilla_trains_the_implicit_net_alone():
    images, labels = _cells(2, fraction=0.3)
    implicit, _ = _nets_2d()
    result = train_crac(
        implicit, None, SparseInstancePatchDataset(images, labels, (32, 32), seed=0),
        OFFSETS_2D, steps=10, batch_size=2, **QUIET,
    )  # fmt: skip
    assert result.explicit is None
    assert set(result.history[0]) == {"step", "supervised_implicit", "seconds"}


def test_cpsn_is_trained_and_filters_after_the_warmup():
    images, labels = _cells(2, fraction=0.3)
    implicit, explicit = _nets_2d()
    cpsn = UNet2d(1 + 8, 4, depth=2, base_features=4, final_activation="sigmoid")
    before = {k: v.clone() for k, v in cpsn.state_dict().items()}
    result = train_crac(
        implicit, explicit, SparseInstancePatchDataset(images, labels, (32, 32), seed=0),
        OFFSETS_2D, steps=20, batch_size=2, cpsn=cpsn, **QUIET,
    )  # fmt: skip
    assert result.cpsn is not None
    assert result.history[-1]["cpsn"] > 0
    weight = "encoders.0.0.weight"
    assert not torch.equal(result.cpsn.state_dict()[weight], before[weight])


def test_cpsn_without_the_explicit_net_is_refused():
    images, labels = _cells(1, fraction=0.5)
    with pytest.raises(ValueError, match="explicit"):
        train_crac(
            _nets_2d()[0], None, SparseInstancePatchDataset(images, labels, (32, 32)),
            OFFSETS_2D, steps=1, batch_size=1, cpsn=UNet2d(9, 4, depth=2),
        )  # fmt: skip


def test_3d_crac_runs_on_volumes():
    offsets = [[-1, 0, 0], [0, -1, 0], [0, 0, -1], [0, -3, 0]]
    rng = np.random.default_rng(0)
    labels = np.repeat(synthetic_cells((32, 32), n_cells=6, seed=1)[1][None], 8, axis=0)
    image = (labels > 0).astype(np.float32)[None] + rng.normal(0, 0.1, (1, 8, 32, 32))
    sparse = training_labels(labels, fraction=0.5, rng=rng)
    result = train_crac(
        UNet3d(1, 4, depth=2, base_features=4, final_activation="sigmoid"),
        CosineAffinityUNet3d(1, 4, offsets, depth=2, base_features=4),
        SparseInstancePatchDataset([image.astype(np.float32)], [sparse], (8, 16, 16)),
        offsets, steps=4, batch_size=2, **QUIET,
    )  # fmt: skip
    assert result.history[-1]["step"] == 4 and result.explicit is not None


def test_instances_per_slice_are_unique_over_the_stack():
    interior = np.array([[[1, 0, 1]], [[1, 1, 0]]])
    result = instances_per_slice(interior, interior=True)
    assert result.tolist() == [[[1, 0, 2]], [[3, 3, 0]]]
    ids = np.array([[[7, 7, 0]], [[7, 9, 9]]])
    assert instances_per_slice(ids, interior=False).tolist() == [[[1, 1, 0]], [[2, 3, 3]]]


def _stack(folder: Path) -> None:
    folder.mkdir()
    raw = np.random.default_rng(0).integers(0, 255, (6, 40, 48), dtype=np.uint8)
    labels = np.zeros(raw.shape, dtype=np.uint16)
    labels[:, 5:20, 5:20], labels[:, 25:35, 10:40] = 1, 2
    tifffile.imwrite(folder / "raw.tif", raw)
    tifffile.imwrite(folder / "labels.tif", labels)


def test_volume_split_for_2d_and_3d_networks(tmp_path):
    _stack(tmp_path / "em")
    split = load_volume_split(
        tmp_path, "em/raw.tif", "em/labels.tif", labels_are="instances", split_axis=0,
        split_at=4, n_spatial=2, val_crop=[32, 32],
    )  # fmt: skip
    assert len(split.train_images) == 4 and len(split.val_images) == 2
    assert split.train_images[0].shape == (1, 40, 48) and split.val_images[0].shape == (1, 32, 32)
    assert split.train_images[0].dtype == np.float32
    assert len(np.unique(np.concatenate([s.ravel() for s in split.train_labels]))) == 1 + 2 * 4
    volume = load_volume_split(
        tmp_path, "em/raw.tif", "em/labels.tif", labels_are="instances", split_axis=1,
        split_at=24, n_spatial=3,
    )  # fmt: skip
    assert volume.train_images[0].shape == (1, 6, 24, 48)
    assert volume.val_images[0].shape == (1, 6, 16, 48)
    # 3D ids are kept as given: object 1 lies in the training rows, object 2 below them.
    assert np.unique(volume.train_labels[0]).tolist() == [0, 1]
    assert np.unique(volume.val_labels[0]).tolist() == [0, 2]


def test_volume_split_outside_the_volume_is_refused(tmp_path):
    _stack(tmp_path / "em")
    with pytest.raises(ValueError, match="split_at"):
        load_volume_split(
            tmp_path, "em/raw.tif", "em/labels.tif", labels_are="instances", split_axis=0,
            split_at=6, n_spatial=2,
        )  # fmt: skip


def test_patches_centre_on_annotations_and_pad_as_unannotated():
    labels = np.full((64, 64), UNANNOTATED)
    labels[60:62, 2:4] = 5
    image = np.zeros((1, 64, 64), dtype=np.float32)
    patches = iter(SparseInstancePatchDataset([image], [labels], (16, 16), annotated_probability=1))
    for _ in range(5):
        _, label = next(patches)
        assert (label == 5).sum() == 4
    small = iter(SparseInstancePatchDataset([image[:, :8]], [labels[:8]], (16, 16)))
    _, label = next(small)
    assert label.shape == (16, 16) and (label == UNANNOTATED).all()
