"""Regenerate the README's measured sections from their sources (never typed by hand).

- ``default-model-metrics``: ``config.semiseg.validation`` of the embedded default package;
- ``predict-speed``: ``benchmarks/results/predict_speed.json``;
- ``teacher-label-efficiency``: ``benchmarks/results/teacher_label_efficiency.json``;
- ``builtin-enhancers``: ``config.semiseg.validation`` of the built-in enhancer packages;
- ``enhancer-transfer``: ``benchmarks/results/enhancer_transfer.json``;
- ``clustering-speed``: ``benchmarks/results/clustering_speed.json``;
- ``builtin-affinities``: ``config.semiseg.validation`` of the built-in affinity packages;
- ``crac-sparse``: ``benchmarks/results/crac_sparse.json``;
- ``affinity-speed``: ``benchmarks/results/affinity_speed.json``;
- ``training-speed``: ``benchmarks/results/training_speed.json``;
- ``precision-check``: ``benchmarks/results/precision_check.json``.

    .venv/bin/python scripts/update_readme.py
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _section(text: str, name: str, body: str) -> str:
    pattern = re.compile(rf"(<!-- {name} -->\n).*?(\n<!-- /{name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"README.md has no <!-- {name} --> section")
    return pattern.sub(lambda m: m.group(1) + body + m.group(2), text)


def metrics_table() -> str:
    from semiseg_zoo.inference import DEFAULT_MODEL, load_package

    config = load_package(DEFAULT_MODEL).semiseg_config or {}
    validation = config.get("validation", {})
    recipe = config.get("postprocessing", {})
    rows = [
        "| data | images | AP@0.5 | F1@0.5 | S_DSB@0.5 | recall@0.5 | seed / foreground threshold |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
        f"| DSB 2018 `{validation.get('dataset')}` | {validation.get('n_images')} "
        f"| {validation.get('ap50')} | {validation.get('f1_50')} | {validation.get('s_dsb50')} "
        f"| {validation.get('recall50')} | {recipe.get('seed_threshold')} / "
        f"{recipe.get('foreground_threshold')} |",
    ]
    return "\n".join(rows)


def speed_table() -> str:
    spec = importlib.util.spec_from_file_location(
        "readme_table", ROOT / "benchmarks" / "README_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    report = json.loads((ROOT / "benchmarks" / "results" / "predict_speed.json").read_text())
    return module.table(report)


METHOD_NAMES = {"supervised": "supervised baseline", "actis": "ACTIS", "inconsistency": "IM"}


def _experiment_report(name: str) -> tuple[dict | None, str]:
    """``benchmarks/results/<name>.json``, or None and the line that says how to make it."""
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    if not path.is_file():
        return None, (
            f"Not measured yet: run `python training/experiments/{name}.py`, then "
            "`python scripts/update_readme.py`."
        )
    return json.loads(path.read_text()), ""


def label_efficiency_table() -> str:
    report, missing = _experiment_report("teacher_label_efficiency")
    if report is None:
        return missing
    rows = [
        "| labeled images | method | AP@0.5 | AP .10:.90 | S_DSB@0.5 | F1@0.5 | seeds | "
        "train time (s) |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in report["summary"]:
        rows.append(
            f"| {row['budget']} | {METHOD_NAMES[row['method']]} "
            f"| {row['ap50']:.3f} ± {row['ap50_std']:.3f} | {row['ap10_90']:.3f} "
            f"| {row['s_dsb50']:.3f} | {row['f1_50']:.3f} | {row['n_seeds']} "
            f"| {row['seconds']:.0f} |"
        )
    steps = report["steps"]
    commits = ", ".join(c[:7] for c in report.get("git_commits", [report["git_commit"]]))
    rows.append("")
    rows.append(
        f"Budget: baseline {steps['baseline']} steps, ACTIS {steps['actis']} further steps, IM "
        f"{report['generations']} generation(s) of {report['students_per_generation']} students "
        f"× {steps['student']} steps, unlabeled pool capped at {report['max_unlabeled']} images; "
        f"device {report['device']} ({report['cpu_threads']} threads); commit(s) {commits}."
    )
    rows.append("")
    rows.append(claim_check(report["summary"]))
    return "\n".join(rows)


def claim_check(summary: list[dict]) -> str:
    """Which budgets each semi-supervised method beats its baseline in (mean AP@0.5), against
    the papers' claim of at least 2 of 3."""
    baseline = {row["budget"]: row["ap50"] for row in summary if row["method"] == "supervised"}
    parts = []
    for method in ("actis", "inconsistency"):
        means = {r["budget"]: r["ap50"] for r in summary if r["method"] == method}
        wins = [b for b in sorted(means) if b in baseline and means[b] > baseline[b]]
        verdict = "holds" if len(wins) >= 2 else "does not hold"
        parts.append(
            f"{METHOD_NAMES[method]} beats the baseline's mean AP@0.5 with "
            f"{', '.join(map(str, wins)) or 'no'} labeled images ({len(wins)} of {len(means)} "
            f"budgets): the claim (≥ 2 of 3) {verdict}"
        )
    return "; ".join(parts) + "."


