"""Many Random Forests on random patches of densely labeled images, and their probability maps
(the Prediction Enhancer's training inputs), cached on disk (shallow2deep Sec. 2.1)."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from semiseg_zoo.shallow.random_forest import predict_probabilities, train_random_forest

from .enhancer import ForestMap

FeatureFunction = Callable[[np.ndarray], np.ndarray]


def forest_plan(
    shapes: Sequence[tuple[int, int]],
    n_forests: int,
    patch_size: tuple[int, int],
    seed: int,
) -> list[tuple[int, tuple[slice, slice]]]:
    """For each forest, the image it is trained on (drawn in proportion to image area) and a
    randomly sized (side uniform in ``patch_size``, clipped to the image) and placed patch."""
    rng = np.random.default_rng(seed)
    areas = np.array([h * w for h, w in shapes], dtype=float)
    plan = []
    for _ in range(n_forests):
        index = int(rng.choice(len(shapes), p=areas / areas.sum()))
        window = []
        for size in shapes[index]:
            side = min(size, int(rng.integers(patch_size[0], patch_size[1] + 1)))
            start = int(rng.integers(size - side + 1))
            window.append(slice(start, start + side))
        plan.append((index, (window[0], window[1])))
    return plan


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
    ``pixels_per_class`` pixels per class of its dense target), and return each forest's
    foreground probability over its whole image.

    Patches that hold a single class are moved (same size, new place; at most 20 tries) because a
    forest needs both classes. Images are visited one at a time, so only one image's features are
    in memory. With ``cache`` the maps are stored as float16 ``.npy`` files in a folder named by a
    hash of ``cache_key`` and the arguments, and read back on the next run.
    """
    shapes = [tuple(image.shape) for image in images]
    plan = forest_plan(shapes, n_forests, patch_size, seed)
    folder = None
    if cache is not None:
        key = {
            **(cache_key or {}),
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
                for i, (index, _) in enumerate(plan)
            ]
        folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 1])
    maps: list[ForestMap | None] = [None] * n_forests
    for index in sorted({index for index, _ in plan}):
        image_features = features(images[index])
        target = targets[index].astype(np.uint8)
        for i, (planned, window) in enumerate(plan):
            if planned != index:
                continue
            window = _two_class_window(target, window, rng)
            forest = train_random_forest(
                image_features[window],
                target[window],
                n_per_class=pixels_per_class,
                n_trees=trees_per_forest,
                seed=int(rng.integers(2**31)),
                ignore_label=None,
            )
            probabilities = predict_probabilities(forest, image_features, classes=1)
            maps[i] = ForestMap(index, probabilities.astype(np.float16))
            if folder is not None:
                _save(folder / f"forest_{i:04d}.npy", maps[i].probabilities)
        log(f"  image {index}: {sum(p == index for p, _ in plan)} forests")
    if folder is not None:
        (folder / "done.json").write_text(json.dumps({"n_forests": n_forests}))
    return [m for m in maps if m is not None]


def _two_class_window(
    target: np.ndarray, window: tuple[slice, slice], rng: np.random.Generator
) -> tuple[slice, slice]:
    for _ in range(20):
        values = target[window]
        if values.min() != values.max():
            return window
        window = tuple(
            slice(start, start + (w.stop - w.start))
            for w, size in zip(window, target.shape, strict=False)
            for start in [int(rng.integers(size - (w.stop - w.start) + 1))]
        )
    return (slice(None), slice(None))


def _save(path: Path, array: np.ndarray) -> None:
    partial = path.with_name(f".{path.name}.partial.npy")
    np.save(partial, array)
    os.replace(partial, path)
