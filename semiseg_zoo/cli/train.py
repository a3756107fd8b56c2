"""``semiseg-train``: train a network on your own folders and export a validated bioimage.io
package.

    semiseg-train teacher --images imgs/ --labels masks/ [--unlabeled more/] -o model.zip
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .errors import fail
from .training_options import add_schedule_arguments

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


class UsageError(ValueError):
    """Arguments that do not fit together."""


def _check_usage(args: argparse.Namespace) -> None:
    if args.steps is not None and args.time_budget is not None:
        raise UsageError("give --steps or --time-budget, not both")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps must be at least 1, got {args.steps}")
    if args.time_budget is not None and args.time_budget <= 0:
        raise UsageError(f"--time-budget must be positive minutes, got {args.time_budget}")
    if args.checkpoint_every <= 0:
        raise UsageError(f"--checkpoint-every must be positive, got {args.checkpoint_every}")
    if args.spec is None and (args.images is None or args.labels is None):
        raise UsageError("give --images and --labels (or --spec with its data folders)")
    if args.write_spec is None and args.output is None:
        raise UsageError("give -o/--output, the package zip to write (or --write-spec)")
    if args.output is not None and args.output.suffix != ".zip":
        raise UsageError(f"-o/--output must end in .zip, got {args.output}")
    if args.output is not None and args.output.exists() and not args.overwrite:
        raise FileExistsError(f"{args.output} exists; pass --overwrite to replace it")
    if not 0 < getattr(args, "val_fraction", 0.5) < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {args.val_fraction}")


def main(argv: list[str] | None = None) -> int:
    """Run the command; returns the exit code (0 ok, 2 bad input, 130 stopped by a signal)."""
    args = build_parser().parse_args(argv)
    try:
        _check_usage(args)
    except (UsageError, FileExistsError) as error:
        return fail(PROGRAM, error, verbose=args.verbose)
    from semiseg_zoo.export import PackageTestError
    from semiseg_zoo.spec import SpecError
    from semiseg_zoo.training.folders import TrainingDataError

    command = [PROGRAM, *(sys.argv[1:] if argv is None else argv)]
    train = {"teacher": _train_teacher, "embedding": _train_embedding,
             "affinity": _train_affinity, "enhancer": _train_enhancer}[args.kind]  # fmt: skip
    try:
        return train(args, command)
    except KeyboardInterrupt as stop:  # also TrainingInterrupted, after its checkpoint
        message = str(stop) or "interrupted; rerun the same command with --resume to continue"
        print(f"{PROGRAM}: {message}", file=sys.stderr)
        return 130
    except (UsageError, TrainingDataError, SpecError, FileExistsError, FileNotFoundError) as error:
        return fail(PROGRAM, error, verbose=args.verbose)
    except PackageTestError as error:
        return fail(PROGRAM, f"the trained package failed validation: {error}", code=1,
                    verbose=args.verbose)  # fmt: skip


def _model_name(args: argparse.Namespace) -> str:
    """``--name``, or a valid name made from the output file's stem."""
    if args.name is not None:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{4,}", args.name):
            raise UsageError(
                f"--name {args.name!r}: use at least 5 lowercase letters, digits, - or _, "
                "starting with a letter or digit"
            )
        return args.name
    stem = args.output.stem.lower() if args.output else "my-teacher"
    name = re.sub(r"[^a-z0-9_-]+", "-", stem).strip("-_") or "model"
    return name if len(name) >= 5 else f"{name}-model"


