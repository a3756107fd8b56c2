"""Does bfloat16 autocast with channels_last keep the validation metric? One short run per
network kind in float32 and in the fast setting, from the same spec, seed and steps.

Each run is the kind's training script on its built-in spec with ``--steps`` (and, for the
embedding and enhancer runs, fewer validation images / forests to keep them short); the metric is
the one the script records on its validation data: teacher AP@0.5 (val, thresholds tuned on
the held-out tuning images), embedding AP@0.5, affinity VOI (lower is better), enhancer F1.
Results go to ``benchmarks/results/precision_check.json``; runs to ``runs/precision_check/``
(``--resume`` reuses finished runs).

    python training/experiments/precision_check.py
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from semiseg_zoo.training.run_files import git_commit, write_json

REPO = Path(__file__).resolve().parents[2]
SETTINGS = {
    "float32": ["--precision", "float32", "--no-channels-last"],
    "bfloat16+channels_last": ["--precision", "bfloat16", "--channels-last"],
}
#: kind: (script, spec, extra arguments, metric key in validation.json, higher is better)
KINDS = {
    "teacher": ("train_teacher.py", "teacher_nuclei_2d.yaml", ["--steps", "600"], "ap50", True),
    "embedding": (
        "train_embedding.py",
        "embedding_nuclei_dsb.yaml",
        ["--steps", "400", "--no-export", "--max-val-images", "16", "--log-every", "100"],
        "ap50",
        True,
    ),
    "affinity": (
        "train_affinity.py",
        "affinity_neurites_isbi.yaml",
        ["--steps", "400", "--no-export", "--log-every", "100"],
        "voi",
        False,
    ),
    "enhancer": (
        "train_enhancer.py",
        "enhancer_nuclei_lm.yaml",
        ["--steps", "400", "--n-forests", "16"],
        "f1",
        True,
    ),
}


def run(kind: str, setting: str, args: argparse.Namespace) -> dict:
    script, spec, extra, metric, higher = KINDS[kind]
    run_dir = args.runs / kind / setting
    report = run_dir / "validation.json"
    if not (args.resume and report.is_file()):
        run_dir.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, str(REPO / "training" / script), "--spec",
            str(REPO / "model_specs" / spec), "--run-dir", str(run_dir), "--output",
            str(run_dir / f"{kind}.zip"), "--overwrite", *extra, *SETTINGS[setting],
        ]  # fmt: skip
        if args.resume and (run_dir / "checkpoints").is_dir():
            command.append("--resume")
        print(f"== {kind} {setting}: {' '.join(command[1:])}", flush=True)
        with (run_dir / "train.log").open("w") as log:
            done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        if done.returncode != 0:
            raise SystemExit(f"{kind} {setting} failed; see {run_dir / 'train.log'}")
    validation = json.loads(report.read_text())["validation"]
    record = json.loads((run_dir / "run.json").read_text()).get("training", {})
    return {
        "metric": metric,
        "higher_is_better": higher,
        "value": validation[metric],
        "s_per_step": record.get("s_per_step"),
        "steps": record.get("steps"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    parser.add_argument("--runs", type=Path, default=REPO / "runs/precision_check")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks/results/precision_check.json"
    )
    args = parser.parse_args(argv)
    results = {}
    for kind in args.kinds:
        results[kind] = {setting: run(kind, setting, args) for setting in SETTINGS}
        fast, plain = results[kind]["bfloat16+channels_last"], results[kind]["float32"]
        change = fast["value"] - plain["value"]
        results[kind]["difference"] = round(change, 4)
        results[kind]["keeps_metric"] = bool(
            (change >= -0.02) if fast["higher_is_better"] else (change <= 0.02 * plain["value"])
        )
        print(f"{kind}: float32 {plain['value']:.4f}, bfloat16+channels_last "
              f"{fast['value']:.4f}", flush=True)  # fmt: skip
    write_json(
        args.output,
        {
            "experiment": "precision_check",
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "git_commit": git_commit(REPO),
            "rule": "keeps the metric: at most 0.02 lower (higher-is-better metrics) or 2 % "
            "higher (VOI) than float32, one seed each (the seed-to-seed std of the 300-step "
            "teacher baselines in teacher_label_efficiency.json was 0.000-0.011 AP@0.5)",
            "note": "s_per_step comes from runs that shared the machine with other training; "
            "benchmarks/training_speed.py is the speed measurement",
            "results": results,
        },
    )
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
