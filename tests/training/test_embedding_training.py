"""SPOCO training in 2D and 3D, and ``training/train_embedding.py`` end to end on tiny data."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
import yaml

from semiseg_zoo.nets import UNet2d, UNet3d
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training.embedding.spoco import train_embedding
from semiseg_zoo.training.instance_data import InstancePatchDataset, training_labels

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train_embedding.py"


def _nuclei(n: int, fraction: float | None) -> tuple[list[np.ndarray], list[np.ndarray]]:
    images, labels = [], []
    for seed in range(n):
        image, label = synthetic_nuclei((64, 64), n_objects=6, radius=(5.0, 9.0), seed=seed)
        images.append((image.astype(np.float32) / 255)[None])
        rng = np.random.default_rng(seed)
        labels.append(training_labels(label, fraction=fraction, rng=rng))
    return images, labels


def test_sparse_training_lowers_the_loss_and_updates_the_momentum_net():
    torch.manual_seed(0)
    images, labels = _nuclei(4, fraction=0.5)
    net = UNet2d(in_channels=1, out_channels=4, depth=2, base_features=8, final_activation="none")
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    result = train_embedding(
        net, InstancePatchDataset(images, labels, (48, 48), seed=0),
        steps=60, batch_size=4, learning_rate=3e-3, momentum=0.9, log_every=20, log=lambda _: None,
    )  # fmt: skip
    totals = [entry["total"] for entry in result.history]
    assert [entry["step"] for entry in result.history] == [20, 40, 60]
    assert totals[-1] < 0.8 * totals[0]
    assert result.history[0]["unlabeled_push"] > 0  # sparse: an unlabeled region exists
    assert not result.net.training and not result.momentum_net.training
    weight = "encoders.0.0.weight"
    f, g = result.net.state_dict()[weight], result.momentum_net.state_dict()[weight]
    assert not torch.equal(g, initial[weight])  # g follows f ...
    assert not torch.equal(g, f)  # ... as a moving average, not a copy


def test_full_supervision_has_no_unlabeled_push():
    images, labels = _nuclei(2, fraction=None)
    net = UNet2d(in_channels=1, out_channels=4, depth=2, base_features=4, final_activation="none")
    result = train_embedding(
        net, InstancePatchDataset(images, labels, (32, 32), seed=0),
        steps=4, batch_size=2, log_every=4, log=lambda _: None,
    )  # fmt: skip
    assert result.history[0]["unlabeled_push"] == 0.0
    assert result.history[0]["consistency"] > 0  # anchors cover the whole patch instead


def test_3d_training_runs_on_volumes():
    labels = np.zeros((16, 32, 32), dtype=np.int64)
    labels[2:8, 4:14, 4:14], labels[9:15, 16:28, 10:22] = 1, 2
    image = (labels > 0).astype(np.float32)[None] + 0.1
    sparse = training_labels(labels, fraction=0.5, rng=np.random.default_rng(0))
    net = UNet3d(in_channels=1, out_channels=4, depth=2, base_features=4, final_activation="none")
    result = train_embedding(
        net, InstancePatchDataset([image], [sparse], (16, 32, 32), seed=0),
        steps=3, batch_size=1, log_every=3, log=lambda _: None,
    )  # fmt: skip
    assert np.isfinite(result.history[0]["total"])
    with torch.no_grad():
        assert tuple(result.net(torch.from_numpy(image)[None]).shape) == (1, 4, 16, 32, 32)


def _write_images(folder: Path, seeds: range) -> None:
    folder.mkdir(parents=True)
    for seed in seeds:
        image, labels = synthetic_nuclei((96, 96), n_objects=8, radius=(5.0, 9.0), seed=seed)
        tifffile.imwrite(folder / f"im{seed}_raw.tif", image)
        tifffile.imwrite(folder / f"im{seed}_labels.tif", labels.astype(np.uint16))


def _tiny_spec(tmp_path: Path) -> Path:
    spec = yaml.safe_load((REPO / "model_specs" / "embedding_nuclei_dsb.yaml").read_text())
    spec["name"] = "tiny-embedding"
    spec["architecture"]["kwargs"].update(out_channels=4, depth=2, base_features=4)
    spec["output"].update(channel_names=["e0", "e1", "e2", "e3"], halo=[8, 8])
    spec["input"].update(min_shape=[32, 32], step=[2, 2])
    spec["tile"] = [128, 128]
    training = spec["training"]
    del training["val_data"]
    training.update(
        train={"images": "data/*_raw.tif", "labels": "data/*_labels.tif"}, val_images=1,
        patch_shape=[48, 48], batch_size=2, steps=4,
        clustering=[{"method": "embedding_mws"}, {"method": "mean_shift", "merge_close": True}],
    )  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow
def test_train_embedding_script_trains_tunes_and_exports(tmp_path: Path) -> None:
    _write_images(tmp_path / "data", range(4))
    output = tmp_path / "out" / "tiny.zip"
    command = [
        sys.executable, str(SCRIPT), "--spec", str(_tiny_spec(tmp_path)), "--object-fraction",
        "0.4", "--output", str(output), "--run-dir", str(tmp_path / "work"), "--data-root",
        str(tmp_path), "--device", "cpu", "--threads", "1",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "SPOCO@0.4" in completed.stdout and "3 training images" in completed.stdout
    report = json.loads((tmp_path / "work" / "validation.json").read_text())
    assert [row["recipe"]["method"] for row in report["clustering"]] == [
        "embedding_mws",
        "mean_shift",
    ]
    assert report["labeled_objects"] < report["objects"]
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    semiseg = rdf["config"]["semiseg"]
    assert semiseg["kind"] == "embedding"
    assert (
        semiseg["postprocessing"] == report["clustering"][0]["recipe"]
        or semiseg["postprocessing"] == report["clustering"][1]["recipe"]
    )
    assert semiseg["embedding"] == {
        "dimension": 4, "delta_v": 0.5, "delta_d": 2.0, "supervision": "SPOCO@0.4"
    }  # fmt: skip
    # The existing package is not replaced without --overwrite, before any training.
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "--overwrite" in again.stderr
