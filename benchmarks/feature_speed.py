"""Pixel feature speed: semiseg-zoo's bioimage-cpp stack vs the same features from scipy/skimage.

For a 2D image and a 3D volume (uniform noise, seed 0, float32) the default feature set
(``FeatureSet.default()``: 6 features at sigma 0.3 ... 10, 49 channels in 2D, 61 in 3D) is computed

(a) ``bioimage_cpp``: ``semiseg_zoo.features.compute_features(image)``;
(b) ``skimage_scipy``: the same channels written with scikit-image / scipy (``_scipy_features``
    below), with the same kernel radii per axis, mirrored borders and float32 output, so that
    both do the same amount of filtering and differ only in implementation.

Both run in this process, interleaved per repeat (a, b, a, b, ...), after an untimed warm-up
of each method on a small image of the same dimensionality (imports, first-call set-up);
medians of wall-clock and CPU seconds are reported (CPU / wall > 1 would mean threads). On
every shape the outputs are compared channel by channel. They differ by the discretisation of
derivative kernels: scipy samples the Gaussian derivative without renormalising it, which is
off by ~1e-3 at sigma >= 1 but badly at small sigma (the structure tensor at sigma 0.7 takes
gradients at 0.35, where scipy's first-derivative kernel has a quarter of the unit slope
response that bioimage-cpp's has), so the agreement is also reported for sigma >= 1.6 alone.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/feature_speed.py           # 1024^2 and 32x256^2
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/feature_speed.py --quick   # 256^2 and 16x64^2
    .venv/bin/python benchmarks/feature_speed.py --shapes 512x512 8x128x128 --repeats 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import itertools
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from predict_speed import _git_commit, machine_info, write_json_atomic

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "feature_speed.json"
DEFAULT_SHAPES = ((1024, 1024), (32, 256, 256))
QUICK_SHAPES = ((256, 256), (16, 64, 64))
WARMUP_SIZE = 32  # warm-up image: the first 32 pixels along every axis
METHODS = ("bioimage_cpp", "skimage_scipy")
DESCRIPTIONS = {
    "bioimage_cpp": "(a) semiseg_zoo.features.compute_features(image) with the default "
    "FeatureSet (bioimage-cpp filters, one call per feature and scale).",
    "skimage_scipy": "(b) the same channels from scikit-image / scipy: skimage.filters.gaussian "
    "(smoothing, DoG as two smoothings), scipy.ndimage.gaussian_filter with per-axis derivative "
    "orders (LoG and gradient magnitude as scipy's gaussian_laplace / "
    "gaussian_gradient_magnitude compose them, Hessian components, gradients at sigma/2 for the "
    "structure tensor), skimage.feature.hessian_matrix_eigvals / structure_tensor_eigenvalues; "
    "radius ceil((3 + order/2) sigma) per axis, mode='mirror', float32 output.",
}
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _scipy_filter(image: np.ndarray, sigma: float, orders: tuple[int, ...]) -> np.ndarray:
    import scipy.ndimage as ndi

    radius = [math.ceil((3 + 0.5 * order) * sigma) for order in orders]
    return ndi.gaussian_filter(
        image, sigma, order=orders, mode="mirror", radius=radius, output=np.float32
    )


def _skimage_gaussian(image: np.ndarray, sigma: float) -> np.ndarray:
    from skimage.filters import gaussian

    radius = math.ceil(3 * sigma)
    return gaussian(image, sigma, mode="mirror", truncate=radius / sigma, preserve_range=True)


def _scipy_feature(image: np.ndarray, name: str, sigma: float) -> np.ndarray:
    """One feature at one scale from scikit-image / scipy, ``(*image.shape, k)``."""
    from skimage.feature import hessian_matrix_eigvals, structure_tensor_eigenvalues

    ndim = image.ndim
    axes = range(ndim)

    def unit(*picked: int) -> tuple[int, ...]:
        return tuple(sum(axis == p for p in picked) for axis in axes)

    if name == "gaussian_smoothing":
        return _skimage_gaussian(image, sigma)[..., None]
    if name == "difference_of_gaussians":
        return (_skimage_gaussian(image, sigma) - _skimage_gaussian(image, 0.66 * sigma))[..., None]
    if name == "laplacian_of_gaussian":
        return sum(_scipy_filter(image, sigma, unit(a, a)) for a in axes)[..., None]
    if name == "gaussian_gradient_magnitude":
        squares = sum(_scipy_filter(image, sigma, unit(a)) ** 2 for a in axes)
        return np.sqrt(squares)[..., None]
    pairs = list(itertools.combinations_with_replacement(axes, 2))
    if name == "hessian_of_gaussian_eigenvalues":
        hessian = [_scipy_filter(image, sigma, unit(a, b)) for a, b in pairs]
        return np.moveaxis(hessian_matrix_eigvals(hessian), 0, -1)
    if name == "structure_tensor_eigenvalues":
        gradient = [_scipy_filter(image, sigma / 2, unit(a)) for a in axes]
        tensor = [_skimage_gaussian(gradient[a] * gradient[b], sigma) for a, b in pairs]
        return np.moveaxis(structure_tensor_eigenvalues(tensor), 0, -1)
    raise ValueError(f"unknown feature {name!r}")


def _scipy_features(image: np.ndarray) -> np.ndarray:
    """The default feature stack from scikit-image / scipy, channel order as compute_features."""
    from semiseg_zoo.features import FeatureSet, n_features

    feature_set = FeatureSet.default()
    features = np.empty((*image.shape, n_features(feature_set, image.ndim)), dtype=np.float32)
    start = 0
    for name, sigma in feature_set.scales():
        response = _scipy_feature(image, name, sigma)
        features[..., start : start + response.shape[-1]] = response
        start += response.shape[-1]
    return features


def _bioimage_cpp_features(image: np.ndarray) -> np.ndarray:
    from semiseg_zoo.features import compute_features

    return compute_features(image)


RUNNERS = {"bioimage_cpp": _bioimage_cpp_features, "skimage_scipy": _scipy_features}


def _timed(method: str, image: np.ndarray) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = RUNNERS[method](image)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def _agreement(ours: np.ndarray, theirs: np.ndarray, ndim: int) -> dict[str, Any]:
    from semiseg_zoo.features import FeatureSet

    names = FeatureSet.default().channel_names(ndim)
    axes = tuple(range(ndim))
    difference = np.abs(ours.astype(np.float64) - theirs).max(axis=axes)
    scale = np.abs(theirs).max(axis=axes).astype(np.float64)
    relative = difference / np.maximum(scale, np.finfo(np.float32).tiny)
    smoothing = [
        i for i, name in enumerate(names) if name.startswith(("gaussian_s", "difference_of_g"))
    ]
    worst = int(np.argmax(relative))
    return {
        "max_diff_over_channel_max": float(relative.max()),
        "worst_channel": names[worst],
        "max_diff_over_channel_max_smoothing_and_dog": float(relative[smoothing].max()),
        "median_diff_over_channel_max": float(np.median(relative)),
        "by_channel": {
            name: float(f"{value:.3g}") for name, value in zip(names, relative, strict=True)
        },
        "note": "per channel max |a - b| / max |b| over the whole image. Smoothing and DoG use "
        "identical kernels and borders (float32 rounding only). scipy's sampled "
        "derivative kernels are not renormalised: at small sigma its first-derivative kernel "
        "responds too weakly (structure tensor at sigma 0.7 / 1.0 takes gradients at 0.35 / "
        "0.5), and its second-derivative kernel does not sum to 0, a leak of the local mean "
        "that dominates the tiny LoG / Hessian responses of noise at sigma 5-10",
    }


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(v, 4) for v in values],
        "median_s": round(statistics.median(values), 4),
        "min_s": round(min(values), 4),
    }


def benchmark_shape(shape: tuple[int, ...], repeats: int, warmup: int) -> dict[str, Any]:
    from semiseg_zoo.features import n_features

    image = np.random.default_rng(0).random(shape, dtype=np.float32)
    small = np.ascontiguousarray(image[tuple(slice(0, WARMUP_SIZE) for _ in shape)])
    label = "x".join(map(str, shape))
    print(f"\n[{label}] {n_features(None, len(shape))} channels", flush=True)
    wall: dict[str, list[float]] = {m: [] for m in METHODS}
    cpu: dict[str, list[float]] = {m: [] for m in METHODS}
    warm: dict[str, list[float]] = {m: [] for m in METHODS}
    for _ in range(warmup):
        for method in METHODS:
            warm[method].append(_timed(method, small)[0])
    agreement = None
    load = [os.getloadavg()[0]]
    for round_ in range(repeats):
        outputs = {}
        for method in METHODS:  # interleaved: a, b, a, b, ...
            seconds, cpu_seconds, outputs[method] = _timed(method, image)
            wall[method].append(seconds)
            cpu[method].append(cpu_seconds)
        if agreement is None:
            agreement = _agreement(outputs["bioimage_cpp"], outputs["skimage_scipy"], len(shape))
        del outputs
        times = "  ".join(f"{m} {wall[m][-1]:7.2f}s" for m in METHODS)
        print(f"  repeat {round_ + 1}: {times}", flush=True)
    load.append(os.getloadavg()[0])
    methods = {
        m: {
            **_summary(wall[m]),
            "cpu_s": [round(v, 4) for v in cpu[m]],
            "cpu_median_s": round(statistics.median(cpu[m]), 4),
            "warmup_on_small_image_s": [round(v, 4) for v in warm[m]],
        }
        for m in METHODS
    }
    ours, theirs = (methods[m]["median_s"] for m in METHODS)
    return {
        "shape": list(shape),
        "n_channels": n_features(None, len(shape)),
        "image": {"generator": "numpy.random.default_rng(0).random(shape, float32)"},
        "load_average_1min": [round(v, 2) for v in load],
        "methods": methods,
        "ratio_skimage_scipy_over_bioimage_cpp": round(theirs / ours, 3),
        "agreement": agreement,
    }


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in ("bioimage-cpp", "scipy", "scikit-image", "numpy", "semiseg-zoo"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _threads() -> dict[str, Any]:
    info: dict[str, Any] = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        info["threadpools"] = None
    else:
        info["threadpools"] = [
            {key: pool.get(key) for key in ("user_api", "internal_api", "num_threads")}
            for pool in threadpool_info()
        ]
    return info


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'shape':>12} | {'C':>3} | {'bioimage-cpp (s)':>16} | {'skimage/scipy (s)':>17} | "
        f"{'ratio':>6} | diff / channel max: median, smoothing+DoG max"
    )
    print("\n" + header)
    print("-" * len(header))
    for result in results:
        ours, theirs = (result["methods"][m]["median_s"] for m in METHODS)
        agreement = result["agreement"]
        print(
            f"{'x'.join(map(str, result['shape'])):>12} | {result['n_channels']:>3} | "
            f"{ours:16.2f} | {theirs:17.2f} | "
            f"{result['ratio_skimage_scipy_over_bioimage_cpp']:6.2f} | "
            f"{agreement['median_diff_over_channel_max']:.1e}, "
            f"{agreement['max_diff_over_channel_max_smoothing_and_dog']:.1e}"
        )


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a shape like 1024x1024") from None
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: need 2 or 3 positive sizes, e.g. 32x256x256")
    return shape


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--shapes",
        type=_shape,
        nargs="+",
        help="image shapes, e.g. 1024x1024 32x256x256 (default: those; --quick: 256x256 16x64x64)",
    )
    parser.add_argument("--quick", action="store_true", help="small default shapes")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (>= 3)")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1,
        help=f"untimed runs per method first, on a {WARMUP_SIZE}-pixel-per-axis crop",
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (medians of >= 3 runs)")
    if args.warmup < 0:
        parser.error("--warmup must be >= 0")
    if args.shapes is None:
        args.shapes = list(QUICK_SHAPES if args.quick else DEFAULT_SHAPES)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from semiseg_zoo.features import FeatureSet

    started = dt.datetime.now(dt.timezone.utc)
    machine = machine_info()
    machine["versions"] = _versions()
    report: dict[str, Any] = {
        "benchmark": "feature_speed",
        "date": started.isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": machine,
        "settings": {
            "quick": args.quick,
            "shapes": [list(shape) for shape in args.shapes],
            "repeats": args.repeats,
            "warmup": args.warmup,
            "order": "interleaved per repeat: a, b, a, b, ...; warm-up rounds run on a crop of "
            f"at most {WARMUP_SIZE} pixels per axis",
            "timer": "time.perf_counter (wall) and time.process_time (CPU, all threads) "
            "around one whole feature stack, in this process",
            "threads": _threads(),
            "feature_set": FeatureSet.default().to_dict(),
        },
        "methods": DESCRIPTIONS,
        "results": [],
    }
    for shape in args.shapes:
        report["results"].append(benchmark_shape(shape, args.repeats, args.warmup))
        report["duration_s"] = round(
            (dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1
        )
        write_json_atomic(report, args.output)  # after every shape: partial results survive
    print_table(report["results"])
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