def _log(line: str) -> None:
    print(line, flush=True)


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train_teacher(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → data and spec → resumable training → tuned, exported package."""
    from semiseg_zoo.spec import TeacherSpec, data_root, load_spec
    from semiseg_zoo.training.budget import seconds_per_step, steps_for_budget
    from semiseg_zoo.training.run_files import compute_from_args
    from semiseg_zoo.training.teacher import (
        TeacherSchedule,
        build_net,
        load_teacher_data,
        run_teacher_job,
    )
    from semiseg_zoo.training.teacher.user_data import (
        DEFAULT_ACTIS_STEPS,
        DEFAULT_STEPS,
        TeacherFolders,
        default_teacher_spec,
        load_teacher_folders,
        smallest_side,
    )

    method = args.method or ("actis" if args.unlabeled else "supervised")
    if method != "supervised" and args.unlabeled is None and args.spec is None:
        raise UsageError(f"--method {method} learns from images without labels: give --unlabeled")
    name = _model_name(args)
    folders = None
    if args.images is not None:
        folders = TeacherFolders(
            args.images, args.labels, args.unlabeled, args.val_images, args.val_labels,
            args.val_fraction,
        )  # fmt: skip
    if args.spec is not None:
        spec = load_spec(args.spec)
        if not isinstance(spec, TeacherSpec):
            raise UsageError(f"{args.spec} is a {spec.kind} spec; `semiseg-train teacher` needs a "
                             "teacher spec")  # fmt: skip
    log = _log_to_stderr if args.write_spec == "-" else _log
    if folders is not None:
        log(f"checking {folders.images} and {folders.labels}")
        data, channels = load_teacher_folders(folders, args.seed)
        if args.spec is None:
            patch = 128 if smallest_side(data) >= 128 else 64
            spec = default_teacher_spec(
                name, channels=channels, method=method, folders=folders,
                steps=args.steps or DEFAULT_STEPS, actis_steps=args.steps or DEFAULT_ACTIS_STEPS,
                patch=patch, seed=args.seed,
            )  # fmt: skip
    else:
        data = load_teacher_data(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return _write_spec(spec, args.write_spec)
    _log(f"{data.describe()}")
    _log(
        f"method {spec.training.mode}: "
        + {
            "supervised": "every labeled image is fully annotated, so the network learns from "
            "its labels alone (weighted cross-entropy)",
            "actis": "ACTIS: a supervised baseline first, then a mean teacher turns the "
            "unlabeled images into confident pseudo-labels for the student",
            "inconsistency": "Inconsistency Masks: an ensemble of baselines labels the "
            "unlabeled images and masks out where its members disagree",
        }[spec.training.mode]
    )
    compute = compute_from_args(args)
    steps, actis_steps = args.steps, args.steps
    if args.time_budget is not None:
        net, _ = build_net(spec)
        batch = [spec.training.batch_size, spec.input.channels, *spec.training.patch_shape]
        per_step = seconds_per_step(net, batch, compute)
        costs = [per_step]
        if spec.training.mode == "actis":
            # The ACTIS step: the teacher's 8 TTA forward passes of the unlabeled batch (a
            # forward pass is about a third of a training step) and the student's step.
            actis = spec.training.actis
            share = (actis.labeled_per_batch + actis.unlabeled_per_batch * (1 + 8 / 3)) / (
                spec.training.batch_size
            )
            costs.append(per_step * share)
        if spec.training.mode == "inconsistency":
            params = spec.training.inconsistency
            stages = params.ensemble_size + params.generations * params.students_per_generation
            costs = [per_step] * stages
        steps = actis_steps = steps_for_budget(args.time_budget * 60, costs)
        _log(f"time budget {args.time_budget:g} min: {per_step:.3f} s per step measured here, "
             f"so {steps} steps per stage")  # fmt: skip
    output = args.output
    run_dir = args.run_dir or output.with_name(output.stem + ".run")
    run_teacher_job(
        spec, data, run_dir=run_dir, output=output,
        schedule=TeacherSchedule(compute, steps=steps, actis_steps=actis_steps,
                                 workers=args.workers),
        resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60,
        overwrite=args.overwrite, command=command,
        progress=not args.no_progress, log=_log,
    )  # fmt: skip
    _log(f"{PROGRAM}: wrote {output}; run `semiseg-predict images/ -o out/ --model {output}`")
    return 0


def _write_spec(spec, where: str) -> int:
    """``--write-spec``: print the spec, or write it to ``where``."""
    import yaml

    # None is a value here (e.g. `annotated_fraction: null`), not an absent field.
    text = yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False)
    if where == "-":
        print(text, end="")
    else:
        Path(where).write_text(text)
        _log(f"wrote {where}; edit it and train with --spec {where}")
    return 0


def _train_embedding(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → SPOCO training → the best clustering on validation → package."""
    from semiseg_zoo.spec import EmbeddingSpec, EmbeddingTrainingSpec, data_root, load_spec
    from semiseg_zoo.training.budget import seconds_per_step, steps_for_budget
    from semiseg_zoo.training.embedding_job import EmbeddingJob, run_embedding_job
    from semiseg_zoo.training.embedding_steps import build_net, load_split
    from semiseg_zoo.training.embedding_user_data import (
        DEFAULT_STEPS,
        EmbeddingFolders,
        default_embedding_spec,
        load_embedding_folders,
    )
    from semiseg_zoo.training.run_files import compute_from_args

    name = _model_name(args)
    log = _log_to_stderr if args.write_spec == "-" else _log
    if args.spec is not None:
        spec = load_spec(args.spec)
        if not isinstance(spec, EmbeddingSpec):
            raise UsageError(f"{args.spec} is a {spec.kind} spec; `semiseg-train embedding` "
                             "needs an embedding spec")  # fmt: skip
    if args.images is not None:
        folders = EmbeddingFolders(
            args.images, args.labels, args.sparse, args.val_images, args.val_labels,
            args.val_fraction,
        )  # fmt: skip
        log(f"checking {folders.images} and {folders.labels}")
        train_items, val_items, channels = load_embedding_folders(folders, args.seed)
        if args.spec is None:
            smallest = min(min(item.image.shape[1:]) for item in train_items)
            spec = default_embedding_spec(
                name, channels=channels, folders=folders, n_train=len(train_items),
                n_val=len(val_items), steps=args.steps or DEFAULT_STEPS,
                patch=192 if smallest >= 192 else 128 if smallest >= 128 else 64, seed=args.seed,
            )  # fmt: skip
    else:
        train_items, val_items = load_split(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return _write_spec(spec, args.write_spec)
    sparse = spec.training.train.sparse or spec.training.object_fraction is not None
    _log(
        "labels cover only some objects: SPOCO's positive-unlabeled loss (pull/push and the "
        "single-object Dice on the annotated objects, the unlabeled push term and embedding "
        "consistency with the momentum network elsewhere); unannotated pixels are never taken "
        "as background"
        if sparse
        else "every object is labeled: SPOCO's discriminative loss (pull, push, single-object "
        "Dice, background as one instance) and embedding consistency with the momentum network"
    )
    compute = compute_from_args(args)
    steps = args.steps
    if args.time_budget is not None:
        training = spec.training
        batch = [training.batch_size, spec.input.channels, *training.patch_shape]
        # The momentum network's forward pass and the loss add about 40 % to a plain step.
        per_step = 1.4 * seconds_per_step(build_net(spec), batch, compute)
        steps = steps_for_budget(args.time_budget * 60, [per_step])
        _log(f"time budget {args.time_budget:g} min: about {per_step:.3f} s per step here, so "
             f"{steps} steps")  # fmt: skip
    if steps is not None:
        training = EmbeddingTrainingSpec.model_validate(
            {**spec.training.model_dump(), "steps": steps}
        )
        spec = spec.model_copy(update={"training": training})
    output = args.output
    job = EmbeddingJob(
        args.run_dir or output.with_name(output.stem + ".run"), output, compute,
        resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60,
        overwrite=args.overwrite, workers=args.workers,
        log_every=max(1, min(250, spec.training.steps // 10)), command=command,
        progress=not args.no_progress,
    )  # fmt: skip
    run_embedding_job(spec, train_items, val_items, job, log=_log)
    _log(f"{PROGRAM}: wrote {output}; run `semiseg-predict images/ -o out/ --model {output}`")
    return 0


def _train_affinity(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → CRAC training → the best net and recipe on validation → package."""
    from semiseg_zoo.spec import AffinitySpec, AffinityTrainingSpec, data_root, load_spec
    from semiseg_zoo.training.affinity_job import AffinityJob, run_affinity_job
    from semiseg_zoo.training.affinity_steps import implicit_net, load_split
    from semiseg_zoo.training.affinity_user_data import (
        DEFAULT_STEPS,
        AffinityFolders,
        default_affinity_spec,
        load_affinity_folders,
    )
    from semiseg_zoo.training.budget import seconds_per_step, steps_for_budget
    from semiseg_zoo.training.run_files import compute_from_args

    name = _model_name(args)
    log = _log_to_stderr if args.write_spec == "-" else _log
    if args.spec is not None:
        spec = load_spec(args.spec)
        if not isinstance(spec, AffinitySpec):
            raise UsageError(f"{args.spec} is a {spec.kind} spec; `semiseg-train affinity` "
                             "needs an affinity spec")  # fmt: skip
    if args.images is not None:
        folders = AffinityFolders(
            args.images, args.labels, args.val_images, args.val_labels, args.dense,
            args.val_fraction,
        )  # fmt: skip
        log(f"checking {folders.images} and {folders.labels}")
        split, ndim, channels = load_affinity_folders(folders, args.seed)
        if args.spec is None:
            spec = default_affinity_spec(
                name, ndim=ndim, channels=channels, folders=folders, split=split,
                steps=args.steps or DEFAULT_STEPS[ndim], seed=args.seed,
            )  # fmt: skip
    else:
        split = load_split(spec, args.data_root or data_root())
    if args.write_spec is not None:
        return _write_spec(spec, args.write_spec)
    _log(
        "labels cover only some objects: CRAC (an implicit affinity network and an explicit "
        "one, the cosine of pixel embeddings, supervised on the annotated pairs and "
        "cross-supervised on each other's confident affinities elsewhere)"
        if split.sparse or spec.training.annotated_fraction is not None
        else "every object is labeled: CRAC's two networks, supervised on every pair"
    )
    compute = compute_from_args(args)
    steps = args.steps
    if args.time_budget is not None:
        training = spec.training
        batch = [training.batch_size, spec.input.channels, *training.patch_shape]
        # Two networks of about the same size train side by side.
        per_step = 2.0 * seconds_per_step(implicit_net(spec), batch, compute)
        steps = steps_for_budget(args.time_budget * 60, [per_step])
        _log(f"time budget {args.time_budget:g} min: about {per_step:.3f} s per step here, so "
             f"{steps} steps")  # fmt: skip
    if steps is not None:
        training = AffinityTrainingSpec.model_validate(
            {**spec.training.model_dump(), "steps": steps}
        )
        spec = spec.model_copy(update={"training": training})
    output = args.output
    job = AffinityJob(
        args.run_dir or output.with_name(output.stem + ".run"), output, compute,
        resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60,
        overwrite=args.overwrite, workers=args.workers,
        log_every=max(1, min(250, spec.training.steps // 10)), command=command,
        progress=not args.no_progress,
    )  # fmt: skip
    run_affinity_job(spec, split, job, log=_log)
    _log(f"{PROGRAM}: wrote {output}; run `semiseg-predict images/ -o out/ --model {output}`")
    return 0


def _train_enhancer(args: argparse.Namespace, command: list[str]) -> int:
    """Folders (or a spec) → forests → enhancer → tuned threshold → package."""
    from semiseg_zoo.nets import ARCHITECTURES
    from semiseg_zoo.spec import EnhancerSpec, data_root, load_spec
    from semiseg_zoo.training.budget import seconds_per_step, steps_for_budget
    from semiseg_zoo.training.enhancer_data import load_source_images
    from semiseg_zoo.training.enhancer_job import EnhancerJob, run_enhancer_job
    from semiseg_zoo.training.enhancer_user_data import (
        DEFAULT_FORESTS,
        DEFAULT_STEPS,
        default_enhancer_spec,
    )
    from semiseg_zoo.training.run_files import compute_from_args

    if args.forests is not None and args.forests < 1:
        raise UsageError(f"--forests must be at least 1, got {args.forests}")
    name = _model_name(args)
    log = _log_to_stderr if args.write_spec == "-" else _log
    if args.spec is not None:
        spec = load_spec(args.spec)
        if not isinstance(spec, EnhancerSpec):
            raise UsageError(f"{args.spec} is a {spec.kind} spec; `semiseg-train enhancer` "
                             "needs an enhancer spec")  # fmt: skip
    if args.images is not None:
        log(f"checking {args.images} and {args.labels}")
        if args.spec is None:
            from semiseg_zoo.spec import SourceData

            source = SourceData(raw=str(args.images), labels=str(args.labels),
                                boundaries_of_instances=args.target == "boundaries")  # fmt: skip
            images = load_source_images(source, Path("/"))
            try:
                spec = default_enhancer_spec(
                    name, images=args.images, labels=args.labels, target=args.target,
                    n_images=len(images), steps=args.steps or DEFAULT_STEPS,
                    n_forests=args.forests or DEFAULT_FORESTS, seed=args.seed,
                )  # fmt: skip
            except ValueError as error:
                raise UsageError(str(error)) from None
        else:
            source = spec.training.source.model_copy(
                update={"raw": str(args.images), "labels": str(args.labels)}
            )
            images = load_source_images(source, Path("/"))
    else:
        images = load_source_images(spec.training.source, args.data_root or data_root())
    if args.write_spec is not None:
        return _write_spec(spec, args.write_spec)
    if len(images) <= spec.training.val_images:
        raise UsageError(
            f"{len(images)} source images but `val_images` is {spec.training.val_images}; "
            "give more images"
        )
    _log(
        f"shallow2deep: {args.forests or spec.training.n_forests} Random Forests on random "
        "patches of the training images (their maps cached in the run folder), then the "
        "enhancer learns the ground truth from the maps"
    )
    compute = compute_from_args(args)
    steps = args.steps
    if args.time_budget is not None:
        training = spec.training
        net = ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs)
        batch = [training.batch_size, 1, *training.patch_shape]
        per_step = seconds_per_step(net, batch, compute)
        # The forests come first: 23 forests on 256²-520² DSB images took 7 s here, so about
        # 0.5 s per forest on images of that size is kept for them.
        forest_s = 0.5 * ((args.forests or training.n_forests) + training.val_forests)
        steps = steps_for_budget(max(60.0, args.time_budget * 60 - forest_s), [per_step])
        _log(f"time budget {args.time_budget:g} min: {per_step:.3f} s per step here, so "
             f"{steps} steps after the forests")  # fmt: skip
    output = args.output
    job = EnhancerJob(
        args.run_dir or output.with_name(output.stem + ".run"), output, compute,
        resume=args.resume, checkpoint_every_s=args.checkpoint_every * 60,
        overwrite=args.overwrite, steps=steps, n_forests=args.forests, command=command,
        progress=not args.no_progress,
    )  # fmt: skip
    run_enhancer_job(spec, images, job, log=_log)
    _log(f"{PROGRAM}: wrote {output}; use it with `semiseg-enhance image.tif --scribbles "
         f"strokes.tif --model {output} -o out/`")  # fmt: skip
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
