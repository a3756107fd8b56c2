"""Prediction speed and peak memory: onnxruntime alone vs bioimageio.core vs semiseg-zoo.

For every square image size one synthetic fluorescence-nuclei image is predicted by

(a) ``onnxruntime``: the package's onnx network run by a bare ``InferenceSession`` over exactly
    the windows semiseg-zoo uses (``tile_layout`` of the padded shape with the model's default
    tile), on an image normalised beforehand; no stitching. The lower bound. The time to
    normalise (and pad) the image is measured separately and reported as ``normalise``.
(b) ``bioimageio.core``: ``PredictionPipeline.predict_sample_with_blocking`` with onnx weights
    and the blocksize parameter whose block equals semiseg-zoo's default tile (see
    :func:`core_blocksize_parameter`), including its pre- and post-processing.
(c) ``semiseg-zoo``: ``Model.predict(image)`` with default settings (tile ``"auto"``, no TTA,
    the weight format ``auto`` picks onnx), i.e. what ``semiseg_zoo.predict(image, model)`` runs.

Each method lives in its own spawned worker process, which loads the model (or builds core's
pipeline) once, outside the timing, and then does only that method; so ``ru_maxrss`` of a
worker is that method's peak resident memory. The parent runs the workers one at a time,
interleaved per repeat (a, b, c, a, b, c, ...), after one untimed warm-up round, and reports
the medians. On the smallest size (2048 by default) the outputs of (b) and (c) are compared.

Usage::

    .venv/bin/python benchmarks/predict_speed.py                     # built-in default model
    .venv/bin/python benchmarks/predict_speed.py --model pkg.zip --sizes 2048 --repeats 3
    .venv/bin/python benchmarks/README_table.py                      # markdown table of the JSON
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
BUILTIN_DIR = ROOT / "semiseg_zoo" / "models"
DEFAULT_MODEL = "teacher-nuclei-2d"
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "predict_speed.json"

METHODS = ("onnxruntime", "bioimageio_core", "semiseg_zoo")
LABELS = {"onnxruntime": "a", "bioimageio_core": "b", "semiseg_zoo": "c"}
DESCRIPTIONS = {
    "onnxruntime": (
        "(a) bare onnxruntime InferenceSession (CPUExecutionProvider, default session options) "
        "over exactly semiseg-zoo's windows (tile_layout of the padded shape with the model's "
        "default tile and ShapeRule) of an image normalised beforehand; window outputs are "
        "discarded (no stitching). Lower bound. 'normalise' is the separately timed "
        "prepare + pre-processing + pad_to_valid of the whole image."
    ),
    "bioimageio_core": (
        "(b) bioimageio.core PredictionPipeline (create_prediction_pipeline(weights_format="
        "'onnx', devices=['CPUExecutionProvider']), built once) .predict_sample_with_blocking("
        "create_sample_for_model(...), ns=blocksize_parameter), pre- and post-processing "
        "included. bioimageio.core.predict() is not timed because it wraps the pipeline in "
        "`with pp:`, which unloads it afterwards (the onnx session would be rebuilt per call)."
    ),
    "semiseg_zoo": (
        "(c) semiseg_zoo Model.predict(image) with defaults (tile='auto', tta=False; "
        "load_model(weight_format='auto') picks onnx, device 'auto' is cpu here), the model "
        "loaded once; this is what semiseg_zoo.predict(image, model) runs."
    ),
}


# --------------------------------------------------------------------------------------------
# workers (one spawned process per method and size)
# --------------------------------------------------------------------------------------------


def _rss_mb() -> float:
    """Current resident set size of this process in MB (Linux; NaN elsewhere)."""
    try:
        with open("/proc/self/statm") as handle:
            pages = int(handle.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return float("nan")


def _maxrss_mb() -> float:
    """Peak resident set size of this process in MB (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


class _OnnxruntimeAlone:
    """(a): the network over semiseg-zoo's windows, nothing else."""

    def __init__(self, model_path: str, image: np.ndarray, settings: dict[str, Any]) -> None:
        import onnxruntime as ort

        from semiseg_zoo.inference import load_model

        self.model = load_model(model_path, weight_format="onnx", device="cpu")
        weights = self.model.package.description.weights.onnx
        assert weights is not None
        # The same provider and (default) session options as semiseg-zoo's OnnxRunner, but a
        # session of our own so that nothing of semiseg-zoo runs inside the timed loop.
        self.session = ort.InferenceSession(
            weights.get_reader().read(), providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name
        self.model.runner = None  # type: ignore[assignment]  # drop semiseg-zoo's session
        self.image = image
        self.windows: list[tuple[slice, ...]] = []
        self.padded: np.ndarray | None = None
        self.normalise_s: list[float] = []

    def _normalise(self) -> np.ndarray:
        from semiseg_zoo.inference.processing import apply_steps
        from semiseg_zoo.inference.tiling import pad_to_valid

        model = self.model
        prepared = model.prepare(self.image)
        canonical = "bc" + model.spatial_axes
        steps = model.package.description.inputs[0].preprocessing
        normalised = apply_steps(prepared[None], steps, canonical)[0]
        return pad_to_valid(normalised, model.rule)[0]

    def run(self) -> None:
        from semiseg_zoo.inference.tiling import tile_layout

        self.padded = None  # free the previous round's image first
        start = time.perf_counter()
        padded = self._normalise()
        self.normalise_s.append(time.perf_counter() - start)
        if not self.windows:
            shape = padded.shape[1:]
            tile = self.model.default_tile
            if all(t >= s for t, s in zip(tile, shape, strict=True)):
                self.windows = [tuple(slice(0, s) for s in shape)]  # one pass, as predict_tiled
            else:
                self.windows = [w[0] for w in tile_layout(shape, tile, self.model.rule)[2]]
        self.padded = padded

    def timed(self) -> Any:
        padded, run, name = self.padded, self.session.run, self.input_name
        assert padded is not None
        for window in self.windows:
            run(None, {name: np.ascontiguousarray(padded[(slice(None), *window)])[None]})
        return None

    def info(self) -> dict[str, Any]:
        return {"n_windows": len(self.windows), "normalise_s": self.normalise_s}


class _BioimageioCore:
    """(b): bioimageio.core's prediction pipeline with blocking."""

    def __init__(self, model_path: str, image: np.ndarray, settings: dict[str, Any]) -> None:
        os.environ.setdefault("TQDM_DISABLE", "1")  # a progress bar per image otherwise
        from loguru import logger

        logger.disable("bioimageio")
        from bioimageio.core import create_prediction_pipeline, load_model_description
        from bioimageio.core.block_meta import split_multiple_shapes_into_blocks
        from bioimageio.core.digest_spec import create_sample_for_model, get_input_halo

        self.description = load_model_description(model_path, perform_io_checks=False)
        self.pipeline = create_prediction_pipeline(
            self.description, weights_format="onnx", devices=["CPUExecutionProvider"]
        )
        self.create_sample = create_sample_for_model
        self.ns = settings["blocksize_parameter"]
        self.image = image
        self.input_id = self.description.inputs[0].id
        self.output_id = self.description.outputs[0].id
        sample = self._sample()
        per_axis = {
            (tensor.id, axis.id): self.ns
            for tensor in self.description.inputs
            for axis in tensor.axes
            if axis.type == "space" and not isinstance(axis.size, int)
        }
        block_shape = self.description.get_tensor_sizes(per_axis, 1).inputs
        self.n_blocks = split_multiple_shapes_into_blocks(
            sample.shape, block_shape, halo=get_input_halo(self.description)
        )[0]
        self.block_shape = {str(k): dict(v) for k, v in block_shape.items()}

    def _sample(self) -> Any:
        batch = self.image.reshape((1, 1, *self.image.shape))
        return self.create_sample(self.description, inputs={self.input_id: batch}, sample_id="x")

    def run(self) -> None:
        pass

    def timed(self) -> np.ndarray:
        output = self.pipeline.predict_sample_with_blocking(self._sample(), ns=self.ns)
        return output.members[self.output_id].data.to_numpy()[0]

    def info(self) -> dict[str, Any]:
        return {"n_blocks": self.n_blocks, "block_shape": self.block_shape}


class _SemisegZoo:
    """(c): ``Model.predict`` with default settings."""

    def __init__(self, model_path: str, image: np.ndarray, settings: dict[str, Any]) -> None:
        from semiseg_zoo.inference import load_model

        self.model = load_model(model_path)
        self.image = image

    def run(self) -> None:
        pass

    def timed(self) -> np.ndarray:
        return self.model.predict(self.image)

    def info(self) -> dict[str, Any]:
        return {
            "weight_format": self.model.runner.weight_format,
            "device": self.model.runner.device,
        }

    def profile(self, top: int) -> str:
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        self.model.predict(self.image)
        profiler.disable()
        text = io.StringIO()
        stats = pstats.Stats(profiler, stream=text)
        stats.sort_stats("cumulative").print_stats(top)
        stats.sort_stats("tottime").print_stats(top)
        return text.getvalue()


_WORKERS = {"onnxruntime": _OnnxruntimeAlone, "bioimageio_core": _BioimageioCore}
_WORKERS["semiseg_zoo"] = _SemisegZoo


def _worker(method: str, model_path: str, image_path: str, settings: dict, conn: Any) -> None:
    """Loop of a worker process: set up once, then answer the parent's commands."""
    try:
        start = time.perf_counter()
        image = np.load(image_path)
        runner = _WORKERS[method](model_path, image, settings)
        conn.send({"setup_s": time.perf_counter() - start, "rss_after_setup_mb": _rss_mb()})
        last = None
        while True:
            command, argument = conn.recv()
            if command == "run":  # argument: keep the output for a later "output"
                last = None
                runner.run()
                wall, cpu = time.perf_counter(), time.process_time()
                result = runner.timed()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                last = result if argument else None
                del result
                conn.send({"wall_s": wall, "cpu_s": cpu})
            elif command == "memory":
                conn.send({"peak_rss_mb": _maxrss_mb(), "rss_mb": _rss_mb(), **runner.info()})
            elif command == "output":
                conn.send(last)
            elif command == "profile":
                conn.send(runner.profile(argument))
            elif command == "stop":
                conn.send(None)
                return
            else:
                raise ValueError(f"unknown command {command!r}")
    except BaseException as error:  # report to the parent instead of dying silently
        import traceback

        conn.send(
            {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        )
        raise


class Worker:
    """Parent-side handle of one method's process."""

    def __init__(self, context: Any, method: str, model_path: str, image_path: str, settings):
        self.method = method
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker,
            args=(method, model_path, image_path, settings, child),
            name=f"predict_speed-{method}",
            daemon=True,
        )
        self.process.start()
        child.close()

    def receive(self) -> Any:
        try:
            answer = self.conn.recv()
        except EOFError:
            self.process.join(5)
            raise RuntimeError(
                f"worker {self.method} died (exit code {self.process.exitcode}); out of memory?"
            ) from None
        if isinstance(answer, dict) and "error" in answer:
            raise RuntimeError(f"worker {self.method} failed: {answer['traceback']}")
        return answer

    def ask(self, command: str, argument: Any = None) -> Any:
        self.conn.send((command, argument))
        return self.receive()

    def stop(self) -> None:
        if self.process.is_alive():
            try:
                self.ask("stop")
            except (RuntimeError, OSError):
                pass
        self.process.join(30)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5)


# --------------------------------------------------------------------------------------------
# parent
# --------------------------------------------------------------------------------------------


def resolve_model(text: str | None) -> Path:
    if text is None:
        builtin = BUILTIN_DIR / f"{DEFAULT_MODEL}.zip"
        if builtin.is_file():
            return builtin
        raise SystemExit(
            f"the built-in model {DEFAULT_MODEL!r} ({builtin}) is not there; pass --model PATH "
            "(a package .zip, folder or rdf.yaml)"
        )
    path = Path(text).expanduser()
    if path.exists():
        return path.resolve()
    builtin = BUILTIN_DIR / f"{text}.zip"
    if builtin.is_file():
        return builtin
    raise SystemExit(f"--model {text!r} is neither a path nor a built-in model in {BUILTIN_DIR}")


def core_blocksize_parameter(model: Any) -> dict[str, Any]:
    """The blocksize parameter ``n`` whose block (``min + n * step``) equals our default tile.

    bioimageio.core's block shape includes the halo (inner block = block - 2 * halo), as
    semiseg-zoo's tile does, so with the same block shape both cut the image into the same
    number of network calls of the same size; a different ``n`` would compare tile sizes
    rather than implementations.
    """
    per_axis = []
    for axis, wanted in enumerate(model.default_tile):
        low, step = model.rule.minimum[axis], model.rule.step[axis]
        per_axis.append(0 if step == 0 else max(0, math.ceil((wanted - low) / step)))
    n = max(per_axis) if per_axis else 0
    if len(set(per_axis)) > 1:
        raise SystemExit(f"tile {model.default_tile} needs different n per axis: {per_axis}")
    block = [low + n * step for low, step in zip(model.rule.minimum, model.rule.step, strict=True)]
    return {
        "blocksize_parameter": n,
        "block_shape": block,
        "why": (
            f"min + n*step = {model.rule.minimum} + {n}*{model.rule.step} = {block} equals "
            f"semiseg-zoo's default tile {list(model.default_tile)} (both include the halo "
            f"{list(model.rule.halo)}), so both run the same number of same-sized network "
            "calls; core's own default (n=10) would give much smaller blocks."
        ),
    }


def _versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in (
        "onnxruntime",
        "torch",
        "bioimageio.core",
        "bioimageio.spec",
        "numpy",
        "xarray",
        "semiseg-zoo",
    ):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else "unknown"


def machine_info() -> dict[str, Any]:
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    cpu_model = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "python": platform.python_version(),
        "versions": _versions(),
    }


