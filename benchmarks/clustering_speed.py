"""Speed and correctness of clustering pixel embeddings into instances (SPOCO post-processing).

A synthetic 512x512 "network output" is built like a trained embedding network's: the
instance labels of ``synthetic_nuclei`` (about 70 non-overlapping nuclei of 6-12 px radius on
background), each label mapped to a random point in 16 dimensions (pairwise more than
``2 * delta_d + 0.2 = 4.2`` apart, just beyond the push margin), plus Gaussian noise of std
0.15 per pixel and dimension, so that pixels lie ~0.6 from their object's mean, a little beyond
the pull margin ``delta_v = 0.5``. Each method of ``semiseg_zoo.postprocess`` then segments it
with its default parameters:

- ``embedding_mws``: embeddings -> affinities -> mutex watershed;
- ``mean_shift``: mean shift on a subsample of 10k pixels, every pixel to its nearest centre;
- ``mean_shift_merge``: the same with ``merge_close=True`` (SPOCO's merge of clusters whose
  means are closer than ``delta_d``);
- ``hdbscan``: HDBSCAN on a subsample of 10k pixels;
- ``naive_mean_shift`` (only with ``--include-naive``, once): scikit-learn's ``MeanShift``
  with ``bin_seeding=True`` on all pixels, as elf's ``segment_mean_shift`` runs it.

All methods run in this process under ``threadpoolctl.threadpool_limits(--threads)``, after one
untimed warm-up on a 128x128 crop, interleaved per repeat; medians of wall-clock and CPU
seconds are reported. Correctness against the synthetic ground truth: the number of objects
recovered with exactly their pixels, whether the whole partition is exact, and the adapted
Rand error.

Usage::

    .venv/bin/python benchmarks/clustering_speed.py                  # 512x512, 5 repeats
    .venv/bin/python benchmarks/clustering_speed.py --include-naive  # + full-pixel MeanShift
    .venv/bin/python scripts/update_readme.py                         # README table
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from predict_speed import _git_commit, machine_info, write_json_atomic
from threadpoolctl import threadpool_info, threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "clustering_speed.json"
WARMUP_SIZE = 128
METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "embedding_mws": ("embedding_mws", {}),
    "mean_shift": ("mean_shift", {}),
    "mean_shift_merge": ("mean_shift", {"merge_close": True}),
    "hdbscan": ("hdbscan", {}),
}
DESCRIPTIONS = {
    "embedding_mws": "mutex_watershed_from_embeddings(embeddings) with defaults: elf's "
    "embeddings_to_affinities (delta_d 2), 8 offsets, strides (4, 4), bias -0.5, bioimage-cpp's "
    "mutex watershed; the largest segment is background.",
    "mean_shift": "mean_shift_from_embeddings(embeddings) with defaults: bandwidth 2 * delta_v "
    "= 1.0, fit on 10000 random pixels seeded one per grid cell, every pixel to its nearest "
    "centre, pixels > delta_d from every centre clustered again.",
    "mean_shift_merge": "mean_shift_from_embeddings(embeddings, merge_close=True).",
    "hdbscan": "hdbscan_from_embeddings(embeddings) with defaults: min_cluster_size 50 px of "
    "the full image (2 in the 10000-pixel subsample), every pixel to its nearest cluster mean.",
    "naive_mean_shift": "sklearn.cluster.MeanShift(bandwidth=1.0, bin_seeding=True) on all "
    "pixels (elf's segment_mean_shift), fitted under a 1-thread limit (its radius queries "
    "stall on OpenMP otherwise); the largest cluster is background. Run once.",
}


def random_means(n: int, dim: int, min_distance: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points in ``dim`` dimensions, pairwise farther apart than ``min_distance``."""
    means: list[np.ndarray] = []
    while len(means) < n:
        point = rng.normal(0.0, 1.2, dim)
        if all(np.linalg.norm(point - other) > min_distance for other in means):
            means.append(point)
    return np.array(means)


