"""Shared fixtures: a tiny U-Net trained on synthetic nuclei and exported as a package, once.

Building the package (train ~80 steps of 64x64 patches, then ``export_package``, which runs
bioimageio.core's ``test_model`` for all three weight formats) takes well under a minute on two
CPU cores; every test that needs a real, validated package shares it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
TEACHER_SPEC_FILE = REPO_ROOT / "model_specs" / "teacher_nuclei_2d.yaml"

# The tuned post-processing recipe the tiny package carries in config.semiseg.postprocessing.
TINY_RECIPE: dict[str, Any] = {
    "method": "watershed",
    "seed_threshold": 0.5,
    "foreground_threshold": 0.5,
    "min_size": 10,
}
TINY_TRAIN_STEPS = 80
TINY_VALIDATE_EVERY = 40


@dataclass(frozen=True)
class TinyPackage:
    """The session's trained and exported tiny package."""

    path: Path
    spec: Any
    best_score: float
    best_step: int
    history: list[dict[str, float]]
    validation: dict[str, Any]


def _tiny_spec_dict() -> dict[str, Any]:
    data = yaml.safe_load(TEACHER_SPEC_FILE.read_text())
    data["name"] = "tiny-nuclei-2d"
    data["description"] = (
        "Tiny 2D U-Net (test fixture) that classifies each pixel of a synthetic fluorescence "
        "nuclei image as background, nucleus interior or nucleus boundary (softmax)."
    )
    data["architecture"]["kwargs"].update(depth=3, base_features=8)
    # depth 3 -> pooling factor 4; receptive field radius 20 px < halo 24 < min_shape / 2.
    data["input"].update(min_shape=[64, 64], step=[4, 4])
    data["output"]["halo"] = [24, 24]
    data["postprocessing"] = dict(TINY_RECIPE)
    data["training"].update(
        train="synthetic",
        val="synthetic",
        data_description="Synthetic fluorescence nuclei made by semiseg_zoo.synthetic.",
        patch_shape=[64, 64],
        batch_size=8,
        steps=TINY_TRAIN_STEPS,
        validate_every=TINY_VALIDATE_EVERY,
    )
    data["tile"] = [128, 128]
    return data


@pytest.fixture(scope="session")
def tiny_spec():
    """The teacher spec with a small U-Net (depth 3, 8 base features), validated."""
    from semiseg_zoo.spec import parse_spec

    return parse_spec(_tiny_spec_dict(), "tiny-nuclei-2d (tests/conftest.py)")


@pytest.fixture(scope="session")
def tiny_recipe() -> dict[str, Any]:
    return dict(TINY_RECIPE)


@pytest.fixture(scope="session")
def tiny_package(tiny_spec, tmp_path_factory) -> TinyPackage:
    """Train the tiny U-Net on synthetic nuclei and export it (test_model runs for all formats)."""
    import torch

    from semiseg_zoo.evaluation import instance_scores
    from semiseg_zoo.export import export_package
    from semiseg_zoo.nets import UNet2d
    from semiseg_zoo.postprocess import apply_postprocessing
    from semiseg_zoo.synthetic import synthetic_nuclei
    from semiseg_zoo.training import (
        LabelledImage,
        RandomPatchDataset,
        predict_whole_image,
        scale_range,
        train_supervised,
    )

    training = tiny_spec.training
    items = []
    for seed in range(4):
        image, labels = synthetic_nuclei((192, 192), seed=100 + seed)
        items.append(
            LabelledImage(f"train{seed}", scale_range(image)[None], labels.astype(np.int64))
        )
    val_pairs = [synthetic_nuclei((128, 128), seed=200 + seed) for seed in range(2)]

    def validate(net) -> float:
        aps = []
        for image, labels in val_pairs:
            probabilities = predict_whole_image(
                net, scale_range(image)[None], divisor=net.divisor, device="cpu"
            )
            prediction = apply_postprocessing(probabilities, TINY_RECIPE)
            aps.append(instance_scores(prediction, labels)["ap"])
        return float(np.mean(aps))

    torch.manual_seed(0)
    net = UNet2d(**tiny_spec.architecture.kwargs)
    dataset = RandomPatchDataset(items, tuple(training.patch_shape), seed=0)
    batches = iter(torch.utils.data.DataLoader(dataset, batch_size=training.batch_size))
    result = train_supervised(
        net,
        batches,
        steps=training.steps,
        learning_rate=0.005,
        weight_decay=0.0,
        class_weights=[1.0, 1.0, 4.0],
        validate=validate,
        validate_every=training.validate_every,
        device="cpu",
        log=lambda message: None,
    )
    net.load_state_dict(result.best_state)

    sample, _ = synthetic_nuclei((128, 128), seed=7)
    validation = {
        "dataset": "synthetic nuclei (2 images, 128x128)",
        "ap50": round(result.best_score, 4),
        "n_images": 2,
    }
    path = export_package(
        net,
        tiny_spec,
        sample_input=sample,
        output_path=tmp_path_factory.mktemp("tiny-package") / "tiny.zip",
        postprocessing=TINY_RECIPE,
        validation=validation,
    )
    return TinyPackage(
        path=path,
        spec=tiny_spec,
        best_score=result.best_score,
        best_step=result.best_step,
        history=result.history,
        validation=validation,
    )


@pytest.fixture(scope="session")
def tiny_package_path(tiny_package) -> Path:
    """The exported tiny package zip (treat as read-only; copy it before modifying)."""
    return tiny_package.path


@pytest.fixture(scope="session")
def tiny_model(tiny_package_path):
    """The tiny package loaded for CPU inference with onnxruntime."""
    from semiseg_zoo.inference import load_model

    return load_model(tiny_package_path, weight_format="onnx", device="cpu")


@pytest.fixture(scope="session")
def _offline_zoo_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("zoo-environment")
    (folder / "collection.json").write_text('{"collection": []}')
    return folder


@pytest.fixture(autouse=True)
def _no_real_zoo(_offline_zoo_folder, monkeypatch) -> None:
    """No test reaches bioimage.io or the user's cache: the default collection is an empty local
    index and the cache a temporary folder. Zoo tests pass their own settings."""
    monkeypatch.setenv("SEMISEG_CACHE", str(_offline_zoo_folder / "cache"))
    monkeypatch.setenv("SEMISEG_COLLECTION", str(_offline_zoo_folder / "collection.json"))
    for name in ("SEMISEG_OFFLINE", "BIOIMAGEIO_ID_MAP", "BIOIMAGEIO_COLLECTION_HTTP_PATTERN"):
        monkeypatch.delenv(name, raising=False)