def builtin_enhancers_table() -> str:
    from semiseg_zoo.inference import list_builtin_models, load_package

    rows = [
        "| model | source | held-out source images | pixel Dice RF → enhancer | instances "
        "RF → enhancer |",
        "| --- | --- | ---: | --- | --- |",
    ]
    for name in list_builtin_models():
        if not name.startswith("enhancer-"):
            continue
        config = load_package(name).semiseg_config
        validation, source = config["validation"], config["training_source"]
        if "vi" in validation:
            instances = f"VI {validation['rf_vi']:.2f} → {validation['vi']:.2f}"
        else:
            instances = f"F1@0.5 {validation['rf_f1']:.3f} → {validation['f1']:.3f}"
        rows.append(
            f"| `{name}` | `{source['raw']}` | {validation['n_images']} "
            f"| {validation['rf_pixel_dice']:.3f} → {validation['pixel_dice']:.3f} "
            f"| {instances} |"
        )
    return "\n".join(rows)


def _score(scores: dict | None, key: str) -> str:
    return "—" if not scores else f"{scores[key]:.3f}"


def _dice(task: dict) -> str:
    methods = [task["rf"], task["enhancer_scores"], task.get("pseudo_label_net")]
    return " / ".join(
        "—" if not m or "pixel_dice" not in m else f"{m['pixel_dice']:.3f}" for m in methods
    )


