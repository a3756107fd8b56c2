"""Scale of blockwise prediction on a volume larger than the memory any process may use.

Builds a 3D volume of at least 2 GiB (float32) by mirror-tiling the real chloroplast EM stack
(``$SEMISEG_DATA/chloroplast3d/raw.tif``) into a chunked zarr, then predicts it with the
built-in 3D affinity model through :func:`semiseg_zoo.blockwise.predict_blockwise` on a dask
``LocalCluster`` of single-threaded worker processes. Each configuration runs in its own
process, so the peak memory (``ru_maxrss``) of the main process (which also hosts the dask
scheduler, as ``--scheduler local`` does) is its own; each worker reports its peak at the end.

Measured, side by side in one run:

* throughput of 1 and of 2 single-threaded workers on the same sub-volume (the ratio);
* the whole volume with 2 workers: peak memory of the main process and of each worker.

Usage::

    .venv/bin/python benchmarks/blockwise_scale.py [--work /tmp/blockwise-scale] [--keep]

Results go to ``benchmarks/results/blockwise_scale.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Run as a script: its folder is on sys.path, so the shared helpers import directly.
from predict_speed import _git_commit, _maxrss_mb, machine_info, write_json_atomic

ROOT = Path(__file__).resolve().parent.parent
RESULT = ROOT / "benchmarks" / "results" / "blockwise_scale.json"
MODEL = "affinity-chloroplast-3d"
SHAPE = (128, 2048, 2048)  # float32: 2 GiB
CHUNKS = (32, 256, 256)
BLOCK = (32, 128, 128)  # measured: scales 2x on 2 cores; 256² blocks are memory-bound (1.8x)
SUB_SLICES = 32  # the sub-volume of the throughput comparison: the first 32 slices
TARGETS = {"main_peak_mb": 2048, "worker_peak_mb": 3072, "speedup_2_over_1": 1.7}


def data_root() -> Path:
    return Path(os.environ.get("SEMISEG_DATA", ROOT.parent / "shared" / "data"))


def build_volume(path: Path) -> dict[str, Any]:
    """Mirror-tile the chloroplast stack to :data:`SHAPE` into a float32 zarr, slab by slab."""
    import numpy as np
    import tifffile
    import zarr

    source = data_root() / "chloroplast3d" / "raw.tif"
    if not source.exists():
        raise SystemExit(f"{source} not found: set SEMISEG_DATA to the shared data folder")
    raw = tifffile.imread(source)  # (10, 2048, 1536) uint8
    array = zarr.create_array(
        store=str(path), shape=SHAPE, chunks=CHUNKS, dtype="float32", overwrite=True
    )
    mirrored = np.concatenate([raw, raw[::-1]])  # period 20 along z, no jumps
    reps = [math.ceil(s / m) for s, m in zip(SHAPE[1:], raw.shape[1:], strict=True)]
    for start in range(0, SHAPE[0], CHUNKS[0]):
        slab = mirrored[np.arange(start, start + CHUNKS[0]) % len(mirrored)]
        plane = np.concatenate([slab, slab[:, :, ::-1]], axis=2) if reps[1] > 1 else slab
        plane = np.tile(plane, (1, reps[0], 1))[:, : SHAPE[1], : SHAPE[2]]
        array[start : start + CHUNKS[0]] = plane.astype(np.float32)
    sub = zarr.create_array(
        store=str(path.with_name("sub-volume.zarr")),
        shape=(SUB_SLICES, *SHAPE[1:]),
        chunks=CHUNKS,
        dtype="float32",
        overwrite=True,
    )
    sub[:] = array[:SUB_SLICES]
    return {
        "source": "chloroplast3d/raw.tif (10, 2048, 1536) uint8, mirror-tiled",
        "shape": list(SHAPE),
        "dtype": "float32",
        "gib": math.prod(SHAPE) * 4 / 2**30,
        "chunks": list(CHUNKS),
    }


def run_configuration(volume: Path, output: Path, workers: int, slices: int) -> dict[str, Any]:
    """One blockwise prediction on a fresh local cluster (runs in its own process)."""
    import resource

    import zarr
    from distributed import Client, LocalCluster

    from semiseg_zoo.blockwise import predict_blockwise

    source = volume if slices >= SHAPE[0] else volume.with_name("sub-volume.zarr")
    assert zarr.open_array(str(source), mode="r").shape[0] == slices
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster, set_as_default=False)
    start = time.perf_counter()
    predict_blockwise(
        MODEL,
        str(source),
        output,
        axes="zyx",
        block_shape=BLOCK,
        scheduler=cluster.scheduler_address,
        overwrite=True,
    )
    seconds = time.perf_counter() - start
    workers_peak = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    client.close()
    cluster.close()
    voxels = slices * SHAPE[1] * SHAPE[2]
    return {
        "workers": workers,
        "threads_per_worker": 1,
        "shape": [slices, *SHAPE[1:]],
        "voxels": voxels,
        "seconds": seconds,
        "megavoxels_per_s": voxels / seconds / 1e6,
        "main_peak_mb": _maxrss_mb(),
        "worker_peak_mb": sorted(workers_peak.values()),
    }


def _in_subprocess(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(report: dict[str, Any]) -> str:
    """The README table of a report."""
    lines = [
        "| workers × threads | volume (z×y×x, float32) | seconds | Mvoxel/s "
        "| peak main process (MB) | peak per worker (MB) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for run in report["runs"]:
        gib = run["voxels"] * 4 / 2**30
        lines.append(
            f"| {run['workers']} × 1 | {'×'.join(map(str, run['shape']))} ({gib:.2f} GiB) "
            f"| {run['seconds']:.0f} | {run['megavoxels_per_s']:.2f} | {run['main_peak_mb']:.0f} "
            f"| {', '.join(f'{m:.0f}' for m in run['worker_peak_mb'])} |"
        )
    machine = report["machine"]
    met = report["meets_targets"]
    lines += [
        "",
        f"2 workers / 1 worker on the same sub-volume: **{report['speedup_2_over_1']:.2f}×** "
        f"(target ≥ {report['targets']['speedup_2_over_1']}, "
        f"{'met' if met['speedup_2_over_1'] else 'NOT met'}); peak memory of the main process "
        f"{report['main_peak_mb']:.0f} MB (target ≤ {report['targets']['main_peak_mb']}, "
        f"{'met' if met['main_peak_mb'] else 'NOT met'}), of a worker "
        f"{report['worker_peak_mb']:.0f} MB (target ≤ {report['targets']['worker_peak_mb']}, "
        f"{'met' if met['worker_peak_mb'] else 'NOT met'}). Model `{report['model']}` (onnx, "
        f"one thread per worker), blocks {'×'.join(map(str, report['block_shape']))}, "
        f"{report['volume']['source']}; {machine['cpu_model']}, {machine['cpus_usable']} CPUs; "
        f"{report['date']}, commit {report['git_commit'][:7]}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/blockwise-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the volume and outputs")
    parser.add_argument("--output", type=Path, default=RESULT)
    parser.add_argument(
        "--table", action="store_true", help="print the README table of the saved results"
    )
    parser.add_argument("--_build", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--_run", nargs=2, type=int, metavar=("WORKERS", "SLICES"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    volume = args.work / "volume.zarr"
    if args.table:
        print(table(json.loads(args.output.read_text())))
        return 0
    if args._build:
        print(json.dumps(build_volume(volume)))
        return 0
    if args._run:
        workers, slices = args._run
        output = args.work / f"prediction-{workers}-{slices}.zarr"
        print(json.dumps(run_configuration(volume, output, workers, slices)))
        if not args.keep:
            shutil.rmtree(output, ignore_errors=True)
        return 0

    args.work.mkdir(parents=True, exist_ok=True)
    print(f"building the {math.prod(SHAPE) * 4 / 2**30:.1f} GiB volume in {volume} ...", flush=True)
    volume_info = _in_subprocess("--_build", "--work", str(args.work))
    runs = []
    for workers, slices in ((1, SUB_SLICES), (2, SUB_SLICES), (2, SHAPE[0])):
        print(f"{workers} worker(s), {slices} slices ...", flush=True)
        keep = ["--keep"] if args.keep else []
        runs.append(
            _in_subprocess("--_run", str(workers), str(slices), "--work", str(args.work), *keep)
        )
        print(
            f"  {runs[-1]['seconds']:.1f} s, {runs[-1]['megavoxels_per_s']:.2f} Mvoxel/s",
            flush=True,
        )
    one, two, whole = runs
    speedup = two["megavoxels_per_s"] / one["megavoxels_per_s"]
    main_peak = max(r["main_peak_mb"] for r in runs)
    worker_peak = max(max(r["worker_peak_mb"]) for r in runs)
    report = {
        "benchmark": "blockwise_scale",
        "date": dt.date.today().isoformat(),
        "git_commit": _git_commit(),
        "machine": machine_info(),
        "model": MODEL,
        "volume": volume_info,
        "block_shape": list(BLOCK),
        "output": "float32 (10, *spatial) zarr, chunked by the block",
        "runs": runs,
        "speedup_2_over_1": speedup,
        "main_peak_mb": main_peak,
        "worker_peak_mb": worker_peak,
        "targets": TARGETS,
        "meets_targets": {
            "main_peak_mb": main_peak <= TARGETS["main_peak_mb"],
            "worker_peak_mb": worker_peak <= TARGETS["worker_peak_mb"],
            "speedup_2_over_1": speedup >= TARGETS["speedup_2_over_1"],
        },
    }
    write_json_atomic(report, args.output)
    print(
        json.dumps(
            {
                k: report[k]
                for k in ("speedup_2_over_1", "main_peak_mb", "worker_peak_mb", "meets_targets")
            },
            indent=2,
        )
    )
    if not args.keep:
        shutil.rmtree(args.work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
