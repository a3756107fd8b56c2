"""The ``semiseg-train`` argument parser (imports nothing heavy, so ``--help`` is fast)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..training_options import add_schedule_arguments

PROGRAM = "semiseg-train"
KINDS = ("teacher", "embedding", "affinity", "enhancer")


def _input_arguments(parser: argparse.ArgumentParser, labels_help: str) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("Input")
    group.add_argument("--images", type=Path, help="folder of training images")
    group.add_argument("--labels", type=Path, help=labels_help)
    group.add_argument("--val-images", type=Path, help="validation images (default: split off)")
    group.add_argument("--val-labels", type=Path, help="labels of --val-images, every object")
    group.add_argument(
        "--val-fraction", type=float, default=0.15, help="share split off when no --val-images"
    )
    return group


def _spec_arguments(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    group = parser.add_argument_group("Method and spec")
    group.add_argument("--name", help="model name (default: the output file's stem)")
    group.add_argument(
        "--spec", type=Path, help="use this spec (e.g. an edited --write-spec) for the settings"
    )
    group.add_argument(
        "--write-spec",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the spec from defaults (to FILE, or print it) and exit",
    )
    group.add_argument("--seed", type=int, default=0, help="seed of splits, patches and weights")
    return group


def _teacher_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "teacher",
        help="3-class U-Net (background, interior, boundary) + seeded watershed",
        description=(
            "Train a 3-class teacher U-Net on dense instance labels (every object of a labeled "
            "image annotated). With --unlabeled, ACTIS (mean teacher) also learns from images "
            "without labels."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = _input_arguments(
        parser, "folder of label images (0 background, 1..N objects), named like the images"
    )
    group.add_argument("--unlabeled", type=Path, help="folder of images without labels")
    group = _spec_arguments(parser)
    group.add_argument(
        "--method",
        choices=["supervised", "actis", "inconsistency"],
        help="default: actis with --unlabeled, else supervised",
    )
    _common(parser)


def _embedding_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "embedding",
        help="SPOCO pixel embeddings + clustering; labels may annotate only some objects",
        description=(
            "Train a SPOCO pixel-embedding U-Net. With --sparse the label images annotate only "
            "some objects (0 = not annotated); validation then needs images with every object "
            "labeled (--val-images/--val-labels)."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = _input_arguments(
        parser,
        "folder of label images (1..N objects; 0 background, or not annotated with --sparse)",
    )
    group.add_argument(
        "--sparse", action="store_true", help="the labels annotate only some of the objects"
    )
    _spec_arguments(parser)
    _common(parser)


def _affinity_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "affinity",
        help="CRAC affinities + mutex/agglomerated watershed from sparse instances, 2D or 3D",
        description=(
            "Train CRAC affinity networks (implicit + explicit, cross-supervised) on label "
            "images that annotate only some objects (0 = not annotated), 2D images or 3D "
            "volumes. Validation needs images with every object labeled (--val-images/"
            "--val-labels), unless --dense."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = _input_arguments(
        parser, "folder of label images (1..N annotated objects, 0 = not annotated), 2D or 3D"
    )
    group.add_argument(
        "--dense", action="store_true", help="every object of the training labels is annotated"
    )
    _spec_arguments(parser)
    _common(parser)


def _enhancer_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "enhancer",
        help="shallow2deep Prediction Enhancer from densely labeled source images",
        description=(
            "Train a shallow2deep Prediction Enhancer: many Random Forests on random patches of "
            "densely labeled source images, and a U-Net that turns their probability maps into "
            "the ground truth (it never sees raw data). Use it with semiseg-enhance, napari or "
            "ilastik on new data from a few brush strokes."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    group = parser.add_argument_group("Input")
    group.add_argument("--images", type=Path, help="folder of source images (2D)")
    group.add_argument("--labels", type=Path, help="folder of instance labels, named alike")
    group.add_argument(
        "--target",
        choices=["foreground", "boundaries"],
        default="foreground",
        help="the class to enhance: objects (label != 0) or their boundaries",
    )
    group.add_argument(
        "--forests", type=int, help="Random Forests on the training images (default 64)"
    )
    _spec_arguments(parser)
    _common(parser)


def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("Output")
    group.add_argument("-o", "--output", type=Path, help="package zip to write")
    group.add_argument(
        "--run-dir",
        type=Path,
        help="checkpoints and the run record (default: <output>.run next to the package)",
    )
    group.add_argument("--overwrite", action="store_true", help="replace an existing package")
    add_schedule_arguments(parser)
    parser.add_argument(
        "--time-budget",
        type=float,
        metavar="MINUTES",
        help="choose the steps so that training, tuning and export take about this long",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (imports nothing heavy, so ``--help`` is fast)."""
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Train a segmentation network on your own images and export a validated "
        "bioimage.io model package (for semiseg-predict, ilastik, deepImageJ, bioimageio.core).",
    )
    subparsers = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    _teacher_parser(subparsers)
    _embedding_parser(subparsers)
    _affinity_parser(subparsers)
    _enhancer_parser(subparsers)
    return parser
