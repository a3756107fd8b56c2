"""Train a shallow2deep Prediction Enhancer from a model spec and export it as a package.

Many Random Forests are trained on random patches of the densely labeled source data (the spec's
``training.source``); their probability maps (cached under the run folder) are the inputs of a
U-Net that learns to predict the ground truth from them, never seeing raw data. The last
``val_images`` source images get their own forests for validation, threshold tuning and the
numbers recorded in the package.

    python training/train_enhancer.py --spec model_specs/enhancer_mito_em.yaml

With ``--pseudo-label-net`` it trains no enhancer but uses one (``--enhancer``, default this
spec's run output) for shallow2deep domain adaptation (Sec. 2.2): a Random Forest from scribbles
on the target data, improved by the enhancer, gives soft pseudo-labels on which a fresh U-Net of
the enhancer's architecture learns from the raw target images; it is exported as a
``pseudo_label_net`` package.

    python training/train_enhancer.py --spec model_specs/enhancer_mito_em.yaml \
        --pseudo-label-net target_raw.tif --scribbles target_scribbles.tif
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import tifffile

from semiseg_zoo.cli.training_options import add_output_arguments, add_schedule_arguments
from semiseg_zoo.spec import EnhancerSpec, data_root, default_pseudo_label_net_name, load_spec
from semiseg_zoo.training.enhancer.job import EnhancerJob, run_enhancer_job
from semiseg_zoo.training.enhancer.pseudo_label_steps import (
    enhancer_pseudo_labels,
    enhancer_spec_of,
    fit_pseudo_label_net,
    pseudo_label_agreement,
    pseudo_label_training,
    sample_raw_input,
)
from semiseg_zoo.training.enhancer.source_data import load_source_images
from semiseg_zoo.training.run_files import compute_from_args, refuse_to_overwrite, run_script


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="enhancer model spec YAML")
    add_output_arguments(parser)
    add_schedule_arguments(parser)
    parser.add_argument("--n-forests", type=int, help="overrides training.n_forests")
    parser.add_argument(
        "--from-checkpoint", type=Path, help="skip training: tune thresholds and export"
    )
    target = parser.add_argument_group("pseudo-label mode (shallow2deep domain adaptation)")
    target.add_argument(
        "--pseudo-label-net",
        type=Path,
        metavar="TARGET_RAW",
        help="train a U-Net on this raw target tif (2D, or a (Z, Y, X) stack used as 2D slices) "
        "from the enhancer's pseudo-labels instead of training an enhancer",
    )
    target.add_argument(
        "--scribbles",
        type=Path,
        metavar="TARGET_SCRIBBLES",
        help="scribbles tif of TARGET_RAW's shape: 0 unlabeled, 1 background, 2 the enhancer's "
        "class",
    )
    target.add_argument(
        "--enhancer", type=Path, help="enhancer package zip (default runs/<name>/<name>.zip)"
    )
    target.add_argument("--pl-steps", type=int, default=2000, help="training steps (default 2000)")
    return parser


def main(argv: list[str] | None = None) -> int:
    return run_script(_main, build_parser(), argv)


def _main(args: argparse.Namespace) -> int:
    spec = load_spec(args.spec)
    if not isinstance(spec, EnhancerSpec):
        raise SystemExit(f"{args.spec}: this script trains enhancer specs, got kind {spec.kind!r}")
    compute = compute_from_args(args)
    if args.pseudo_label_net is not None or args.scribbles is not None:
        return pseudo_label_main(args, spec, compute.device)
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    refuse_to_overwrite(output, args.overwrite)
    images = load_source_images(spec.training.source, root)
    job = EnhancerJob(
        run_dir, output, compute, resume=args.resume,
        checkpoint_every_s=args.checkpoint_every * 60, overwrite=args.overwrite,
        steps=args.steps, n_forests=args.n_forests, command=[sys.executable, *sys.argv],
        from_checkpoint=args.from_checkpoint,
    )  # fmt: skip
    try:
        run_enhancer_job(spec, images, job)
    except ValueError as error:
        raise SystemExit(f"{spec.name}: {error}") from None
    return 0


def pseudo_label_main(args: argparse.Namespace, spec: EnhancerSpec, device: str) -> int:
    """``--pseudo-label-net``: enhancer pseudo-labels on the target → trained, exported U-Net."""
    if args.pseudo_label_net is None or args.scribbles is None:
        raise SystemExit("--pseudo-label-net and --scribbles go together; give both")
    enhancer_path = args.enhancer or Path("runs") / spec.name / f"{spec.name}.zip"
    if args.pl_steps < 1:
        raise SystemExit(f"--pl-steps must be at least 1, got {args.pl_steps}")
    for flag, path in [
        ("--pseudo-label-net", args.pseudo_label_net),
        ("--scribbles", args.scribbles),
    ]:
        if not path.is_file():
            raise SystemExit(f"{flag}: {path} does not exist")
    if not enhancer_path.is_file():
        raise SystemExit(
            f"--enhancer: {enhancer_path} does not exist (train the enhancer first: run without "
            "--pseudo-label-net, or name a package with --enhancer)"
        )
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{default_pseudo_label_net_name(spec)}.zip"
    refuse_to_overwrite(output, args.overwrite)
    raw, scribbles = tifffile.imread(args.pseudo_label_net), tifffile.imread(args.scribbles)
    if raw.ndim not in (2, 3) or raw.shape != scribbles.shape:
        raise SystemExit(
            f"--pseudo-label-net has shape {raw.shape} and --scribbles {scribbles.shape}; expected "
            "two (Y, X) or (Z, Y, X) images of the same shape"
        )

    from semiseg_zoo.inference import load_model

    model = load_model(enhancer_path, device="cuda" if device == "cuda" else "cpu")
    enhancer, recipe = enhancer_spec_of(model.package)
    slices = "1 image" if raw.ndim == 2 else f"{raw.shape[0]} slices"
    training = pseudo_label_training(
        enhancer,
        target=f"{args.pseudo_label_net.name} ({slices} of {raw.shape[-2]}x{raw.shape[-1]})",
        steps=args.pl_steps,
        seed=spec.training.seed,
    )
    start = time.perf_counter()
    data = enhancer_pseudo_labels(
        model, [raw], [scribbles], n_trees=training.n_trees, seed=training.seed
    )
    print(f"pseudo-labels of {len(data.images)} slices in {time.perf_counter() - start:.0f}s")
    net, pl_spec, result = fit_pseudo_label_net(enhancer, recipe, data, training, device=device)
    print(f"trained in {time.perf_counter() - start:.0f}s")
    validation = pseudo_label_agreement(net, data)
    print(f"validation: {validation}")
    output.parent.mkdir(parents=True, exist_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / f"{pl_spec.name}.json").write_text(
        json.dumps({"validation": validation, "history": result.history}, indent=2)
    )

    from semiseg_zoo.export import export_package

    export_package(
        net,
        pl_spec,
        sample_input=sample_raw_input(enhancer),
        output_path=output,
        postprocessing=recipe,
        validation=validation,
        overwrite=args.overwrite,
    )
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
