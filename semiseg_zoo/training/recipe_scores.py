"""Scoring post-processing recipes on validation outputs, shared by the embedding and affinity
training scripts (they tune which recipe goes into the package)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from semiseg_zoo.postprocess import apply_postprocessing


def recipe_name(recipe: Mapping[str, Any]) -> str:
    """A short readable name of a post-processing recipe (without its offsets)."""
    params = {k: v for k, v in recipe.items() if k not in ("method", "offsets")}
    return recipe["method"] + "(" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"


def score_recipes(
    outputs: list[np.ndarray],
    groundtruths: list[np.ndarray],
    recipes: list[Mapping[str, Any]],
    score: Callable[[np.ndarray, np.ndarray], dict[str, float]],
    *,
    net: str | None = None,
) -> list[dict[str, Any]]:
    """Mean ``score`` over the validation images and post-processing seconds per image of every
    recipe; ``net`` names the network whose ``outputs`` these are (rows and names say it)."""
    rows = []
    for recipe in recipes:
        per_image, seconds = [], []
        for output, groundtruth in zip(outputs, groundtruths, strict=True):
            start = time.perf_counter()
            labels = apply_postprocessing(output, recipe)
            seconds.append(time.perf_counter() - start)
            per_image.append(score(labels, groundtruth))
        means = {key: float(np.mean([s[key] for s in per_image])) for key in per_image[0]}
        row: dict[str, Any] = {} if net is None else {"net": net}
        row.update(
            recipe=dict(recipe),
            name=recipe_name(recipe) if net is None else f"{net}: {recipe_name(recipe)}",
            **{key: round(value, 4) for key, value in means.items()},
            seconds_per_image=round(float(np.mean(seconds)), 3),
            n_images=len(per_image),
        )
        rows.append(row)
    return rows
