"""Train a 3-class teacher U-Net (background, interior, boundary) and export it as a package.

The spec's ``training.mode`` selects the method:

* ``supervised``: weighted cross-entropy on the labeled images, best AP@0.5 checkpoint;
* ``actis``: a supervised baseline (trained here, or ``--baseline CHECKPOINT``), then ACTIS
  mean-teacher training on labeled + unlabeled images;
* ``inconsistency``: an ensemble of baselines (trained here, or ``--baseline`` given once per
  member), then generations of Inconsistency-Mask self-training.

Then the watershed thresholds are grid-searched on validation and the package is exported.

    python training/train_teacher.py --spec model_specs/teacher_nuclei_2d.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from semiseg_zoo.spec import TeacherSpec, data_root, load_spec
from semiseg_zoo.training import load_image_label_folder, resolve_device

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_files import add_output_arguments, refuse_to_overwrite  # noqa: E402
from teacher_modes import (  # noqa: E402
    build_net,
    grid_search,
    load_unlabeled_folder,
    make_validator,
    percentiles,
    predict_probabilities,
    split_labeled,
    train_actis_student,
    train_baseline,
    train_inconsistency_students,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", type=Path, required=True, help="model spec YAML")
    add_output_arguments(parser)
    parser.add_argument("--steps", type=int, help="overrides the steps of every training stage")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        help="supervised checkpoint(s) to start ACTIS / Inconsistency Masks from",
    )
    parser.add_argument(
        "--from-checkpoint",
        type=Path,
        help="skip training: tune thresholds and export from this checkpoint",
    )
    return parser


def load_checkpoint(path: Path, spec: TeacherSpec) -> tuple[torch.nn.Module, TeacherSpec, list]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    net, net_spec = build_net(spec, checkpoint.get("width_factor", 1.0))
    try:
        net.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as error:
        raise SystemExit(
            f"{path}: not a checkpoint of {spec.name}'s architecture ({error})"
        ) from error
    if checkpoint.get("data_description"):
        # The checkpoint knows what trained it (e.g. an experiment with a smaller unlabeled
        # pool than the spec describes); the package must say that, not the spec's plan.
        training = net_spec.training.model_copy(
            update={"data_description": checkpoint["data_description"]}
        )
        net_spec = net_spec.model_copy(update={"training": training})
    return net, net_spec, checkpoint.get("history", [])


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    spec = load_spec(args.spec)
    if not isinstance(spec, TeacherSpec):
        raise SystemExit(f"{args.spec}: this script trains teacher specs, got kind {spec.kind!r}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    root = args.data_root or data_root()
    run_dir = args.run_dir or Path("runs") / spec.name
    output = args.output or run_dir / f"{spec.name}.zip"
    refuse_to_overwrite(output, args.overwrite)
    run_dir.mkdir(parents=True, exist_ok=True)
    training = spec.training
    seed = training.seed

    print(f"loading data from {root}")
    norm = percentiles(spec)
    items = load_image_label_folder(root / training.train, **norm)
    val_items = load_image_label_folder(root / training.val, **norm)
    labeled, unlabeled = split_labeled(items, training.labeled_images, seed)
    if training.unlabeled:
        unlabeled += load_unlabeled_folder(root / training.unlabeled, **norm)
    print(
        f"mode {training.mode}: {len(labeled)} labeled, {len(unlabeled)} unlabeled and "
        f"{len(val_items)} validation images; device {device}"
    )
    validate = make_validator(spec, val_items, device)
    start = time.perf_counter()
    width_factor = 1.0
    if args.from_checkpoint:
        net, spec, history = load_checkpoint(args.from_checkpoint, spec)
        best_step = None
    else:
        if training.mode == "supervised" or not args.baseline:
            n_baselines = (
                training.inconsistency.ensemble_size if training.mode == "inconsistency" else 1
            )
            baselines = []
            for member in range(n_baselines):
                print(f"supervised baseline {member + 1}/{n_baselines}")
                net, result, _ = train_baseline(
                    spec, labeled, validate, device=device, seed=seed + member, steps=args.steps
                )
                baselines.append(net)
        else:
            baselines = [load_checkpoint(path, spec)[0] for path in args.baseline]
        history = result.history if training.mode == "supervised" and not args.baseline else []
        best_step = result.best_step if training.mode == "supervised" else None
        kept = "baseline"
        if training.mode == "actis":
            net, result = train_actis_student(
                spec, baselines[0], labeled, unlabeled, validate,
                device=device, seed=seed, steps=args.steps,
            )  # fmt: skip
            history, best_step, kept = result.history, result.best_step, result.best_source
        elif training.mode == "inconsistency":
            im_result, spec = train_inconsistency_students(
                spec, baselines, labeled, unlabeled, validate,
                device=device, seed=seed, steps=args.steps,
            )  # fmt: skip
            net = im_result.best_student
            width_factor = training.inconsistency.width_growth**im_result.best_generation
            history = [
                {
                    "generation": g.index,
                    "kept": g.pseudo_labels.n_kept,
                    "unlabeled": g.pseudo_labels.n_images,
                    "masked_fraction": g.pseudo_labels.masked_fraction,
                    "student_scores": g.student_scores,
                }
                for g in im_result.generations
            ]
        else:
            net = baselines[0]
        checkpoint_path = run_dir / "checkpoint.pt"
        torch.save(
            {
                "state_dict": {k: v.cpu() for k, v in net.state_dict().items()},
                "width_factor": width_factor,
                "best_step": best_step,
                "kept": kept,
                "history": history,
            },
            checkpoint_path,
        )
        print(f"trained in {time.perf_counter() - start:.0f}s; saved {checkpoint_path}")

    net.to(device).eval()
    print("grid search of the watershed thresholds on validation")
    probabilities = [predict_probabilities(net, item.image, device) for item in val_items]
    thresholds, scores = grid_search(probabilities, val_items, spec)
    validation = {
        "dataset": training.val,
        "n_images": int(scores["n_images"]),
        "ap50": round(scores["ap"], 4),
        "f1_50": round(scores["f1"], 4),
        "s_dsb50": round(scores["s_dsb"], 4),
        "recall50": round(scores["recall"], 4),
        "definition": "AP@0.5 = TP/(TP+FP) at IoU 0.5 averaged over images (ACTIS)",
    }
    postprocessing = {**spec.postprocessing.model_dump(), **thresholds}
    (run_dir / "validation.json").write_text(
        json.dumps(
            {"postprocessing": postprocessing, "validation": validation, "history": history},
            indent=2,
        )
    )
    print(f"tuned {thresholds}: {validation}")

    from semiseg_zoo.export import export_package
    from semiseg_zoo.synthetic import synthetic_nuclei

    sample_image, _ = synthetic_nuclei((256, 256), seed=0)
    start = time.perf_counter()
    path = export_package(
        net.cpu(),
        spec,
        sample_input=sample_image,
        output_path=output,
        postprocessing=postprocessing,
        validation=validation,
        overwrite=args.overwrite,
    )
    print(
        f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f}s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