def _summary(values: list[float]) -> dict[str, Any]:
    return {
        "runs_s": [round(v, 4) for v in values],
        "median_s": round(statistics.median(values), 4),
        "min_s": round(min(values), 4),
    }


def _compare(b: np.ndarray, c: np.ndarray, halo: tuple[int, ...]) -> dict[str, Any]:
    difference = np.abs(b.astype(np.float64) - c.astype(np.float64))
    inner = (slice(None), *(slice(h, -h if h else None) for h in halo))
    return {
        "shape": list(c.shape),
        "max_abs_diff": float(difference.max()),
        "mean_abs_diff": float(difference.mean()),
        "max_abs_diff_excluding_border": float(difference[inner].max()),
        "border_px": list(halo),
        "note": (
            "Inside the image both compute the same thing (float rounding). Within one halo of "
            "the image edge they legitimately differ: bioimageio.core pads blocks at the edge "
            "with the package's pad mode (symmetric), semiseg-zoo keeps windows inside the "
            "image, so the network sees different context there."
        ),
    }


def benchmark_size(
    size: int,
    model_path: Path,
    settings: dict[str, Any],
    repeats: int,
    warmup: int,
    compare: bool,
    profile: int,
    rule_halo: tuple[int, ...],
) -> dict[str, Any]:
    from semiseg_zoo.synthetic import synthetic_nuclei

    start = time.perf_counter()
    image, _ = synthetic_nuclei((size, size))
    made = time.perf_counter() - start
    print(f"\n[{size}x{size}] synthetic image made in {made:.1f} s", flush=True)
    context = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="predict_speed-") as folder:
        image_path = os.path.join(folder, "image.npy")
        np.save(image_path, image)
        workers = {m: Worker(context, m, str(model_path), image_path, settings) for m in METHODS}
        try:
            setup = {m: w.receive() for m, w in workers.items()}
            for method in METHODS:
                print(
                    f"  {LABELS[method]} {method}: ready in {setup[method]['setup_s']:.1f} s, "
                    f"RSS {setup[method]['rss_after_setup_mb']:.0f} MB",
                    flush=True,
                )
            warm: dict[str, list[float]] = {m: [] for m in METHODS}
            wall: dict[str, list[float]] = {m: [] for m in METHODS}
            cpu: dict[str, list[float]] = {m: [] for m in METHODS}
            load = [os.getloadavg()[0]]
            for round_ in range(warmup + repeats):
                for method in METHODS:  # interleaved: a, b, c, a, b, c, ...
                    answer = workers[method].ask("run", False)
                    if round_ < warmup:
                        warm[method].append(answer["wall_s"])
                    else:
                        wall[method].append(answer["wall_s"])
                        cpu[method].append(answer["cpu_s"])
                kind = "warm-up" if round_ < warmup else f"repeat {round_ - warmup + 1}"
                times = "  ".join(
                    f"{LABELS[m]} {(warm if round_ < warmup else wall)[m][-1]:6.2f}s"
                    for m in METHODS
                )
                print(f"  {kind:>9}: {times}", flush=True)
            load.append(os.getloadavg()[0])
            memory = {m: w.ask("memory") for m, w in workers.items()}  # before any output copy
            methods: dict[str, Any] = {}
            for method in METHODS:
                info = dict(memory[method])
                entry = {
                    "label": LABELS[method],
                    **_summary(wall[method]),
                    "cpu_s": [round(v, 4) for v in cpu[method]],
                    "cpu_median_s": round(statistics.median(cpu[method]), 4),
                    "warmup_s": [round(v, 4) for v in warm[method]],
                    "peak_rss_mb": round(info.pop("peak_rss_mb"), 1),
                    "rss_after_setup_mb": round(setup[method]["rss_after_setup_mb"], 1),
                    "setup_s": round(setup[method]["setup_s"], 2),
                }
                entry["peak_rss_above_setup_mb"] = round(
                    entry["peak_rss_mb"] - entry["rss_after_setup_mb"], 1
                )
                info.pop("rss_mb", None)
                normalise = info.pop("normalise_s", None)
                if normalise:
                    timed = normalise[warmup:] or normalise
                    entry["normalise"] = _summary(timed)
                entry.update(info)
                methods[method] = entry
            a, b, c = (methods[m]["median_s"] for m in METHODS)
            cpu_a, cpu_b, cpu_c = (methods[m]["cpu_median_s"] for m in METHODS)
            normalise_median = methods["onnxruntime"].get("normalise", {}).get("median_s", 0.0)
            result: dict[str, Any] = {
                "size": [size, size],
                "image": {"generator": "semiseg_zoo.synthetic.synthetic_nuclei", "seed": 0},
                "load_average_1min": [round(v, 2) for v in load],
                "methods": methods,
                "ratios": {
                    "c_over_a": round(c / a, 3),
                    "c_over_b": round(c / b, 3),
                    "b_over_a": round(b / a, 3),
                    "c_over_a_plus_normalise": round(c / (a + normalise_median), 3),
                    "cpu_c_over_a": round(cpu_c / cpu_a, 3),
                    "cpu_c_over_b": round(cpu_c / cpu_b, 3),
                },
                "targets": {"c_le_1.15a": c <= 1.15 * a, "c_lt_b": c < b},
            }
            if compare:
                workers["bioimageio_core"].ask("run", True)
                out_b = workers["bioimageio_core"].ask("output")
                workers["semiseg_zoo"].ask("run", True)
                out_c = workers["semiseg_zoo"].ask("output")
                result["agreement_b_vs_c"] = _compare(out_b, out_c, rule_halo)
                del out_b, out_c
            if profile:
                result["profile_semiseg_zoo"] = workers["semiseg_zoo"].ask("profile", profile)
            return result
        finally:
            for worker in workers.values():
                worker.stop()