def synthetic_embeddings(
    size: int, *, n_objects: int, dim: int, noise: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """float32 embeddings ``(dim, size, size)`` and their uint32 ground-truth labels."""
    from semiseg_zoo.synthetic import synthetic_nuclei

    _, truth = synthetic_nuclei((size, size), n_objects=n_objects, seed=seed)
    rng = np.random.default_rng(seed)
    means = random_means(int(truth.max()) + 1, dim, 4.2, rng)
    pixels = means[truth] + rng.normal(0.0, noise, (*truth.shape, dim))
    embeddings = np.ascontiguousarray(np.moveaxis(pixels, -1, 0), dtype=np.float32)
    return embeddings, truth.astype(np.uint32)


def distance_to_mean(embeddings: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Distance of every pixel's embedding to the mean embedding of its ground-truth label."""
    counts = np.bincount(truth.ravel())
    means = np.stack([np.bincount(truth.ravel(), weights=c.ravel()) / counts for c in embeddings])
    return np.linalg.norm(embeddings - means[:, truth], axis=0)


def correctness(prediction: np.ndarray, truth: np.ndarray) -> dict[str, Any]:
    """Objects recovered pixel-exactly, whether the whole partition is exact, adapted Rand."""
    from semiseg_zoo.evaluation import adapted_rand_error

    pairs, counts = np.unique(
        np.stack([truth.ravel(), prediction.ravel()]).astype(np.int64), axis=1, return_counts=True
    )
    truth_sizes = np.bincount(truth.ravel())
    predicted_sizes = np.bincount(prediction.ravel())
    exact = sum(
        int(t > 0 and p > 0 and n == truth_sizes[t] == predicted_sizes[p])
        for (t, p), n in zip(pairs.T, counts, strict=True)
    )
    n_truth = int((truth_sizes[1:] > 0).sum())
    n_predicted = int((predicted_sizes[1:] > 0).sum())
    return {
        "objects_exact": exact,
        "objects_truth": n_truth,
        "objects_predicted": n_predicted,
        "background_exact": bool(np.array_equal(prediction == 0, truth == 0)),
        "partition_exact": bool(
            exact == n_truth == n_predicted and np.array_equal(prediction == 0, truth == 0)
        ),
        "adapted_rand_error": round(float(adapted_rand_error(prediction, truth)), 6),
    }


def _runner(name: str) -> Callable[[np.ndarray], np.ndarray]:
    from semiseg_zoo.postprocess import apply_postprocessing

    method, params = METHODS[name]
    return lambda embeddings: apply_postprocessing(embeddings, {"method": method, **params})


def naive_mean_shift(embeddings: np.ndarray, bandwidth: float = 1.0) -> np.ndarray:
    from sklearn.cluster import MeanShift

    pixels = embeddings.reshape(embeddings.shape[0], -1).T
    with threadpool_limits(limits=1):
        ids = MeanShift(bandwidth=bandwidth, bin_seeding=True).fit(pixels).labels_
    labels = ids.reshape(embeddings.shape[1:]) + 1
    largest = np.argmax(np.bincount(labels.ravel()))
    return np.where(labels == largest, 0, labels).astype(np.uint32)


def _timed(function: Callable[[np.ndarray], np.ndarray], embeddings: np.ndarray):
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(embeddings)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _summary(wall: list[float], cpu: list[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(v, 4) for v in wall],
        "median_s": round(statistics.median(wall), 4),
        "min_s": round(min(wall), 4),
        "cpu_s": [round(v, 4) for v in cpu],
        "cpu_median_s": round(statistics.median(cpu), 4),
    }


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    embeddings, truth = synthetic_embeddings(
        args.size, n_objects=args.objects, dim=args.dim, noise=args.noise, seed=args.seed
    )
    distance = distance_to_mean(embeddings, truth)
    crop = np.ascontiguousarray(embeddings[:, :WARMUP_SIZE, :WARMUP_SIZE])
    runners = {name: _runner(name) for name in METHODS}
    for function in runners.values():
        function(crop)
    wall: dict[str, list[float]] = {name: [] for name in METHODS}
    cpu: dict[str, list[float]] = {name: [] for name in METHODS}
    checks: dict[str, dict[str, Any]] = {}
    load = [os.getloadavg()[0]]
    for repeat in range(args.repeats):
        for name, function in runners.items():  # interleaved: a, b, c, d, a, b, ...
            seconds, cpu_seconds, result = _timed(function, embeddings)
            wall[name].append(seconds)
            cpu[name].append(cpu_seconds)
            checks.setdefault(name, correctness(result, truth))
        times = "  ".join(f"{name} {wall[name][-1]:6.2f}s" for name in METHODS)
        print(f"  repeat {repeat + 1}: {times}", flush=True)
    load.append(os.getloadavg()[0])
    methods = {name: {**_summary(wall[name], cpu[name]), **checks[name]} for name in METHODS}
    if args.include_naive:
        print("  naive full-pixel MeanShift (minutes) ...", flush=True)
        seconds, cpu_seconds, result = _timed(naive_mean_shift, embeddings)
        methods["naive_mean_shift"] = {
            **_summary([seconds], [cpu_seconds]),
            **correctness(result, truth),
        }
        load.append(os.getloadavg()[0])
    correct = [name for name in METHODS if methods[name]["partition_exact"]]
    fastest = min(correct, key=lambda name: methods[name]["median_s"]) if correct else None
    return {
        "shape": list(truth.shape),
        "embedding_dim": args.dim,
        "data": {
            "generator": "semiseg_zoo.synthetic.synthetic_nuclei((size, size), n_objects, seed) "
            "labels; label k -> a random point (normal, std 1.2) in dim dimensions, pairwise "
            "> 4.2 apart; + normal(0, noise) per pixel and dimension",
            "n_objects_tried": args.objects,
            "n_objects": int(truth.max()),
            "object_pixels_min_median_max": [
                int(v) for v in np.percentile(np.bincount(truth.ravel())[1:], [0, 50, 100])
            ],
            "noise_std": args.noise,
            "pixel_distance_to_object_mean_median_p99": [
                round(float(v), 3) for v in np.percentile(distance, [50, 99])
            ],
            "seed": args.seed,
        },
        "load_average_1min": [round(v, 2) for v in load],
        "methods": methods,
        "fastest_exact_method": fastest,
    }


def _uncommitted() -> list[str]:
    """Files of the measured library code that differ from ``git_commit`` (empty: none)."""
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", "semiseg_zoo/postprocess"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return ["unknown"]
    return [line[3:] for line in done.stdout.splitlines()]


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("scikit-learn", "python-elf", "bioimage-cpp", "numpy", "scipy", "semiseg-zoo"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def print_table(result: dict[str, Any]) -> None:
    header = f"{'method':>18} | {'median (s)':>10} | {'CPU (s)':>8} | exact objects | ARE"
    print("\n" + header)
    print("-" * len(header))
    for name, method in result["methods"].items():
        print(
            f"{name:>18} | {method['median_s']:10.2f} | {method['cpu_median_s']:8.2f} | "
            f"{method['objects_exact']:>3} / {method['objects_truth']:<3} "
            f"({method['objects_predicted']} found) | {method['adapted_rand_error']:.4f}"
        )
    print(f"fastest exact method: {result['fastest_exact_method']}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--size", type=int, default=512, help="image side in pixels")
    parser.add_argument("--objects", type=int, default=80, help="nuclei to try to place")
    parser.add_argument("--dim", type=int, default=16, help="embedding dimensions")
    parser.add_argument("--noise", type=float, default=0.15, help="pixel noise std")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method (>= 3)")
    parser.add_argument("--threads", type=int, default=2, help="BLAS / OpenMP thread limit")
    parser.add_argument(
        "--include-naive", action="store_true", help="also time full-pixel MeanShift once"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (medians of >= 3 runs)")
    if args.size < WARMUP_SIZE or args.threads < 1 or args.dim < 1 or args.noise < 0:
        parser.error(f"need --size >= {WARMUP_SIZE}, --threads >= 1, --dim >= 1, --noise >= 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Load scikit-learn's and elf's thread pools (OpenMP) first: threadpool_limits only limits
    # the libraries loaded when it is entered.
    import semiseg_zoo.postprocess  # noqa: F401

    started = dt.datetime.now(dt.timezone.utc)
    machine = machine_info()
    machine["versions"] = _versions()
    with threadpool_limits(limits=args.threads):
        threads = [
            {key: pool.get(key) for key in ("user_api", "internal_api", "num_threads")}
            for pool in threadpool_info()
        ]
        print(f"[{args.size}x{args.size}, {args.dim}-D, {args.threads} threads]", flush=True)
        result = benchmark(args)
    report = {
        "benchmark": "clustering_speed",
        "date": started.isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "uncommitted_changes": _uncommitted(),
        "machine": machine,
        "settings": {
            "repeats": args.repeats,
            "threads": args.threads,
            "threadpools": threads,
            "order": f"one untimed warm-up per method on a {WARMUP_SIZE}x{WARMUP_SIZE} crop, "
            "then interleaved per repeat",
            "timer": "time.perf_counter (wall) and time.process_time (CPU, all threads) "
            "around one call, in this process",
            "include_naive": args.include_naive,
        },
        "methods": DESCRIPTIONS,
        "result": result,
        "duration_s": round((dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1),
    }
    write_json_atomic(report, args.output)
    print_table(result)
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
