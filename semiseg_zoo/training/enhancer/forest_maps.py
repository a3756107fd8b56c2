"""Many Random Forests on random patches of densely labeled images, and their probability maps
(the Prediction Enhancer's training inputs), cached on disk (shallow2deep Sec. 2.1)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from semiseg_zoo.shallow import predict_probabilities, train_patch_forests
from semiseg_zoo.training.enhancer.train import ForestMap

FeatureFunction = Callable[[np.ndarray], np.ndarray]


def forest_plan(shapes: Sequence[tuple[int, ...]], n_forests: int, seed: int) -> list[int]:
    """For each forest, the index of the image it is trained on, drawn in proportion to the
    image areas (seeded)."""
    rng = np.random.default_rng(seed)
    areas = np.array([np.prod(shape) for shape in shapes], dtype=float)
    return [int(i) for i in rng.choice(len(shapes), size=n_forests, p=areas / areas.sum())]


def forest_maps(
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    features: FeatureFunction,
    *,
    n_forests: int,
    patch_size: tuple[int, int],
    pixels_per_class: int,
    trees_per_forest: int,
    seed: int,
    cache: Path | None = None,
    cache_key: dict | None = None,
    log: Callable[[str], None] = print,
) -> list[ForestMap]:
    """Train ``n_forests`` forests, each on a random patch of one image (class-balanced sample of
    ``pixels_per_class`` pixels per class of its dense target; patch side uniform in
    ``patch_size``; :func:`semiseg_zoo.shallow.train_patch_forests`), and return each forest's
    foreground probability over its whole image.

    Images get forests in proportion to their area (:func:`forest_plan`) and are visited one at
    a time, so only one image's features are in memory. With ``cache`` the maps are stored as float16 ``.npy`` files in a folder named by a
    hash of ``cache_key`` and the arguments, and read back on the next run.
    """
    shapes = [tuple(image.shape) for image in images]
    plan = forest_plan(shapes, n_forests, seed)
    folder = None
    if cache is not None:
        key = {
            **(cache_key or {}),
            "layout": 2,
            "n_forests": n_forests,
            "patch_size": list(patch_size),
            "pixels_per_class": pixels_per_class,
            "trees_per_forest": trees_per_forest,
            "seed": seed,
            "shapes": shapes,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        folder = cache / digest
        if (folder / "done.json").is_file():
            log(f"reading {n_forests} cached forest maps from {folder}")
            return [
                ForestMap(index, np.load(folder / f"forest_{i:04d}.npy"))
                for i, index in enumerate(plan)
            ]
        folder.mkdir(parents=True, exist_ok=True)
    maps: list[ForestMap | None] = [None] * n_forests
    for index in sorted(set(plan)):
        image_features = features(images[index])
        slots = [i for i, planned in enumerate(plan) if planned == index]
        patch_forests = train_patch_forests(
            image_features,
            targets[index].astype(np.uint8),
            n_forests=len(slots),
            seed=int(np.random.default_rng([seed, index]).integers(2**31)),
            min_size=patch_size[0],
            max_size=patch_size[1],
            n_per_class=pixels_per_class,
            n_trees=trees_per_forest,
        )
        for i, trained in zip(slots, patch_forests, strict=True):
            probabilities = predict_probabilities(trained.forest, image_features, classes=1)
            maps[i] = ForestMap(index, probabilities.astype(np.float16))
            if folder is not None:
                _save(folder / f"forest_{i:04d}.npy", maps[i].probabilities)
        log(f"  image {index}: {len(slots)} forests")
    if folder is not None:
        (folder / "done.json").write_text(json.dumps({"n_forests": n_forests}))
    return [m for m in maps if m is not None]


def _save(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(f".{path.name}.partial.npy")
    np.save(partial, array)
    os.replace(partial, path)
