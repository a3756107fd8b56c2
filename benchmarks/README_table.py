"""Print the results of ``benchmarks/predict_speed.py`` as a markdown table (for the README).

Usage::

    .venv/bin/python benchmarks/README_table.py [benchmarks/results/predict_speed.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_INPUT = Path(__file__).resolve().parent / "results" / "predict_speed.json"
METHODS = ("onnxruntime", "bioimageio_core", "semiseg_zoo")


def table(report: dict[str, Any]) -> str:
    lines = [
        "| size | onnxruntime alone (s) | bioimageio.core (s) | semiseg-zoo (s) | c/a | c/b "
        "| peak MB onnxruntime | peak MB bioimageio.core | peak MB semiseg-zoo |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in report["results"]:
        methods = result["methods"]
        seconds = " | ".join(f"{methods[m]['median_s']:.2f}" for m in METHODS)
        peaks = " | ".join(f"{methods[m]['peak_rss_mb']:.0f}" for m in METHODS)
        ratios = result["ratios"]
        size = "×".join(str(s) for s in result["size"])
        lines.append(
            f"| {size} | {seconds} | {ratios['c_over_a']:.2f} | {ratios['c_over_b']:.2f} "
            f"| {peaks} |"
        )
    machine = report["machine"]
    versions = machine["versions"]
    core = report["settings"]["bioimageio_core"]
    commit = report.get("git_commit", "unknown")
    lines += [
        "",
        f"Medians of {report['settings']['repeats']} interleaved runs (after "
        f"{report['settings']['warmup']} warm-up) of model `{report['model']['name']}`, "
        f"tile {'×'.join(map(str, report['model']['default_tile']))}; bioimageio.core with "
        f"`blocksize_parameter={core['blocksize_parameter']}` (block "
        f"{'×'.join(map(str, core['block_shape']))}). Peak MB: `ru_maxrss` of a process that "
        "runs only that method. "
        f"{machine['cpu_model'] or machine['machine']}, {machine['cpus_usable']} CPUs, "
        f"Python {machine['python']}, onnxruntime {versions.get('onnxruntime')}, "
        f"bioimageio.core {versions.get('bioimageio.core')}; {report['date']}, "
        f"commit {commit[:12]}.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("input", nargs="?", type=Path, default=DEFAULT_INPUT)
    args = parser.parse_args(argv)
    try:
        report = json.loads(args.input.read_text())
    except FileNotFoundError:
        print(
            f"{args.input} does not exist; run benchmarks/predict_speed.py first", file=sys.stderr
        )
        return 1
    print(table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
