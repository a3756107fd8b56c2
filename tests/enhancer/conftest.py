"""A tiny shallow2deep enhancer, trained on forest maps of synthetic nuclei and exported once."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ENHANCER_SPEC_FILE = REPO_ROOT / "model_specs" / "enhancer_nuclei_lm.yaml"
# Weak forests (one feature, few pixels and trees) leave noise that the enhancer learns to remove.
SMALL_FEATURES = {"names": ["gaussian_smoothing"], "sigmas": [0.7]}


@dataclass(frozen=True)
class TinyEnhancer:
    path: Path
    spec: Any
    rf_dice: float
    enhanced_dice: float


def tiny_enhancer_spec_dict() -> dict[str, Any]:
    data = yaml.safe_load(ENHANCER_SPEC_FILE.read_text())
    data["name"] = "tiny-enhancer"
    data["architecture"]["kwargs"].update(depth=3, base_features=8)
    data["features"] = dict(SMALL_FEATURES)
    data["postprocessing"] = {"method": "threshold", "threshold": 0.5, "min_size": 10}
    data["training"].update(
        source={"raw": "synthetic", "positive": "nonzero"},
        val_images=1,
        val="synthetic",
        data_description="Forest maps of synthetic nuclei made by semiseg_zoo.synthetic.",
        n_forests=8,
        val_forests=4,
        forest_patch_size=[32, 96],
        pixels_per_class=200,
        patch_shape=[64, 64],
        steps=120,
        validate_every=60,
    )
    data["tile"] = [128, 128]
    return data


def synthetic_pairs(seeds: range) -> list[tuple[np.ndarray, np.ndarray]]:
    from semiseg_zoo.synthetic import synthetic_nuclei

    return [synthetic_nuclei((128, 128), seed=seed) for seed in seeds]


@pytest.fixture(scope="session")
def tiny_enhancer(tmp_path_factory) -> TinyEnhancer:
    """Forests on random patches of 3 synthetic images → enhancer (120 steps) → package."""
    import torch

    from semiseg_zoo.export import export_package
    from semiseg_zoo.features import FeatureSet, compute_features
    from semiseg_zoo.nets import UNet2d
    from semiseg_zoo.spec import parse_spec
    from semiseg_zoo.training.enhancer.forest_maps import forest_maps
    from semiseg_zoo.training.enhancer.train import (
        enhance_maps,
        make_enhancer_validator,
        pixel_dice,
        train_enhancer,
    )

    spec = parse_spec(tiny_enhancer_spec_dict(), "tiny-enhancer (tests/enhancer/conftest.py)")
    features = FeatureSet.from_dict(SMALL_FEATURES)
    train = synthetic_pairs(range(300, 303))
    val = synthetic_pairs(range(400, 402))

    def maps(pairs, n, seed):
        return forest_maps(
            [image.astype(np.float32) / 255 for image, _ in pairs],
            [labels > 0 for _, labels in pairs],
            lambda image: compute_features(image, features),
            n_forests=n, patch_size=(32, 96), pixels_per_class=20, trees_per_forest=2,
            seed=seed, log=lambda _: None,
        )  # fmt: skip

    train_maps, val_maps = maps(train, 8, 0), maps(val, 4, 1)
    val_targets = [labels > 0 for _, labels in val]
    torch.manual_seed(0)
    net = UNet2d(**spec.architecture.kwargs)
    validate = make_enhancer_validator(val_maps, val_targets, divisor=net.divisor, device="cpu")
    train_enhancer(
        net, train_maps, [labels > 0 for _, labels in train], validate,
        patch_shape=(64, 64), batch_size=8, steps=120, learning_rate=0.005, weight_decay=0.0,
        loss="bce", validate_every=60, seed=0, log=lambda _: None,
    )  # fmt: skip
    enhanced = enhance_maps(net, val_maps, divisor=net.divisor, device="cpu")
    targets = [val_targets[m.index] for m in val_maps]
    rf_dice = float(
        np.mean([pixel_dice(m.probabilities, t) for m, t in zip(val_maps, targets, strict=False)])
    )
    enhanced_dice = float(
        np.mean([pixel_dice(e, t) for e, t in zip(enhanced, targets, strict=False)])
    )
    path = export_package(
        net,
        spec,
        sample_input=val_maps[0].probabilities.astype(np.float32),
        output_path=tmp_path_factory.mktemp("tiny-enhancer") / "tiny-enhancer.zip",
        postprocessing=spec.postprocessing.model_dump(),
        validation={"dataset": "synthetic", "pixel_dice": round(enhanced_dice, 4)},
    )
    return TinyEnhancer(path, spec, rf_dice, enhanced_dice)
