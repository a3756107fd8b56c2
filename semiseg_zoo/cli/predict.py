"""``semiseg-predict``: segment images with a model package (default: the embedded nuclei model)."""

from __future__ import annotations

import argparse
import glob
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import fail

EXPECTED_ERRORS = (ValueError, TypeError, FileNotFoundError, FileExistsError, OSError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    parser = argparse.ArgumentParser(
        prog="semiseg-predict",
        description="Segment microscopy images into instances with a bioimage.io model package.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = parser.add_argument_group("Input")
    group.add_argument("inputs", nargs="*", help="image files, folders or glob patterns")
    group.add_argument("--key", help="dataset inside h5/zarr inputs (or use path.h5:key)")
    group = parser.add_argument_group("Model")
    group.add_argument(
        "--model",
        help="built-in model name, package .zip, folder or rdf.yaml, or a bioimage.io id "
        "(affable-shark), DOI or URL, downloaded once into the cache (default: the embedded "
        "nuclei model)",
    )
    group.add_argument(
        "--offline",
        action="store_true",
        help="use only cached zoo packages (also: SEMISEG_OFFLINE=1)",
    )
    group.add_argument("--list-models", action="store_true", help="list built-in models and exit")
    group.add_argument(
        "--weight-format",
        default="auto",
        choices=["auto", "onnx", "torchscript", "pytorch_state_dict"],
        help="auto prefers onnx, then torchscript",
    )
    group.add_argument(
        "--trust-code",
        action="store_true",
        help="allow pytorch_state_dict weights of foreign packages (runs the package's Python)",
    )
    group.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    group = parser.add_argument_group("Tiling")
    group.add_argument(
        "--tile", type=int, nargs="+", metavar="N", help="spatial tile shape (default: the model's)"
    )
    group.add_argument("--no-tiling", action="store_true", help="predict each image in one pass")
    group.add_argument("--tta", action="store_true", help="average over 8 flips/90° rotations")
    group = parser.add_argument_group(
        "Large volumes",
        "Inputs larger than --blockwise-above (zarr, OME-Zarr, h5, tif) are read block by block "
        "and written as zarr, with memory bounded by the block, on a dask cluster.",
    )
    mode = group.add_mutually_exclusive_group()
    mode.add_argument("--blockwise", action="store_true", help="always process block by block")
    mode.add_argument(
        "--in-memory", action="store_true", help="never process block by block (needs the RAM)"
    )
    group.add_argument(
        "--blockwise-above",
        type=float,
        default=1.0,
        metavar="GB",
        help="inputs larger than this are processed block by block",
    )
    group.add_argument(
        "--block-shape", type=int, nargs="+", metavar="N", help="spatial block shape"
    )
    group.add_argument(
        "--halo",
        type=int,
        nargs="+",
        metavar="N",
        help="context segmented around each block (default: from the recipe, at least 16)",
    )
    group.add_argument(
        "--scheduler",
        default="local",
        help="'local' (a dask cluster on this machine), 'synchronous' (this process) or the "
        "address of a running dask scheduler (tcp://HOST:PORT)",
    )
    group.add_argument(
        "--workers",
        type=int,
        help="worker processes of the local cluster (default: one per core)",
    )
    group = parser.add_argument_group("Output")
    group.add_argument("-o", "--output", type=Path, help="output folder")
    group.add_argument("--format", default="tif", choices=["tif", "zarr"], help="output format")
    group.add_argument(
        "--save-probabilities", action="store_true", help="also write <stem>_probabilities"
    )
    group.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    group.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    return parser


@dataclass
class BatchReport:
    """What happened to a batch of images."""

    images: int = 0
    objects: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files, folders (their supported images) and glob patterns → sorted unique paths."""
    from semiseg_zoo.io import is_supported, split_key

    paths: list[Path] = []
    for pattern in patterns:
        file_part, _ = split_key(pattern)
        if file_part.is_dir() and not is_supported(file_part):
            paths += sorted(p for p in file_part.iterdir() if is_supported(p))
        elif any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(pattern))
            if not matches:
                raise FileNotFoundError(f"no files match {pattern!r}")
            paths += [p for p in matches if is_supported(p)]
        else:
            paths.append(Path(pattern))
    unique = list(dict.fromkeys(paths))
    return unique


def _output_name(path: Path, suffix: str, fmt: str) -> str:
    from semiseg_zoo.io import split_key

    file_part, _ = split_key(str(path))
    stem = file_part.name
    for ext in (".ome.tif", ".ome.tiff", ".ome.zarr"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    else:
        stem = Path(stem).stem
    return f"{stem}_{suffix}.{fmt}"


def _write(path: Path, array: Any, fmt: str, voxel_size: Any, axes: str, overwrite: bool) -> None:
    from semiseg_zoo.io import write_tif, write_zarr

    if fmt == "tif":
        write_tif(path, array, voxel_size=voxel_size, axes=axes, overwrite=overwrite)
    else:
        write_zarr(path, array, voxel_size=voxel_size, axes=axes, overwrite=overwrite)


def _segment_one(path: Path, args: argparse.Namespace, model: Any, report: BatchReport) -> str:
    import numpy as np

    from semiseg_zoo.inference import postprocessing_recipe
    from semiseg_zoo.io import read_image
    from semiseg_zoo.postprocess import apply_postprocessing

    large = _is_large(path, args)
    fmt = "zarr" if large else args.format
    out_labels = args.output / _output_name(path, "instances", fmt)
    out_probabilities = args.output / _output_name(path, "probabilities", fmt)
    if out_labels.exists() and not args.overwrite:
        report.skipped.append(str(path))
        return f"{path}: skipped, {out_labels} exists (use --overwrite to replace it)"
    if large:
        return _segment_blockwise(path, args, model, report, out_labels, out_probabilities)
    image = read_image(path, key=args.key)
    tile = None if args.no_tiling else (tuple(args.tile) if args.tile else "auto")
    probabilities = model.predict(image.data, axes=image.axes, tile=tile, tta=args.tta)
    spatial_axes = model.spatial_axes
    recipe, reason = postprocessing_recipe(model.package, model.output_channel_names)
    if args.save_probabilities or recipe is None:
        _write(
            out_probabilities,
            probabilities,
            args.format,
            image.voxel_size,
            "c" + spatial_axes,
            args.overwrite,
        )
    report.images += 1
    if recipe is None:
        return f"{path}: not segmented ({reason}); probabilities -> {out_probabilities}"
    labels = apply_postprocessing(probabilities, recipe)
    count = int(labels.max())
    dtype = np.uint16 if count < 2**16 else np.uint32
    _write(
        out_labels,
        labels.astype(dtype),
        args.format,
        image.voxel_size,
        spatial_axes,
        args.overwrite,
    )
    report.objects += count
    return f"{path}: {count} objects -> {out_labels}"


def _is_large(path: Path, args: argparse.Namespace) -> bool:
    """Whether ``path`` goes the blockwise way (only its header is read to decide)."""
    if args.blockwise or args.in_memory:
        return args.blockwise
    from semiseg_zoo.io import open_volume

    with open_volume(path, key=args.key) as volume:
        return volume.nbytes > args.blockwise_above * 1e9


def _segment_blockwise(
    path: Path,
    args: argparse.Namespace,
    model: Any,
    report: BatchReport,
    out_labels: Path,
    out_probabilities: Path,
) -> str:
    """Predict and segment a large volume block by block into zarr (see semiseg_zoo.blockwise)."""
    from semiseg_zoo.blockwise import predict_blockwise, segment_blockwise
    from semiseg_zoo.inference import postprocessing_recipe

    if args.tta:
        raise ValueError("--tta is not available for blockwise prediction; drop it")
    recipe, reason = postprocessing_recipe(model.package, model.output_channel_names)
    options = {
        "block_shape": args.block_shape,
        "overwrite": args.overwrite,
        "scheduler": args.scheduler,
        "workers": args.workers,
        "progress": True,
    }
    if args.save_probabilities or recipe is None:
        predict_blockwise(model, str(path), out_probabilities, key=args.key, **options)
    report.images += 1
    if recipe is None:
        return f"{path}: not segmented ({reason}); probabilities -> {out_probabilities}"
    if args.save_probabilities:  # segment the stored probabilities: no second prediction
        labels = segment_blockwise(
            str(out_probabilities), out_labels, recipe=recipe, halo=args.halo, **options
        )
    else:
        labels = segment_blockwise(
            model,
            out_labels,
            volume=str(path),
            key=args.key,
            recipe=recipe,
            halo=args.halo,
            **options,
        )
    count = int(labels.attrs["n_objects"])
    report.objects += count
    return f"{path}: {count} objects (blockwise) -> {out_labels}"


def _list_models() -> int:
    from semiseg_zoo.inference import DEFAULT_MODEL, list_builtin_models, load_package

    for name in list_builtin_models():
        package = load_package(name)
        marker = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{marker}: {' '.join(package.description.description.split())}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 1 some images failed, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        if args.list_models:
            return _list_models()
        if not args.inputs or args.output is None:
            print("semiseg-predict: error: give input images and -o/--output", file=sys.stderr)
            return 2
        from semiseg_zoo.blockwise.executor import check_scheduler

        check_scheduler(args.scheduler)
        if args.workers is not None and args.workers < 1:
            raise ValueError(f"--workers must be a positive number, got {args.workers}")
        if args.output.exists() and not args.output.is_dir():
            raise FileExistsError(f"--output {args.output} exists and is not a folder")
        paths = expand_inputs(args.inputs)
        if not paths:
            raise FileNotFoundError(f"no supported images in {args.inputs}")
        from tqdm import tqdm

        from semiseg_zoo.inference import DEFAULT_MODEL, load_model, load_package
        from semiseg_zoo.zoo import zoo_settings

        settings = zoo_settings(offline=True) if args.offline else zoo_settings()
        package = load_package(args.model or DEFAULT_MODEL, zoo=settings)
        model = load_model(
            package,
            weight_format=args.weight_format,
            device=args.device,
            trust_code=args.trust_code,
        )
    except EXPECTED_ERRORS as error:
        return fail("semiseg-predict", error, verbose=args.verbose)

    args.output.mkdir(parents=True, exist_ok=True)
    report, start = BatchReport(), time.perf_counter()
    progress = tqdm(paths, unit="image", disable=len(paths) < 2, file=sys.stderr)
    for path in progress:
        try:
            message = _segment_one(path, args, model, report)
        except EXPECTED_ERRORS as error:
            if args.verbose:
                traceback.print_exc()
            report.failed.append((str(path), str(error)))
            message = f"{path}: FAILED: {error}"
        progress.write(message)
    seconds = time.perf_counter() - start
    print(
        f"{report.images} image(s) segmented, {report.objects} objects, {seconds:.1f} s; "
        f"model {model.package.name} ({model.runner.weight_format}, {model.runner.device}); "
        f"output in {args.output}"
    )
    if report.skipped:
        print(f"{len(report.skipped)} skipped because their output exists (use --overwrite)")
    if report.failed:
        print(f"{len(report.failed)} image(s) failed:", file=sys.stderr)
        for path, error in report.failed:
            print(f"  {path}: {error}", file=sys.stderr)
        return 1
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
