"""Label efficiency of the teacher methods on DSB 2018: supervised baseline vs ACTIS vs
Inconsistency Masks with 10, 19 and 38 labeled training images.

For each budget the labeled images are a prefix of one seeded permutation of the training split
(so budgets are nested); the other training images are the unlabeled pool. For each training
seed: a baseline on the labeled images; ACTIS starting from that baseline; IM starting from the
ensemble of this seed's baseline and the next seed's. Every model is evaluated on the val split
with watershed thresholds tuned there (AP@0.5, AP .10:.90, S_DSB@0.5, F1@0.5).

    python training/experiments/teacher_label_efficiency.py              # CPU budget
    python training/experiments/teacher_label_efficiency.py --scale 10   # 10x the steps
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from semiseg_zoo.cli.training_options import add_schedule_arguments
from semiseg_zoo.evaluation import evaluate_pairs
from semiseg_zoo.spec import TeacherSpec, data_root, load_spec
from semiseg_zoo.training import RunControl, load_image_label_folder
from semiseg_zoo.training.run_files import compute_from_args, git_commit, run_script, write_json
from semiseg_zoo.training.teacher import (
    TeacherSchedule,
    build_net,
    grid_search,
    make_validator,
    percentiles,
    predict_probabilities,
    segment_all,
    split_labeled,
    split_tuning,
    train_actis_student,
    train_baseline,
    train_inconsistency_students,
)

REPO = Path(__file__).resolve().parents[2]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--actis-spec", type=Path, default=REPO / "model_specs/teacher_nuclei_2d_actis.yaml"
    )
    parser.add_argument(
        "--im-spec", type=Path, default=REPO / "model_specs/teacher_nuclei_2d_im.yaml"
    )
    parser.add_argument("--budgets", type=int, nargs="+", default=[10, 19, 38])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--split-seed", type=int, default=0, help="seed of the labeled draw")
    parser.add_argument("--max-unlabeled", type=int, default=None, help="cap the unlabeled pool")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply all step counts")
    parser.add_argument("--generations", type=int, help="overrides the IM spec's generations")
    parser.add_argument("--data-root", type=Path)
    parser.add_argument("--runs", type=Path, default=REPO / "runs/teacher_label_efficiency")
    # --resume keeps the runs already in --output (same settings required), reuses their
    # checkpoints and continues the stopped stage from its checkpoint.
    add_schedule_arguments(parser)
    parser.add_argument(
        "--output", type=Path, default=REPO / "benchmarks/results/teacher_label_efficiency.json"
    )
    return parser


def evaluate(net, spec: TeacherSpec, tune_items, val_items, device: str) -> dict[str, float]:
    """Val scores at the watershed thresholds that maximise AP@0.5 on the tuning images."""
    tune_probabilities = [predict_probabilities(net, item.image, device) for item in tune_items]
    thresholds, _ = grid_search(tune_probabilities, tune_items, spec, log=lambda _: None)
    probabilities = [predict_probabilities(net, item.image, device) for item in val_items]
    labels = segment_all(
        probabilities,
        thresholds["seed_threshold"],
        thresholds["foreground_threshold"],
        spec.postprocessing.min_size,
    )
    gts = [item.labels for item in val_items]
    mean = evaluate_pairs(zip(labels, gts, strict=True), metrics="instance").mean
    return {
        "ap50": round(mean["ap50"], 4),
        "ap10_90": round(mean["ap_10_90"], 4),
        "s_dsb50": round(mean["s_dsb"], 4),
        "f1_50": round(mean["f1"], 4),
        "dsb_map": round(mean["dsb_map"], 4),
        **thresholds,
    }


def summarise(runs: list[dict], budgets: list[int]) -> list[dict]:
    rows = []
    for budget in budgets:
        for method in ("supervised", "actis", "inconsistency"):
            selected = [r for r in runs if r["budget"] == budget and r["method"] == method]
            if not selected:
                continue
            row = {"budget": budget, "method": method, "n_seeds": len(selected)}
            for key in ("ap50", "ap10_90", "s_dsb50", "f1_50", "dsb_map", "seconds"):
                values = [r[key] for r in selected]
                row[key] = round(float(np.mean(values)), 4)
                row[f"{key}_std"] = round(float(np.std(values)), 4)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    return run_script(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    compute = compute_from_args(args)
    device = compute.device
    actis_spec, im_spec = load_spec(args.actis_spec), load_spec(args.im_spec)
    root = args.data_root or data_root()
    norm = percentiles(actis_spec)
    items = load_image_label_folder(root / actis_spec.training.train, **norm)
    val_items = load_image_label_folder(root / actis_spec.training.val, **norm)
    # The same held-out tuning images for every budget and method: they select checkpoints and
    # watershed thresholds, so that val only measures.
    items, tune_items = split_tuning(items, actis_spec.training.tune_images, args.split_seed)
    if not tune_items:
        tune_items = val_items
    validate = make_validator(actis_spec, tune_items, device)

    def control(name: str) -> RunControl:
        return RunControl(args.runs / name, resume=args.resume,
                          checkpoint_every_s=args.checkpoint_every * 60)  # fmt: skip

    steps = {
        "baseline": int(actis_spec.training.steps * args.scale),
        "actis": int(actis_spec.training.actis.steps * args.scale),
        "student": int(im_spec.training.steps * args.scale),
    }
    commit = git_commit(REPO)
    payload: dict = {
        "experiment": "teacher_label_efficiency",
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "git_commit": commit,
        "device": device if device == "cpu" else torch.cuda.get_device_name(),
        "cpu_threads": torch.get_num_threads(),
        "compute": compute.describe(),
        "machine": platform.platform(),
        "data": {"train": actis_spec.training.train, "val": actis_spec.training.val,
                 "n_train": len(items), "n_tune": len(tune_items), "n_val": len(val_items)},
        "split_seed": args.split_seed,
        "seeds": args.seeds,
        "steps": steps,
        "generations": args.generations or im_spec.training.inconsistency.generations,
        "students_per_generation": im_spec.training.inconsistency.students_per_generation,
        "max_unlabeled": args.max_unlabeled,
        "evaluation": "val split; checkpoints and watershed thresholds (best AP@0.5) selected on the tuning images held out of train; AP = TP/(TP+FP); AP .10:.90 over IoU 0.1, 0.2, ..., 0.9 (ACTIS); dsb_map = TP/(TP+FP+FN) over IoU .50:.05:.95",
        "runs": [],
    }  # fmt: skip
    if args.resume and args.output.exists():
        payload = resumed_payload(args.output, payload)
    done = {(r["budget"], r["seed"], r["method"]) for r in payload["runs"]}
    for budget in args.budgets:
        labeled, unlabeled = split_labeled(items, budget, args.split_seed)
        if args.max_unlabeled is not None:
            keep = np.random.default_rng(args.split_seed).permutation(len(unlabeled))
            unlabeled = [unlabeled[i] for i in sorted(keep[: args.max_unlabeled])]
        labeled_names = [item.name for item in labeled]
        baselines = {}
        for seed in args.seeds + [max(args.seeds) + 1] * (len(args.seeds) < 2):
            if (budget, seed, "supervised") in done:
                baselines[seed] = reload_baseline(payload, actis_spec, budget, seed)
                continue
            start = time.perf_counter()
            print(f"== budget {budget}, seed {seed}: supervised baseline", flush=True)
            net, _, _ = train_baseline(
                actis_spec, labeled, validate, seed=seed,
                schedule=TeacherSchedule(compute, steps=steps["baseline"]),
                control=control(f"baseline-{budget}-seed{seed}"),
            )  # fmt: skip
            baselines[seed] = (net, time.perf_counter() - start)
        seed_list = sorted(baselines)
        for seed in args.seeds:
            net, seconds = baselines[seed]
            if (budget, seed, "supervised") not in done:
                record(payload, args, budget, seed, "supervised", net, actis_spec, tune_items,
                       val_items, device, seconds, labeled_names, len(unlabeled))  # fmt: skip
            if (budget, seed, "actis") not in done:
                print(f"== budget {budget}, seed {seed}: ACTIS", flush=True)
                start = time.perf_counter()
                student, actis_result = train_actis_student(
                    actis_spec, net, labeled, unlabeled, validate, seed=seed,
                    schedule=TeacherSchedule(compute, actis_steps=steps["actis"]),
                    control=control(f"actis-{budget}-seed{seed}"),
                )  # fmt: skip
                kept = {"kept": actis_result.best_source, "best_step": actis_result.best_step}
                record(payload, args, budget, seed, "actis", student, actis_spec, tune_items,
                       val_items, device, seconds + time.perf_counter() - start, labeled_names,
                       len(unlabeled), kept)  # fmt: skip
            if (budget, seed, "inconsistency") in done:
                continue
            print(f"== budget {budget}, seed {seed}: Inconsistency Masks", flush=True)
            partner = seed_list[(seed_list.index(seed) + 1) % len(seed_list)]
            start = time.perf_counter()
            result, student_spec, _ = train_inconsistency_students(
                im_spec, [net, baselines[partner][0]], labeled, unlabeled, validate, seed=seed,
                schedule=TeacherSchedule(compute, steps=steps["student"]),
                generations=args.generations, control=control(f"im-{budget}-seed{seed}"),
            )  # fmt: skip
            extra = {
                "generations": [
                    {"generation": g.index, "kept": g.pseudo_labels.n_kept,
                     "unlabeled": g.pseudo_labels.n_images,
                     "masked_fraction": round(g.pseudo_labels.masked_fraction, 4),
                     "student_scores": [round(s, 4) for s in g.student_scores]}
                    for g in result.generations
                ],
                "best_generation": result.best_generation,
            }  # fmt: skip
            record(payload, args, budget, seed, "inconsistency", result.best_student,
                   student_spec, tune_items, val_items, device,
                   seconds + baselines[partner][1] + time.perf_counter() - start,
                   labeled_names, len(unlabeled), extra)  # fmt: skip
    return 0


RESUME_KEYS = ("split_seed", "steps", "generations", "students_per_generation", "max_unlabeled")


def resumed_payload(path: Path, fresh: dict) -> dict:
    """The earlier payload at ``path`` if it was run with the same settings as ``fresh``."""
    earlier = json.loads(path.read_text())
    differing = [k for k in RESUME_KEYS if earlier.get(k) != fresh[k]]
    if differing:
        sys.exit(
            f"--resume: {path} was written with different settings ({', '.join(differing)}: "
            f"{[earlier.get(k) for k in differing]} vs {[fresh[k] for k in differing]}); "
            "rerun with the same arguments or without --resume"
        )
    commits = earlier.get("git_commits", [earlier["git_commit"]])
    earlier["git_commits"] = commits + [fresh["git_commit"]] * (fresh["git_commit"] not in commits)
    earlier["seeds"] = sorted(set(earlier["seeds"]) | set(fresh["seeds"]))
    print(f"resuming {path}: {len(earlier['runs'])} runs already done", flush=True)
    return earlier


def reload_baseline(payload: dict, spec: TeacherSpec, budget: int, seed: int):
    """The supervised net of an earlier run, from its checkpoint, and its training seconds."""
    entry = next(
        r for r in payload["runs"]
        if (r["budget"], r["seed"], r["method"]) == (budget, seed, "supervised")
    )  # fmt: skip
    checkpoint = torch.load(entry["checkpoint"], map_location="cpu", weights_only=True)
    net, _ = build_net(spec, checkpoint.get("width_factor", 1.0))
    net.load_state_dict(checkpoint["state_dict"])
    print(f"== budget {budget}, seed {seed}: baseline reloaded from {entry['checkpoint']}")
    return net, entry["seconds"]


def describe_training(payload: dict, budget: int, seed: int, method: str, n_unlabeled: int) -> str:
    """What trained a checkpoint of this experiment, for the package it may be exported to."""
    steps = payload["steps"]
    how = {
        "supervised": f"supervised, {steps['baseline']} steps",
        "actis": f"supervised {steps['baseline']} steps, then ACTIS {steps['actis']} steps",
        "inconsistency": f"two supervised baselines of {steps['baseline']} steps, then "
        f"{payload['generations']} Inconsistency-Mask generation(s) of "
        f"{payload['students_per_generation']} students x {steps['student']} steps",
    }[method]
    data = payload["data"]
    return (
        f"DSB 2018 stage1_train fluorescence nuclei (BBBC038, community-fixed labels): {budget} "
        f"of the {data['n_train']} training images with labels (draw seed "
        f"{payload['split_seed']}), {n_unlabeled} other training images without labels; "
        f"{how} (training seed {seed}, {payload['device']}); validated on the "
        f"{data['n_val']}-image val split. From training/experiments/teacher_label_efficiency.py."
    )


def record(payload, args, budget, seed, method, net, spec, tune_items, val_items, device,
           seconds, labeled_names, n_unlabeled, extra=None) -> None:  # fmt: skip
    scores = evaluate(net, spec, tune_items, val_items, device)
    run_dir = args.runs / f"{method}-{budget}-seed{seed}"
    run_dir.mkdir(parents=True, exist_ok=True)
    width = spec.architecture.kwargs.get("base_features")
    torch.save(
        {"state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
         "width_factor": width / 16, "scores": scores,
         "data_description": describe_training(payload, budget, seed, method, n_unlabeled)},
        run_dir / "checkpoint.pt",
    )  # fmt: skip
    entry = {"budget": budget, "seed": seed, "method": method, "seconds": round(seconds, 1),
             "n_unlabeled": n_unlabeled, "labeled": labeled_names,
             "checkpoint": str(run_dir / "checkpoint.pt"), **scores, **(extra or {})}  # fmt: skip
    payload["runs"].append(entry)
    budgets = sorted({r["budget"] for r in payload["runs"]})
    payload["summary"] = summarise(payload["runs"], budgets)
    write_json(args.output, payload)
    print(f"   {method} budget {budget} seed {seed}: {scores} ({seconds:.0f}s)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
