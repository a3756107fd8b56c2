"""How much does SPOCO lose with sparse object labels? SPOCO@0.1, SPOCO@0.4 and full supervision.

For each dataset (CVPPP A1 leaves: 18 training / 6 held-out plants; DSB 2018 nuclei: train /
val split) and each supervision setting, ``train_embedding.py`` trains a network from the
dataset's spec (same steps, patches and seed; only the labeled objects differ) and scores every
clustering recipe of the spec on the validation images: SBD and |DiC| (CVPPP), AP@0.5 (DSB),
and clustering seconds per image. Runs go to ``runs/spoco_sparsity/<dataset>/<setting>``; with
``--resume`` a run whose checkpoint exists is only re-evaluated. The paper's claim checked here:
SPOCO@0.4 reaches at least 85 % of the fully supervised SBD (CVPPP).

    python training/experiments/spoco_sparsity.py --jobs 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from semiseg_zoo.training.run_files import git_commit, write_json

REPO = Path(__file__).resolve().parents[2]

DATASETS = {
    "cvppp": ("model_specs/embedding_leaves_cvppp.yaml", "sbd"),
    "dsb": ("model_specs/embedding_nuclei_dsb.yaml", "ap50"),
}
SETTINGS = {
    "full": ["--full"],
    "0.4": ["--object-fraction", "0.4"],
    "0.1": ["--object-fraction", "0.1"],
}
CLAIM_RATIO = 0.85


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS))
    parser.add_argument("--steps", type=int, help="overrides the specs' training.steps")
    parser.add_argument(
        "--max-val-images", type=int, help="score on a seeded subset of the validation images"
    )
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (1 thread each)")
    parser.add_argument("--run-root", type=Path, default=REPO / "runs/spoco_sparsity")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument(
        "--resume", action="store_true", help="re-evaluate runs whose checkpoint exists"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks/results/spoco_sparsity.json"
    )
    parser.add_argument(
        "--merge", action="store_true", help="keep the other runs already in --output"
    )
    return parser


def run_command(dataset: str, setting: str, args: argparse.Namespace) -> list[str]:
    """The ``train_embedding.py`` command of one run."""
    spec, _ = DATASETS[dataset]
    run_dir = args.run_root / dataset / setting
    command = [
        sys.executable, str(REPO / "training/train_embedding.py"), "--spec", str(REPO / spec),
        *SETTINGS[setting], "--run-dir", str(run_dir), "--no-export",
        "--threads", "1" if args.jobs > 1 else str(os.cpu_count() or 1),
    ]  # fmt: skip
    if args.steps:
        command += ["--steps", str(args.steps)]
    if args.max_val_images:
        command += ["--max-val-images", str(args.max_val_images)]
    if args.data_root:
        command += ["--data-root", str(args.data_root)]
    if args.resume and (run_dir / "checkpoint.pt").exists():
        command += ["--from-checkpoint", str(run_dir / "checkpoint.pt")]
    elif args.resume:
        command += ["--resume"]  # continue a stopped training from its last checkpoint
    return command


def run(dataset: str, setting: str, args: argparse.Namespace) -> dict:
    """Train (or re-evaluate) one run and return its validation report."""
    run_dir = args.run_root / dataset / setting
    run_dir.mkdir(parents=True, exist_ok=True)
    command = run_command(dataset, setting, args)
    log = run_dir / ("evaluate.log" if "--from-checkpoint" in command else "train.log")
    with log.open("w") as handle:
        completed = subprocess.run(command, stdout=handle, stderr=subprocess.STDOUT, cwd=REPO)
    if completed.returncode != 0:
        raise SystemExit(f"{dataset} {setting} failed (exit {completed.returncode}); see {log}")
    report = json.loads((run_dir / "validation.json").read_text())
    report.pop("history", None)
    training_seconds = report.get("training_seconds")
    return {
        "dataset": dataset,
        "setting": setting,
        **{k: v for k, v in report.items() if k != "validation"},
        "training_seconds": None if training_seconds is None else round(training_seconds),
        "command": " ".join(Path(c).name if c.endswith(".py") else c for c in command[1:]),
        "git_commit": git_commit(REPO),
    }


def claim(results: list[dict]) -> dict:
    """SPOCO@0.4 SBD / full SBD on CVPPP, with each one's best clustering."""

    def best_sbd(setting: str) -> float | None:
        rows = [r for r in results if r["dataset"] == "cvppp" and r["setting"] == setting]
        return max(c["sbd"] for c in rows[0]["clustering"]) if rows else None

    full, sparse = best_sbd("full"), best_sbd("0.4")
    if full is None or sparse is None:
        return {"holds": None, "reason": "needs the CVPPP full and 0.4 runs"}
    ratio = sparse / full if full > 0 else 0.0
    return {
        "statement": f"SPOCO@0.4 reaches at least {CLAIM_RATIO:.0%} of the fully supervised SBD",
        "full_sbd": full,
        "spoco_0.4_sbd": sparse,
        "ratio": round(ratio, 3),
        "holds": ratio >= CLAIM_RATIO,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commit = git_commit(REPO)
    runs = [(d, s) for d in args.datasets for s in args.settings]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda pair: run(*pair, args), runs))
    if args.merge and args.output.exists():
        done = {(r["dataset"], r["setting"]) for r in results}
        earlier = json.loads(args.output.read_text())["results"]
        results += [r for r in earlier if (r["dataset"], r["setting"]) not in done]
        results.sort(
            key=lambda r: (list(DATASETS).index(r["dataset"]), list(SETTINGS).index(r["setting"]))
        )
    payload = {
        "experiment": "spoco_sparsity",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": commit,
        "machine": platform.platform(),
        "jobs": args.jobs,
        "metric": "mean over validation images; SBD and |DiC| as in CVPPP; AP@0.5 = "
        "TP/(TP+FP) at IoU 0.5 (ACTIS); clustering seconds per image on this machine "
        "while the other job ran",
        "results": results,
        "claim": claim(results),
    }
    write_json(args.output, payload)
    print(json.dumps(payload["claim"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