def enhancer_transfer_table() -> str:
    report, missing = _experiment_report("enhancer_transfer")
    if report is None:
        return missing
    rows = [
        "| task | enhancer | images | metric | Random Forest | enhancer | pseudo-label net | "
        "pixel Dice RF / enhancer / PL net | scribble pixels (bg / fg) |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for task in report["tasks"]:
        key = "vi" if "vi" in task["rf"] else "f1"
        metric = "VI (lower better)" if key == "vi" else "F1@0.5"
        pixels = task["scribble_pixels_mean"]
        rows.append(
            f"| {task['description']} | `{task['enhancer']}` | {task['n_images']} | {metric} "
            f"| {_score(task['rf'], key)} | {_score(task['enhancer_scores'], key)} "
            f"| {_score(task.get('pseudo_label_net'), key)} | {_dice(task)} "
            f"| {pixels['1']:.0f} / {pixels['2']:.0f} |"
        )
    scribbles = report["scribbles"]
    commits = ", ".join(
        dict.fromkeys(t.get("git_commit", report["git_commit"])[:7] for t in report["tasks"])
    )
    rows.append("")
    rows.append(
        f"Scribbles: {scribbles['strokes_per_class']} strokes per class, width "
        f"{scribbles['width']}, length {scribbles['length']} px (seeded); forests of "
        f"{report['forest_trees']} trees; {report['metric']}; commit(s) {commits}."
    )
    return "\n".join(rows)


CLUSTERING_NAMES = {
    "embedding_mws": "`embedding_mws`",
    "mean_shift": "`mean_shift`",
    "mean_shift_merge": "`mean_shift`, `merge_close=True`",
    "hdbscan": "`hdbscan`",
    "naive_mean_shift": "scikit-learn `MeanShift` on all pixels (`bin_seeding=True`)",
}


def clustering_speed_table() -> str:
    path = ROOT / "benchmarks" / "results" / "clustering_speed.json"
    if not path.is_file():
        return (
            "Not measured yet: run `python benchmarks/clustering_speed.py`, then "
            "`python scripts/update_readme.py`."
        )
    report = json.loads(path.read_text())
    result, settings, machine = report["result"], report["settings"], report["machine"]
    rows = [
        "| method | median (s) | CPU (s) | objects recovered exactly | adapted Rand error |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, method in result["methods"].items():
        runs = len(method["runs_s"])
        rows.append(
            f"| {CLUSTERING_NAMES.get(name, name)}{' (1 run)' if runs == 1 else ''} "
            f"| {method['median_s']:.2f} | {method['cpu_median_s']:.2f} "
            f"| {method['objects_exact']} / {method['objects_truth']} "
            f"| {method['adapted_rand_error']:.4f} |"
        )
    data = result["data"]
    shape = "×".join(map(str, result["shape"]))
    load = ", ".join(f"{v:g}" for v in result["load_average_1min"])
    rows.append("")
    rows.append(
        f"{shape} pixels, {result['embedding_dim']}-D embeddings of {data['n_objects']} "
        f"synthetic nuclei ({data['object_pixels_min_median_max'][0]}-"
        f"{data['object_pixels_min_median_max'][2]} px) + background, noise std "
        f"{data['noise_std']} (pixels a median "
        f"{data['pixel_distance_to_object_mean_median_p99'][0]:.2f} from their object's mean); "
        f"default parameters; medians of {settings['repeats']} interleaved runs, "
        f"{settings['threads']} threads; {machine['cpu_model'] or machine['machine']}, "
        f"{machine['cpus_usable']} CPUs, load average {load}; scikit-learn "
        f"{machine['versions'].get('scikit-learn')}, python-elf "
        f"{machine['versions'].get('python-elf')}; {report['date']}, commit "
        f"{report['git_commit'][:12]}"
        f"{' + uncommitted changes' if report.get('uncommitted_changes') else ''}. "
        "Fastest exact method: "
        f"`{result['fastest_exact_method']}`."
    )
    return "\n".join(rows)


def builtin_embeddings_table() -> str:
    from semiseg_zoo.inference import list_builtin_models, load_package

    rows = [
        "| model | supervision | clustering | validation | SBD | \\|DiC\\| | AP@0.5 | s / image |",
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in list_builtin_models():
        if not name.startswith("embedding-"):
            continue
        config = load_package(name).semiseg_config
        validation, recipe = config["validation"], config["postprocessing"]
        rows.append(
            f"| `{name}` | {config['embedding']['supervision']} | {_short_recipe(recipe)} "
            f"| {validation['dataset']} | {validation['sbd']:.3f} "
            f"| {validation['abs_dic']:.1f} | {validation['ap50']:.3f} "
            f"| {validation['clustering_seconds_per_image']:.2f} |"
        )
    return "\n".join(rows)


CLUSTERING_DEFAULTS = {
    "delta_v": 0.5, "delta_d": 2.0, "merge_close": False, "background": "largest",
    "foreground_threshold": 0.5, "max_samples": 10000, "seed": 0,
}  # fmt: skip


def _short_recipe(recipe: dict) -> str:
    """``method(non-default parameters)``."""
    params = [
        f"{k}={v}" for k, v in recipe.items()
        if k != "method" and CLUSTERING_DEFAULTS.get(k, object()) != v
    ]  # fmt: skip
    return f"`{recipe['method']}`" + (f" ({', '.join(params)})" if params else "")


SPOCO_SETTINGS = {"full": "full", "0.4": "SPOCO@0.4", "0.1": "SPOCO@0.1"}


def spoco_sparsity_table() -> str:
    report, missing = _experiment_report("spoco_sparsity")
    if report is None:
        return missing
    rows = [
        "| data | supervision | labeled objects | clustering | SBD | \\|DiC\\| | AP@0.5 | s / image |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for run in report["results"]:
        metric = "sbd" if run["dataset"] == "cvppp" else "ap50"
        best: dict[str, dict] = {}
        for row in run["clustering"]:
            method = row["recipe"]["method"]
            if method not in best or row[metric] > best[method][metric]:
                best[method] = row
        for row in best.values():
            rows.append(
                f"| {run['dataset']} | {SPOCO_SETTINGS[run['setting']]} "
                f"| {run['labeled_objects']} / {run['objects']} | {_short_recipe(row['recipe'])} "
                f"| {row['sbd']:.3f} | {row['abs_dic']:.1f} | {row['ap50']:.3f} "
                f"| {row['seconds_per_image']:.2f} |"
            )
    claim = report.get("claim", {})
    rows.append("")
    if report.get("not_run"):
        rows.append(f"Not in this table: {report['not_run']}.")
        rows.append("")
    if claim.get("holds") is None:
        rows.append(f"Claim not checked: {claim.get('reason', 'no claim in the report')}.")
    else:
        rows.append(
            f'Claim "{claim["statement"]}": SBD {claim["spoco_0.4_sbd"]:.3f} vs '
            f"{claim['full_sbd']:.3f} (ratio {claim['ratio']:.2f}): "
            f"**{'holds' if claim['holds'] else 'does not hold'}** here. "
            f"Validation images per run: {report['results'][0]['clustering'][0]['n_images']} "
            f"(CVPPP); commit {report['git_commit'][:12]}, {report['date']}."
        )
    return "\n".join(rows)


def builtin_affinities_table() -> str:
    from semiseg_zoo.inference import list_builtin_models, load_package

    rows = [
        "| model | training | net | post-processing | validation | VOI split | VOI merge | VOI "
        "| ARAND | S_DSB@0.5 |",
        "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in list_builtin_models():
        if not name.startswith("affinity-"):
            continue
        config = load_package(name).semiseg_config
        v, recipe = config["validation"], config["postprocessing"]
        rows.append(
            f"| `{name}` | {v['supervision']} | {v['net']} | {_affinity_recipe(recipe)} "
            f"| {v['dataset']} | {v['voi_split']:.3f} | {v['voi_merge']:.3f} | {v['voi']:.3f} "
            f"| {v['arand']:.3f} | {v['s_dsb50']:.3f} |"
        )
    return "\n".join(rows)


def _affinity_recipe(recipe: dict) -> str:
    params = [f"{k}={v}" for k, v in recipe.items() if k not in ("method", "offsets")]
    return f"`{recipe['method']}`" + (f" ({', '.join(params)})" if params else "")


CRAC_SETTINGS = {"vanilla": "vanilla", "crac": "CRAC", "crac_cpsn": "CRAC + CPSN"}


def crac_sparse_table() -> str:
    report, missing = _experiment_report("crac_sparse")
    if report is None:
        return missing
    rows = [
        "| data | training | annotated instances | net | best post-processing | VOI split "
        "| VOI merge | VOI | ARAND | S_DSB@0.5 |",
        "| --- | --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in report["results"]:
        for net, row in run["best_per_net"].items():
            rows.append(
                f"| {run['dataset']} | {CRAC_SETTINGS[run['setting']]} "
                f"| {run['annotated_instances']} / {run['instances']} | {net} "
                f"| {_affinity_recipe(row['recipe'])} | {row['voi_split']:.3f} "
                f"| {row['voi_merge']:.3f} | {row['voi']:.3f} | {row['arand']:.3f} "
                f"| {row['s_dsb50']:.3f} |"
            )
    rows.append("")
    for claim in report.get("claims", []):
        rows.append(
            f'- {claim["dataset"]}: "{claim["statement"]}": VOI {claim["crac_explicit_voi"]:.3f} '
            f"(CRAC, explicit net) vs {claim['vanilla_voi']:.3f} (vanilla): "
            f"**{'holds' if claim['holds'] else 'does not hold'}** here."
        )
    rows.append("")
    steps = sorted({f"{r['dataset']} {r['steps']}" for r in report["results"]})
    rows.append(
        f"Training steps: {', '.join(steps)}; commit {report['git_commit'][:12]}, {report['date']}."
    )
    return "\n".join(rows)


def affinity_speed_table() -> str:
    path = ROOT / "benchmarks" / "results" / "affinity_speed.json"
    if not path.exists():
        return "Not measured yet: run `benchmarks/affinity_speed.py`."
    report = json.loads(path.read_text())
    rows = [
        f"Network inference ({report['inference']}) on a {report['image']}: "
        f"{report['inference_seconds']:.2f} s.",
        "",
        "| post-processing | seconds | × inference | segments | ≤ 0.5 × inference |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in report["results"]:
        rows.append(
            f"| {row['postprocessing']} ({_affinity_recipe(row['recipe'])}) | {row['seconds']:.2f} "
            f"| {row['ratio_to_inference']:.2f} | {row['segments']} "
            f"| {'yes' if row['meets_target'] else 'no'} |"
        )
    rows.append("")
    rows.append(f"{report['machine']}, {report['cpu_count']} CPUs, {report['date']}.")
    return "\n".join(rows)


TRAINING_SETTINGS = ("float32", "bfloat16", "channels_last", "bfloat16+channels_last")


def training_speed_table() -> str:
    path = ROOT / "benchmarks" / "results" / "training_speed.json"
    if not path.is_file():
        return "Not measured yet: run `.venv/bin/python benchmarks/training_speed.py`."
    report = json.loads(path.read_text())
    rows = [
        "| kind | network | batch | " + " | ".join(TRAINING_SETTINGS) + " | fastest |",
        "| --- | --- | --- | " + " | ".join("---:" for _ in TRAINING_SETTINGS) + " | --- |",
    ]
    for result in report["results"]:
        kwargs = result["kwargs"]
        net = f"{result['net']} depth {kwargs.get('depth')}, {kwargs.get('base_features')} features"
        cells = [
            f"{result['settings'][name]['median_s_per_step']:.3f} s "
            f"({result['settings'][name]['speedup_vs_float32']:.2f}×)"
            for name in TRAINING_SETTINGS
        ]
        batch = "×".join(str(v) for v in result["batch"])
        rows.append(f"| {result['kind']} | {net} | {batch} | " + " | ".join(cells)
                    + f" | {result['fastest']} |")  # fmt: skip
    machine = report["machine"]
    rows.append("")
    rows.append(
        f"Seconds per training step (median of {report['repeats']} × {report['steps_per_sample']} "
        f"steps, settings interleaved), speed-up against float32 in brackets; "
        f"{machine.get('cpu_model')}, {report['threads']} threads, torch {report['torch']}; "
        f"{report['date']}, commit {report['git_commit'][:12]}."
    )
    return "\n".join(rows)


PRECISION_METRICS = {"ap50": "AP@0.5", "voi": "VOI (lower is better)", "f1": "F1"}


def precision_check_table() -> str:
    report, missing = _experiment_report("precision_check")
    if report is None:
        return missing
    rows = [
        "| kind | validation metric | float32 | bfloat16 + channels_last | difference | keeps it |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for kind, result in report["results"].items():
        plain, fast = result["float32"], result["bfloat16+channels_last"]
        rows.append(
            f"| {kind} | {PRECISION_METRICS.get(plain['metric'], plain['metric'])} "
            f"| {plain['value']:.3f} | {fast['value']:.3f} | {result['difference']:+.3f} "
            f"| {'yes' if result['keeps_metric'] else 'no'} |"
        )
    rows.append("")
    rows.append(f"Rule: {report['rule']}; {report['date']}, commit {report['git_commit'][:12]}.")
    return "\n".join(rows)


def main() -> int:
    text = README.read_text()
    text = _section(text, "default-model-metrics", metrics_table())
    text = _section(text, "predict-speed", speed_table())
    text = _section(text, "builtin-enhancers", builtin_enhancers_table())
    text = _section(text, "teacher-label-efficiency", label_efficiency_table())
    text = _section(text, "enhancer-transfer", enhancer_transfer_table())
    text = _section(text, "clustering-speed", clustering_speed_table())
    text = _section(text, "builtin-embeddings", builtin_embeddings_table())
    text = _section(text, "spoco-sparsity", spoco_sparsity_table())
    text = _section(text, "builtin-affinities", builtin_affinities_table())
    text = _section(text, "crac-sparse", crac_sparse_table())
    text = _section(text, "affinity-speed", affinity_speed_table())
    text = _section(text, "training-speed", training_speed_table())
    text = _section(text, "precision-check", precision_check_table())
    README.write_text(text)
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
