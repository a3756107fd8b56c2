"""Regenerate the README's measured sections from their sources (never typed by hand).

- ``default-model-metrics``: ``config.semiseg.validation`` of the embedded default package;
- ``predict-speed``: ``benchmarks/results/predict_speed.json``;
- ``teacher-label-efficiency``: ``benchmarks/results/teacher_label_efficiency.json``.

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


def label_efficiency_table() -> str:
    path = ROOT / "benchmarks" / "results" / "teacher_label_efficiency.json"
    if not path.is_file():
        return (
            "Not measured yet: run `python training/experiments/teacher_label_efficiency.py`, "
            "then `python scripts/update_readme.py`."
        )
    report = json.loads(path.read_text())
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
    rows.append("")
    rows.append(
        f"Budget: baseline {steps['baseline']} steps, ACTIS {steps['actis']} further steps, IM "
        f"{report['generations']} generation(s) of {report['students_per_generation']} students "
        f"× {steps['student']} steps, unlabeled pool capped at {report['max_unlabeled']} images; "
        f"device {report['device']} ({report['cpu_threads']} threads); commit "
        f"{report['git_commit'][:7]}."
    )
    return "\n".join(rows)


def main() -> int:
    text = README.read_text()
    text = _section(text, "default-model-metrics", metrics_table())
    text = _section(text, "predict-speed", speed_table())
    text = _section(text, "teacher-label-efficiency", label_efficiency_table())
    README.write_text(text)
    print(f"updated {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
