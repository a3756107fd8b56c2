"""``semiseg-evaluate``: score predicted label images against ground-truth label images."""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import fail

USAGE_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, OSError)
# semiseg-predict writes <stem>_instances.<ext> (and <stem>_probabilities.<ext> on request).
INSTANCES_SUFFIX = "_instances"
PROBABILITIES_SUFFIX = "_probabilities"
_MULTI_SUFFIXES = (".ome.tif", ".ome.tiff", ".ome.zarr")
_CONTAINER_SUFFIXES = (".h5", ".hdf5", ".zarr")
_LIST_LIMIT = 10

# Kept in step with semiseg_zoo.evaluation.METRIC_GROUPS (a test checks it); importing that
# package here would load elf and scipy and slow down --help.
METRICS_HELP = """\
metrics (per image, then averaged over images):
  instance  ap50      TP / (TP + FP) at IoU 0.5 (ACTIS' AP)
            ap_10_90  that AP averaged over IoU 0.1, 0.2, ..., 0.9 (ACTIS)
            f1        2TP / (2TP + FP + FN) at IoU 0.5
            s_dsb     TP / (TP + FP + FN) at IoU 0.5
            dsb_map   TP / (TP + FP + FN) averaged over IoU 0.50, 0.55, ..., 0.95 (DSB 2018)
  cvppp     sbd       symmetric best Dice
            abs_dic   |number of predicted objects - number of true objects|
  em        vi_split  H(pred | gt) in bits: over-segmentation
            vi_merge  H(gt | pred) in bits: under-segmentation
            are       adapted Rand error
VI and ARE ignore pixels where the ground truth is background (0)."""


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults and keep the metric table's line breaks."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    parser = argparse.ArgumentParser(
        prog="semiseg-evaluate",
        description=(
            "Score predicted instance label images against ground-truth label images:\n"
            "a table with one row per image and the mean over images."
        ),
        epilog=METRICS_HELP,
        formatter_class=_HelpFormatter,
    )
    group = parser.add_argument_group("Input")
    group.add_argument(
        "prediction",
        metavar="PRED",
        help=(
            f"predicted label image, or a folder of them; '<stem>{INSTANCES_SUFFIX}.tif' matches "
            f"ground truth '<stem>.tif', and '*{PROBABILITIES_SUFFIX}' files are skipped"
        ),
    )
    group.add_argument(
        "groundtruth", metavar="GT", help="ground-truth label image, or a folder of them"
    )
    group.add_argument("--key", help="dataset inside h5/zarr files (or use path.h5:key)")
    group = parser.add_argument_group("Metrics")
    group.add_argument(
        "--metrics",
        nargs="+",
        default=["all"],
        metavar="NAME",
        help="metric groups (instance, cvppp, em), single metrics, or all",
    )
    group = parser.add_argument_group("Output")
    group.add_argument("--json", type=Path, metavar="FILE", help="also write the scores as JSON")
    group.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    group.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    return parser


@dataclass(frozen=True)
class Pair:
    """A prediction and its ground truth, as paths (optionally with ``:key``)."""

    name: str
    prediction: str
    groundtruth: str


def image_stem(path: Path) -> str:
    """The name that pairs images: no extension, no trailing ``_instances``."""
    name = path.name
    for suffix in _MULTI_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    else:
        name = Path(name).stem
    return name.removesuffix(INSTANCES_SUFFIX)


def pair_inputs(prediction: str, groundtruth: str) -> list[Pair]:
    """Pair two files, or the images of two folders by :func:`image_stem`."""
    from semiseg_zoo.io import split_key

    pred_file, gt_file = split_key(prediction)[0], split_key(groundtruth)[0]
    for role, file in (("PRED", pred_file), ("GT", gt_file)):
        if not file.exists():
            raise FileNotFoundError(f"{role} {file} does not exist")
    pred_is_folder, gt_is_folder = _is_folder(pred_file), _is_folder(gt_file)
    if pred_is_folder != gt_is_folder:
        kinds = {True: "a folder", False: "a file"}
        raise ValueError(
            f"PRED {pred_file} is {kinds[pred_is_folder]} but GT {gt_file} is "
            f"{kinds[gt_is_folder]}; give two files or two folders"
        )
    if not pred_is_folder:
        return [Pair(image_stem(pred_file), prediction, groundtruth)]
    predictions = _images_by_stem(pred_file, skip_probabilities=True)
    truths = _images_by_stem(gt_file, skip_probabilities=False)
    only_pred = sorted(set(predictions) - set(truths))
    only_gt = sorted(set(truths) - set(predictions))
    if only_pred or only_gt:
        parts = []
        if only_pred:
            names = _listing([predictions[s].name for s in only_pred])
            parts.append(f"predictions without ground truth in {gt_file}: {names}")
        if only_gt:
            names = _listing([truths[s].name for s in only_gt])
            parts.append(f"ground truth without prediction in {pred_file}: {names}")
        raise ValueError(f"unmatched images ({'; '.join(parts)}); every stem must be in both")
    return [Pair(s, str(predictions[s]), str(truths[s])) for s in sorted(predictions)]


