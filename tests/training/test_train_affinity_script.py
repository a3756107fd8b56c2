"""``training/train_affinity.py`` end to end on a tiny synthetic EM stack (slow: exports)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from semiseg_zoo.synthetic import synthetic_cells

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train_affinity.py"


def _stack(folder: Path) -> None:
    folder.mkdir(parents=True)
    pairs = [synthetic_cells((96, 96), n_cells=10, seed=seed) for seed in range(5)]
    tifffile.imwrite(folder / "raw.tif", np.stack([image for image, _ in pairs]))
    tifffile.imwrite(
        folder / "labels.tif",
        np.stack([(labels > 0) * 255 for _, labels in pairs]).astype(np.uint8),
    )


def _tiny_spec(tmp_path: Path) -> Path:
    spec = yaml.safe_load((REPO / "model_specs" / "affinity_neurites_isbi.yaml").read_text())
    spec["name"] = "tiny-affinity"
    spec["offsets"] = [[-1, 0], [0, -1], [-3, 0], [0, -3]]
    spec["architecture"]["kwargs"].update(out_channels=4, depth=2, base_features=4)
    spec["output"].update(channel_names=["y1", "x1", "y3", "x3"], halo=[8, 8])
    spec["input"].update(min_shape=[32, 32], step=[2, 2])
    spec["tile"] = [128, 128]
    training = spec["training"]
    training["data"].update(raw="em/raw.tif", labels="em/labels.tif", split_at=4)
    training.update(
        annotated_fraction=0.3, embedding_dim=4, patch_shape=[48, 48], steps=4,
        postprocessing=[
            {"method": "mutex_watershed", "strides": [2, 2]},
            {"method": "agglomerated_watershed", "threshold": 0.5},
        ],
    )  # fmt: skip
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.mark.slow
def test_train_affinity_script_trains_both_nets_tunes_and_exports(tmp_path: Path) -> None:
    _stack(tmp_path / "em")
    output = tmp_path / "out" / "tiny.zip"
    command = [
        sys.executable, str(SCRIPT), "--spec", str(_tiny_spec(tmp_path)), "--output",
        str(output), "--run-dir", str(tmp_path / "work"), "--data-root", str(tmp_path),
        "--device", "cpu", "--threads", "1",
    ]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert "CRAC, 30% of the training instances annotated" in completed.stdout
    report = json.loads((tmp_path / "work" / "validation.json").read_text())
    # Both networks, each with both recipes, scored on the one validation slice.
    assert sorted((row["net"], row["recipe"]["method"]) for row in report["postprocessing"]) == [
        ("explicit", "agglomerated_watershed"), ("explicit", "mutex_watershed"),
        ("implicit", "agglomerated_watershed"), ("implicit", "mutex_watershed"),
    ]  # fmt: skip
    assert report["annotated_instances"] < report["instances"]
    assert all(np.isfinite(row["voi"]) for row in report["postprocessing"])
    with zipfile.ZipFile(output) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
    config = rdf["config"]
    assert config["semiseg"]["kind"] == "affinity"
    assert config["semiseg"]["offsets"] == [[-1, 0], [0, -1], [-3, 0], [0, -3]]
    assert config["mws"]["offsets"] == config["semiseg"]["offsets"]
    assert config["semiseg"]["postprocessing"]["offsets"] == config["semiseg"]["offsets"]
    best = next(r for r in report["postprocessing"] if r["name"] == report["best"])
    expected = "CosineAffinityUNet2d" if best["net"] == "explicit" else "UNet2d"
    assert rdf["weights"]["pytorch_state_dict"]["architecture"]["callable"] == expected


@pytest.mark.slow
def test_explicit_net_exports_and_runs_through_the_package(tmp_path: Path) -> None:
    """The cosine head survives torchscript and onnx export and bioimageio's test_model."""
    from semiseg_zoo import segment
    from semiseg_zoo.export import export_package
    from semiseg_zoo.spec import load_spec
    from semiseg_zoo.training.affinity.steps import explicit_net, exported_spec

    spec = load_spec(_tiny_spec(tmp_path))
    image, _ = synthetic_cells((128, 128), seed=0)
    path = export_package(
        explicit_net(spec).eval(), exported_spec(spec, "explicit"), sample_input=image,
        output_path=tmp_path / "explicit.zip",
    )  # fmt: skip
    labels = segment(image, str(path), device="cpu")
    assert labels.shape == (128, 128) and labels.dtype == np.uint32 and labels.max() >= 1
