"""``semiseg-enhance``: shallow2deep on one image, from brush strokes or a forest's output."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .errors import fail
from .predict import EXPECTED_ERRORS, _output_name


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    parser = argparse.ArgumentParser(
        prog="semiseg-enhance",
        description=(
            "Train a Random Forest on a few brush strokes (or take a forest's probability map, "
            "e.g. exported from ilastik), improve it with a shallow2deep enhancer package, and "
            "write the forest's and the enhanced probabilities and the instances."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("raw", type=Path, help="the image (2D, or a 3D stack done per slice)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--scribbles",
        type=Path,
        help="label image of brush strokes: 0 unlabeled, 1 background, 2 foreground/boundary",
    )
    source.add_argument(
        "--rf-probabilities", type=Path, help="a Random Forest probability map instead"
    )
    parser.add_argument(
        "--rf-channel", type=int, help="channel of the enhancer's class in --rf-probabilities"
    )
    parser.add_argument(
        "--model", required=True, help="enhancer: built-in name, package .zip, folder or rdf.yaml"
    )
    parser.add_argument("--trees", type=int, default=100, help="trees of the Random Forest")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Random Forest")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input)."""
    args = build_parser().parse_args(argv)
    try:
        from semiseg_zoo.enhance import enhance
        from semiseg_zoo.io import read_image, write_tif

        if args.output.exists() and not args.output.is_dir():
            raise FileExistsError(f"--output {args.output} exists and is not a folder")
        outputs = {
            name: args.output / _output_name(args.raw, name, "tif")
            for name in ("rf_probabilities", "enhanced", "instances")
        }
        existing = [str(p) for p in outputs.values() if p.exists()]
        if existing and not args.overwrite:
            raise FileExistsError(f"{', '.join(existing)} exist; use --overwrite to replace them")
        image = read_image(args.raw)
        data = image.data
        if "c" in image.axes:
            raise ValueError(
                f"{args.raw} has a channel axis (axes {image.axes}); give a single-channel image"
            )
        scribbles = rf = None
        if args.scribbles is not None:
            scribbles = read_image(args.scribbles).data
            if scribbles.shape != data.shape:
                raise ValueError(
                    f"{args.scribbles} has shape {scribbles.shape} but {args.raw} has "
                    f"{data.shape}; draw the scribbles on the same image"
                )
        else:
            rf = read_image(args.rf_probabilities).data
        result = enhance(
            data,
            args.model,
            scribbles=scribbles,
            rf_probabilities=rf,
            rf_channel=args.rf_channel,
            n_trees=args.trees,
            seed=args.seed,
            device=args.device,
        )
    except EXPECTED_ERRORS as error:
        return fail("semiseg-enhance", error, verbose=args.verbose)
    args.output.mkdir(parents=True, exist_ok=True)
    spatial = image.axes
    write_tif(outputs["rf_probabilities"], result.rf_probabilities, axes=spatial,
              voxel_size=image.voxel_size, overwrite=args.overwrite)  # fmt: skip
    write_tif(outputs["enhanced"], result.probabilities, axes=spatial,
              voxel_size=image.voxel_size, overwrite=args.overwrite)  # fmt: skip
    labels = result.labels
    count = int(labels.max())
    write_tif(outputs["instances"], labels.astype("uint16" if count < 2**16 else "uint32"),
              axes=spatial, voxel_size=image.voxel_size, overwrite=args.overwrite)  # fmt: skip
    print(f"{args.raw}: {count} objects -> {outputs['instances']}")
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