def _is_folder(path: Path) -> bool:
    from semiseg_zoo.io import is_supported

    return path.is_dir() and not is_supported(path)  # a zarr store is an image


def _images_by_stem(folder: Path, *, skip_probabilities: bool) -> dict[str, Path]:
    from semiseg_zoo.io import is_supported

    images: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not is_supported(path):
            continue  # hidden names include the temporary files of atomic writes
        stem = image_stem(path)
        if skip_probabilities and stem.endswith(PROBABILITIES_SUFFIX):
            continue
        if stem in images:
            raise ValueError(
                f"{folder} has two images with stem {stem!r}: {images[stem].name} and "
                f"{path.name}; keep one"
            )
        images[stem] = path
    if not images:
        raise FileNotFoundError(f"no label images in {folder}")
    return images


def _listing(names: Sequence[str]) -> str:
    more = f" and {len(names) - _LIST_LIMIT} more" if len(names) > _LIST_LIMIT else ""
    return ", ".join(names[:_LIST_LIMIT]) + more


def read_labels(path: str, key: str | None) -> Any:
    """Read a label image; ``key`` is used for h5/zarr files only."""
    from semiseg_zoo.io import ImageReadError, read_image, split_key

    file = split_key(path)[0]
    image = read_image(
        path,
        key=key if file.suffix.lower() in _CONTAINER_SUFFIXES else None,
        palette_indices=True,
    )
    if set(image.axes) - set("zyx"):
        raise ImageReadError(
            image.path,
            f"it has axes {image.axes!r} (shape {image.data.shape}) but a label image has "
            "only spatial axes (z, y, x)",
            "Save the labels as a single-channel image",
        )
    return image.data


def format_table(
    names: Sequence[str], rows: Sequence[dict[str, float]], mean: dict[str, float]
) -> str:
    """One line per image and a final mean line, columns aligned."""
    metrics = list(mean)
    width = max(len("image"), len("mean"), *(len(n) for n in names))
    columns = [max(len(m), 7) for m in metrics]

    def line(label: str, values: Sequence[str]) -> str:
        cells = [v.rjust(w) for v, w in zip(values, columns, strict=True)]
        return "  ".join([label.ljust(width), *cells]).rstrip()

    lines = [line("image", metrics)]
    lines += [
        line(n, [f"{row[m]:.4f}" for m in metrics]) for n, row in zip(names, rows, strict=True)
    ]
    lines.append("-" * len(lines[0]))
    lines.append(line("mean", [f"{mean[m]:.4f}" for m in metrics]))
    return "\n".join(lines)


def write_json(path: Path, content: dict[str, Any], *, overwrite: bool) -> None:
    """Write ``content`` to ``path`` through a temporary file and a rename."""
    if path.exists() and not overwrite:
        raise FileExistsError(f"--json {path} exists; use --overwrite to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        temporary.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 1 an image cannot be scored, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        if args.json is not None and args.json.is_dir():
            raise FileExistsError(f"--json {args.json} is a folder; give a file name")
        if args.json is not None and args.json.exists() and not args.overwrite:
            raise FileExistsError(f"--json {args.json} exists; use --overwrite to replace it")
        pairs = pair_inputs(args.prediction, args.groundtruth)
        from semiseg_zoo.evaluation import resolve_metrics

        metrics = resolve_metrics(args.metrics)
    except USAGE_ERRORS as error:
        return fail("semiseg-evaluate", str(error), code=2, verbose=args.verbose)

    from semiseg_zoo.evaluation import evaluate_pair, mean_scores
    from semiseg_zoo.io import ImageReadError

    rows = []
    for pair in pairs:
        try:
            prediction = read_labels(pair.prediction, args.key)
            groundtruth = read_labels(pair.groundtruth, args.key)
        except (ImageReadError, OSError) as error:
            return fail("semiseg-evaluate", str(error), code=1, verbose=args.verbose)
        try:
            rows.append(evaluate_pair(prediction, groundtruth, metrics=metrics))
        except (TypeError, ValueError) as error:
            message = f"{pair.prediction} vs {pair.groundtruth}: {error}"
            return fail("semiseg-evaluate", message, code=1, verbose=args.verbose)
    mean = mean_scores(rows)
    print(format_table([p.name for p in pairs], rows, mean))
    if args.json is not None:
        content = {
            "metrics": list(metrics),
            "n_images": len(rows),
            "images": [
                {"name": p.name, "prediction": p.prediction, "groundtruth": p.groundtruth, **row}
                for p, row in zip(pairs, rows, strict=True)
            ],
            "mean": mean,
        }
        try:
            write_json(args.json, content, overwrite=args.overwrite)
        except OSError as error:
            return fail("semiseg-evaluate", str(error), code=1, verbose=args.verbose)
        print(f"scores of {len(rows)} image(s) -> {args.json}")
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
