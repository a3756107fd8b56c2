"""Seconds per training step of each kind's network: float32 vs bfloat16 autocast vs
channels_last (and both), on this machine.

For each spec (one per network kind) the network is built from ``architecture``, fed random
batches of the spec's ``batch_size`` and ``patch_shape`` and trained with AdamW through
:class:`semiseg_zoo.training.ComputeSettings`, exactly as the training loops do (forward under
autocast, the loss in float32, backward, optimiser step). Settings are interleaved within each
repeat after one untimed warm-up each; the medians of the per-step wall-clock seconds are
reported with the speed-up against float32. Which setting keeps the validation metric is shown
by short training runs, not here (README "Training speed").

Usage::

    .venv/bin/python benchmarks/training_speed.py              # all kinds, 5 repeats x 4 steps
    .venv/bin/python scripts/update_readme.py                  # README table
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from pathlib import Path
from typing import Any

import torch
from predict_speed import _git_commit, machine_info, write_json_atomic

from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.spec import load_spec
from semiseg_zoo.training import ComputeSettings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = ROOT / "benchmarks" / "results" / "training_speed.json"
SPECS = {
    "teacher": "teacher_nuclei_2d.yaml",
    "enhancer": "enhancer_mito_em.yaml",
    "embedding": "embedding_leaves_cvppp.yaml",
    "affinity 2D": "affinity_neurites_isbi.yaml",
    "affinity 3D": "affinity_chloroplast_3d.yaml",
}
SETTINGS = {
    "float32": ("float32", False),
    "bfloat16": ("bfloat16", False),
    "channels_last": ("float32", True),
    "bfloat16+channels_last": ("bfloat16", True),
}


def _step_function(spec: Any, settings: ComputeSettings):
    """One training step of ``spec``'s net on a fixed random batch, with ``settings``."""
    torch.manual_seed(0)
    net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
    spatial = len(spec.training.patch_shape)
    settings.prepare(net, spatial).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-4)
    channels = spec.input.channels
    batch = torch.rand(spec.training.batch_size, channels, *spec.training.patch_shape)
    forward = getattr(net, "forward_logits", net.forward)

    def step() -> None:
        with settings.autocast():
            output = forward(settings.inputs(batch))
        loss = output.float().square().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step


def measure(kinds: list[str], repeats: int, steps: int) -> list[dict[str, Any]]:
    results = []
    for kind in kinds:
        spec = load_spec(ROOT / "model_specs" / SPECS[kind])
        functions = {
            name: _step_function(spec, ComputeSettings("cpu", precision, channels_last))
            for name, (precision, channels_last) in SETTINGS.items()
        }
        for function in functions.values():  # warm-up: allocations, oneDNN kernel choice
            function()
        seconds: dict[str, list[float]] = {name: [] for name in functions}
        for _ in range(repeats):
            for name, function in functions.items():
                start = time.perf_counter()
                for _ in range(steps):
                    function()
                seconds[name].append((time.perf_counter() - start) / steps)
        medians = {name: statistics.median(values) for name, values in seconds.items()}
        row = {
            "kind": kind,
            "spec": SPECS[kind],
            "net": spec.architecture.name,
            "kwargs": dict(spec.architecture.kwargs),
            "batch": [spec.training.batch_size, spec.input.channels, *spec.training.patch_shape],
            "settings": {
                name: {
                    "median_s_per_step": round(medians[name], 4),
                    "speedup_vs_float32": round(medians["float32"] / medians[name], 3),
                    "samples_s": [round(v, 4) for v in seconds[name]],
                }
                for name in functions
            },
        }
        row["fastest"] = min(medians, key=medians.get)
        results.append(row)
        print(
            f"{kind:12s} "
            + "  ".join(f"{name} {medians[name]:.3f}s" for name in functions)
            + f"  fastest: {row['fastest']}",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", default=list(SPECS), choices=list(SPECS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=4, help="steps per timed sample")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    results = measure(args.kinds, args.repeats, args.steps)
    write_json_atomic(
        {
            "benchmark": "training_speed",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "git_commit": _git_commit(),
            "machine": machine_info(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "repeats": args.repeats,
            "steps_per_sample": args.steps,
            "method": "medians of per-step wall seconds, settings interleaved per repeat after "
            "one warm-up step each; random batches of the spec's batch_size and patch_shape; "
            "AdamW; forward under ComputeSettings.autocast, loss in float32",
            "results": results,
        },
        args.output,
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
