"""Speed of the 2D affinity post-processing against the network's own inference time.

A 2048² EM image (a 4 × 4 mosaic of the four held-out ISBI 2012 slices, flipped so that no two
neighbours repeat; read from ``SEMISEG_DATA``) is predicted by the built-in 2D affinity package
with onnxruntime through ``Model.predict`` (default tiling), and its affinities are turned into
instances by the package's mutex-watershed recipe and by variants (coarser strides, restriction
to the foreground with ``mask_threshold``). Inference and each post-processing run alternate,
``--repeats`` times after one untimed warm-up; the medians and their ratio are reported.
Target: mutex watershed ≤ 0.5 × inference time.

    .venv/bin/python benchmarks/affinity_speed.py
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "semiseg_zoo" / "models" / "affinity-neurites-isbi.zip"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "affinity_speed.json"
TARGET_RATIO = 0.5


def mosaic(data_root: Path, size: int) -> np.ndarray:
    """A ``size``² uint8 mosaic of ISBI 2012 slices 20-23 (the affinity models' validation)."""
    import tifffile

    slices = tifffile.imread(data_root / "isbi2012" / "raw.tif")[20:24]
    tile = slices.shape[-1]
    rows = []
    for i in range(size // tile):
        row = []
        for j in range(size // tile):
            image = slices[(i + j) % 4]
            row.append(np.flip(image, axis=(i + j) % 2) if (i * 4 + j) % 3 else image)
        rows.append(np.concatenate(row, axis=1))
    return np.ascontiguousarray(np.concatenate(rows, axis=0))


def median_seconds(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    from semiseg_zoo.inference import load_model
    from semiseg_zoo.postprocess import apply_postprocessing
    from semiseg_zoo.spec import data_root

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    model = load_model(args.model, weight_format="onnx", device="cpu")
    recipe = dict(model.package.semiseg_config["postprocessing"])
    variants = {
        "package recipe": recipe,
        "strides 8x8": {**recipe, "strides": [8, 8]},
        "mask_threshold 0.5": {**recipe, "mask_threshold": 0.5},
        "strides 8x8 + mask_threshold 0.5": {**recipe, "strides": [8, 8], "mask_threshold": 0.5},
    }
    image = mosaic(args.data_root or data_root(), args.size)
    affinities = model.predict(image)  # warm-up (untimed)
    for variant in variants.values():
        apply_postprocessing(affinities, variant)

    inference, post = [], {name: [] for name in variants}
    segments = {}
    for _ in range(args.repeats):
        seconds, affinities = median_seconds(lambda: model.predict(image), 1)
        inference.append(seconds)
        for name, variant in variants.items():
            seconds, labels = median_seconds(
                lambda v=variant, a=affinities: apply_postprocessing(a, v), 1
            )
            post[name].append(seconds)
            segments[name] = int(labels.max())
    inference_s = statistics.median(inference)
    rows = [
        {
            "postprocessing": name,
            "recipe": {k: v for k, v in variants[name].items() if k != "offsets"},
            "seconds": round(statistics.median(times), 3),
            "ratio_to_inference": round(statistics.median(times) / inference_s, 3),
            "segments": segments[name],
            "meets_target": statistics.median(times) <= TARGET_RATIO * inference_s,
        }
        for name, times in post.items()
    ]
    payload = {
        "benchmark": "affinity_speed",
        "date": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "model": args.model.name,
        "image": f"{args.size}x{args.size} mosaic of isbi2012 slices 20-23",
        "offsets": recipe.get("offsets"),
        "inference": "Model.predict (onnxruntime, default tile, scale_range inside) median of "
        f"{args.repeats}",
        "inference_seconds": round(inference_s, 3),
        "target": f"mutex watershed <= {TARGET_RATIO} x inference time",
        "results": rows,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    partial = args.output.with_suffix(".partial")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(partial, args.output)
    print(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
