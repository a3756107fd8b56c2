"""``training/train_enhancer.py --pseudo-label-net``: the tiny enhancer's pseudo-labels on a
synthetic target stack → a trained, exported ``pseudo_label_net`` package (slow: trains and
runs bioimageio.core's package test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
import yaml

from semiseg_zoo.shallow import simulate_scribbles
from semiseg_zoo.synthetic import synthetic_nuclei

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "training" / "train_enhancer.py"


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--device", "cpu", "--threads", "1"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture
def target(tiny_enhancer, tmp_path) -> dict[str, Path]:
    """The tiny enhancer's spec as YAML and a 2-slice target stack with simulated scribbles."""
    pairs = [synthetic_nuclei((128, 128), seed=seed) for seed in (600, 601)]
    raw = np.stack([image for image, _ in pairs])
    semantic = np.stack([(labels > 0).astype(np.uint8) for _, labels in pairs])
    scribbles = simulate_scribbles(semantic, n_strokes_per_class=6, stroke_width=3, seed=0)
    paths = {"spec": tmp_path / "tiny.yaml", "raw": tmp_path / "raw.tif"}
    paths["scribbles"] = tmp_path / "scribbles.tif"
    paths["spec"].write_text(yaml.safe_dump(tiny_enhancer.spec.model_dump(mode="json")))
    tifffile.imwrite(paths["raw"], raw)
    tifffile.imwrite(paths["scribbles"], scribbles)
    return paths


@pytest.mark.slow
def test_pseudo_label_mode_trains_and_exports_a_package(tiny_enhancer, target, tmp_path) -> None:
    from semiseg_zoo.inference import load_model

    output = tmp_path / "out" / "pl.zip"
    run = _run(
        ["--spec", str(target["spec"]), "--pseudo-label-net", str(target["raw"]),
         "--scribbles", str(target["scribbles"]), "--enhancer", str(tiny_enhancer.path),
         "--pl-steps", "20", "--output", str(output), "--run-dir", str(tmp_path / "work")],
        tmp_path,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pseudo-labels of 2 slices" in run.stdout
    assert not (tmp_path / "runs").exists()  # nothing went to the default run folder
    assert sorted(p.name for p in output.parent.iterdir()) == ["pl.zip"]

    model = load_model(output, weight_format="onnx", device="cpu")
    config = model.package.semiseg_config
    assert config["kind"] == "pseudo_label_net"
    spec = config["spec"]
    assert spec["name"] == "pseudo-label-net-tiny-enhancer"
    assert spec["training"]["enhancer"] == "tiny-enhancer"
    assert spec["training"]["steps"] == 20
    assert spec["training"]["target"] == "raw.tif (2 slices of 128x128)"
    assert spec["architecture"] == tiny_enhancer.spec.architecture.model_dump(mode="json")
    assert config["postprocessing"] == tiny_enhancer.spec.postprocessing.model_dump()
    assert "pseudo-label" in model.package.description.tags
    assert "shallow2deep" not in model.package.description.tags
    assert "scale_range" in [step.id for step in model.package.description.inputs[0].preprocessing]
    validation = config["validation"]
    assert validation["n_images"] == 2 and 0 <= validation["pseudo_label_dice"] <= 1
    with zipfile.ZipFile(output) as archive:
        readme = archive.read("README.md").decode()
    assert "trained for one target domain" in readme and "`tiny-enhancer`" in readme
    work = tmp_path / "work"
    history = json.loads((work / "pseudo-label-net-tiny-enhancer.json").read_text())["history"]
    assert history[-1]["step"] == 20

    # Raw intensities in, one probability map out.
    image, _ = synthetic_nuclei((128, 128), seed=602)
    probabilities = model.predict(image, axes="yx")
    assert probabilities.shape == (1, 128, 128)
    assert 0 <= probabilities.min() and probabilities.max() <= 1


def test_pseudo_label_mode_checks_its_inputs_first(tiny_enhancer, target, tmp_path) -> None:
    spec = str(target["spec"])
    existing = tmp_path / "existing.zip"
    existing.write_bytes(b"earlier")
    run = _run(
        ["--spec", spec, "--pseudo-label-net", str(target["raw"]), "--scribbles",
         str(target["scribbles"]), "--enhancer", str(tiny_enhancer.path), "--output",
         str(existing)],
        tmp_path,
    )  # fmt: skip
    assert run.returncode != 0 and f"{existing} exists; pass --overwrite" in run.stderr
    assert existing.read_bytes() == b"earlier"
    run = _run(["--spec", spec, "--scribbles", str(target["scribbles"])], tmp_path)
    assert run.returncode != 0 and "--pseudo-label-net and --scribbles go together" in run.stderr
    run = _run(
        ["--spec", spec, "--pseudo-label-net", str(target["raw"]),
         "--scribbles", str(target["scribbles"])],
        tmp_path,
    )  # fmt: skip
    assert run.returncode != 0
    assert "--enhancer: runs/tiny-enhancer/tiny-enhancer.zip does not exist" in run.stderr
    assert "train the enhancer first" in run.stderr
    tifffile.imwrite(tmp_path / "small.tif", np.zeros((64, 64), np.uint8))
    run = _run(
        ["--spec", spec, "--pseudo-label-net", str(target["raw"]),
         "--scribbles", str(tmp_path / "small.tif"), "--enhancer", str(tiny_enhancer.path)],
        tmp_path,
    )  # fmt: skip
    assert run.returncode != 0 and "of the same shape" in run.stderr


def _steps_module():
    from semiseg_zoo.training.enhancer import pseudo_label_steps

    return pseudo_label_steps


def test_steps_for_experiments_train_on_ready_pseudo_labels(tiny_enhancer) -> None:
    """``train_pseudo_label_net_on`` / ``predict_slices``: 2D images and a stack, any shapes."""
    from semiseg_zoo.inference import load_package

    steps = _steps_module()
    image, labels = synthetic_nuclei((96, 112), seed=610)
    stack = np.stack([synthetic_nuclei((80, 80), seed=s)[0] for s in (611, 612)])
    raw = [image, stack]
    soft = [(labels > 0).astype(np.float32), np.full(stack.shape, 0.3, np.float32)]
    net = steps.train_pseudo_label_net_on(
        raw, soft, load_package(tiny_enhancer.path), steps=3, seed=0, log=lambda _: None
    )
    predictions = steps.predict_slices(net, raw)
    assert [p.shape for p in predictions] == [(96, 112), (2, 80, 80)]
    assert all(0 <= p.min() and p.max() <= 1 for p in predictions)
    with pytest.raises(ValueError, match="raw image 1 has shape"):
        steps.pseudo_label_data(raw, [soft[0], soft[0]])
    with pytest.raises(ValueError, match="2 raw images but 1 pseudo-label maps"):
        steps.pseudo_label_data(raw, soft[:1])


def test_train_pseudo_label_net_for_returns_net_and_spec(tiny_enhancer, target) -> None:
    steps = _steps_module()
    raw, scribbles = tifffile.imread(target["raw"]), tifffile.imread(target["scribbles"])
    net, spec = steps.train_pseudo_label_net_for(
        tiny_enhancer.path, [raw], [scribbles], target="raw.tif", steps=2, log=lambda _: None
    )
    assert spec.kind == "pseudo_label_net" and spec.training.enhancer == "tiny-enhancer"
    assert spec.training.steps == 2 and spec.training.loss == "bce"
    assert steps.predict_slices(net, [raw])[0].shape == raw.shape