def write_json_atomic(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            json.dump(data, stream, indent=2)
            stream.write("\n")
        os.chmod(temporary, 0o644)  # mkstemp creates 0600
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        f"{'size':>11} | {'a onnxrt (s)':>12} | {'b core (s)':>10} | {'c zoo (s)':>9} | "
        f"{'c/a':>5} | {'c/b':>5} | {'peak MB a/b/c':>17} | targets (c<=1.15a, c<b)"
    )
    print("\n" + header)
    print("-" * len(header))
    for result in results:
        m = result["methods"]
        a, b, c = (m[k]["median_s"] for k in METHODS)
        peaks = "/".join(f"{m[k]['peak_rss_mb']:.0f}" for k in METHODS)
        targets = result["targets"]
        size = "x".join(map(str, result["size"]))
        print(
            f"{size:>11} | {a:12.2f} | {b:10.2f} | {c:9.2f} | "
            f"{result['ratios']['c_over_a']:5.2f} | {result['ratios']['c_over_b']:5.2f} | "
            f"{peaks:>17} | {'ok' if targets['c_le_1.15a'] else 'MISSED'}, "
            f"{'ok' if targets['c_lt_b'] else 'MISSED'}"
        )
        cpu = "/".join(f"{m[k]['cpu_median_s']:.2f}" for k in METHODS)
        print(f"{'':>11}   median CPU seconds a/b/c (all threads): {cpu}")
        if "agreement_b_vs_c" in result:
            agreement = result["agreement_b_vs_c"]
            print(
                f"{'':>11}   b vs c: max |diff| {agreement['max_abs_diff']:.3g} "
                f"({agreement['max_abs_diff_excluding_border']:.3g} away from the "
                f"{agreement['border_px']} px border)"
            )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        help=f"package .zip / folder / rdf.yaml or built-in name (default: {DEFAULT_MODEL}, "
        "if shipped in semiseg_zoo/models)",
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method (>= 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs per method first")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="also cProfile one Model.predict per size and store the top N functions",
    )
    args = parser.parse_args(argv)
    if args.repeats < 3:
        parser.error("--repeats must be at least 3 (medians of >= 3 runs)")
    if args.warmup < 0 or any(s < 16 for s in args.sizes):
        parser.error("--warmup must be >= 0 and every size >= 16")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model_path = resolve_model(args.model)

    from semiseg_zoo.inference import load_model

    model = load_model(model_path)  # only to read the tile / rule; nothing is timed here
    if len(model.spatial_axes) != 2:
        raise SystemExit(f"{model_path}: this benchmark runs 2D models (axes {model.input_axes})")
    core = core_blocksize_parameter(model)
    settings = {"blocksize_parameter": core["blocksize_parameter"]}
    compare_size = 2048 if 2048 in args.sizes else min(args.sizes)
    started = dt.datetime.now(dt.timezone.utc)
    report: dict[str, Any] = {
        "benchmark": "predict_speed",
        "date": started.isoformat(timespec="seconds"),
        "git_commit": _git_commit(),
        "machine": machine_info(),
        "model": {
            "source": str(model_path),
            "name": model.package.name,
            "weight_format": model.runner.weight_format,
            "device": model.runner.device,
            "default_tile": list(model.default_tile),
            "shape_rule": {
                "minimum": list(model.rule.minimum),
                "step": list(model.rule.step),
                "halo": list(model.rule.halo),
            },
        },
        "settings": {
            "repeats": args.repeats,
            "warmup": args.warmup,
            "order": "interleaved per repeat: a, b, c, a, b, c, ... (after the warm-up rounds)",
            "timer": "time.perf_counter around the prediction only, inside each worker",
            "memory": (
                "peak_rss_mb = ru_maxrss of a spawned worker that does only that method "
                "(imports, model/pipeline and image included); peak_rss_above_setup_mb "
                "subtracts the RSS once the worker was set up"
            ),
            "bioimageio_core": core,
        },
        "methods": DESCRIPTIONS,
        "results": [],
    }
    del model
    print(f"model {report['model']['name']} ({model_path}), tile {report['model']['default_tile']}")
    print(f"bioimageio.core blocksize_parameter n={core['blocksize_parameter']}: {core['why']}")
    for size in args.sizes:
        result = benchmark_size(
            size,
            model_path,
            settings,
            args.repeats,
            args.warmup,
            size == compare_size,
            args.profile,
            tuple(report["model"]["shape_rule"]["halo"]),
        )
        report["results"].append(result)
        report["duration_s"] = round(
            (dt.datetime.now(dt.timezone.utc) - started).total_seconds(), 1
        )
        write_json_atomic(report, args.output)  # after every size: partial results survive
        if args.profile:
            print(result["profile_semiseg_zoo"])
    print_table(report["results"])
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
