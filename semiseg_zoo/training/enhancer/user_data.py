"""An enhancer (shallow2deep) spec written from defaults for a user's densely labeled source
folders: the built-in enhancers' features, forests and network, for a foreground or a boundary
target."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from semiseg_zoo.spec import EnhancerSpec, parse_spec

Target = Literal["foreground", "boundaries"]
#: Enhancer steps and forests when neither --steps nor --time-budget is given.
DEFAULT_STEPS = 3000
DEFAULT_FORESTS = 64
FEATURES = {
    "names": [
        "gaussian_smoothing",
        "laplacian_of_gaussian",
        "gaussian_gradient_magnitude",
        "difference_of_gaussians",
        "structure_tensor_eigenvalues",
        "hessian_of_gaussian_eigenvalues",
    ],
    "sigmas": [0.3, 0.7, 1.0, 1.6, 3.5, 5.0, 10.0],
}


def default_enhancer_spec(
    name: str,
    *,
    images: Path,
    labels: Path,
    target: Target,
    n_images: int,
    steps: int,
    n_forests: int,
    seed: int = 0,
) -> EnhancerSpec:
    """A shallow2deep spec for ``images``/``labels``: ``foreground`` (label != 0, instances by
    threshold and connected components) or ``boundaries`` (the 2-px boundaries of the label
    image's instances, cells by a distance-transform watershed)."""
    val_images = max(1, min(20, round(0.15 * n_images)))
    if n_images <= val_images:
        raise ValueError(
            f"{images} has {n_images} labeled image(s); the enhancer needs more than "
            f"{val_images} (some are held out, with their own forests, for validation)"
        )
    if target == "foreground":
        postprocessing: dict[str, Any] = {"method": "threshold", "threshold": 0.5, "min_size": 15}
        channel = "foreground"
    else:
        postprocessing = {
            "method": "distance_watershed",
            "threshold": 0.5,
            "sigma_seeds": 2.0,
            "sigma_weights": 2.0,
            "alpha": 0.9,
            "min_size": 50,
        }
        channel = "boundaries"
    return parse_spec(
        {
            "version": 1,
            "name": name,
            "kind": "enhancer",
            "description": "shallow2deep Prediction Enhancer trained by semiseg-train on "
            f"{images}: turns a Random Forest's {channel} probability map into a cleaner one.",
            "authors": [{"name": "semiseg-train user"}],
            "cite": [
                {
                    "text": "Matskevych A., Wolny A., Pape C., Kreshuk A. From Shallow to Deep: "
                    "Exploiting Feature-Based Classifiers for Domain Adaptation in Semantic "
                    "Segmentation. Frontiers in Computer Science 4 (2022).",
                    "doi": "10.3389/fcomp.2022.805166",
                }
            ],
            "license": "CC-BY-4.0",
            "tags": [
                "shallow2deep",
                "enhancer",
                "semantic-segmentation",
                "2d",
                "unet",
                "semiseg-zoo",
            ],  # fmt: skip
            "architecture": {
                "name": "UNet2d",
                "kwargs": {
                    "in_channels": 1,
                    "out_channels": 1,
                    "depth": 3,
                    "base_features": 16,
                    "norm": "batch",
                    "final_activation": "sigmoid",
                },
            },
            "input": {
                "axes": "bcyx",
                "channels": 1,
                "channel_names": ["rf_probability"],
                "data_range": [0, 1],
                "min_shape": [64, 64],
                "step": [4, 4],
            },
            "output": {"channel_names": [channel], "halo": [24, 24], "activation": "sigmoid"},
            "postprocessing": postprocessing,
            "features": FEATURES,
            "training": {
                "source": {
                    "raw": str(images),
                    "labels": str(labels),
                    "positive": "nonzero",
                    "boundaries_of_instances": target == "boundaries",
                },
                "val_images": val_images,
                "val": f"the last {val_images} images (by name) of {images}, each with its "
                "own forests",
                "data_description": f"{n_images} images of {images} with labels {labels}; "
                "Random Forests on random patches of the training images, their probability "
                "maps are the enhancer's inputs",
                "n_forests": n_forests,
                "val_forests": max(val_images, 8),
                "trees_per_forest": 10,
                "forest_patch_size": [48, 256],
                "pixels_per_class": 500,
                "loss": "bce",
                "patch_shape": [128, 128],
                "batch_size": 8,
                "steps": steps,
                "learning_rate": 0.001,
                "validate_every": max(1, min(250, steps // 10)),
                "seed": seed,
                "thresholds": [0.3, 0.4, 0.5, 0.6, 0.7],
            },
            "tile": [512, 512],
        }
    )  # type: ignore[return-value]


__all__ = ["DEFAULT_FORESTS", "DEFAULT_STEPS", "FEATURES", "Target", "default_enhancer_spec"]
