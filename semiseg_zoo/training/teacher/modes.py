"""Teacher training end to end: data splits, the three modes (supervised, ACTIS, Inconsistency
Masks) as resumable stages, checkpoint selection and watershed tuning on held-out images, and
validation. Used by ``training/train_teacher.py``, ``semiseg-train teacher`` and the
label-efficiency experiment."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from semiseg_zoo.evaluation import mean_instance_scores
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.postprocess import watershed_from_probabilities
from semiseg_zoo.spec import ScaleRange, TeacherSpec
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.compute import ComputeSettings
from semiseg_zoo.training.data import (
    LabelledImage,
    RandomPatchDataset,
    UnlabeledPatchDataset,
    load_image_label_folder,
    read_normalised_tif,
)
from semiseg_zoo.training.loop import TrainingResult
from semiseg_zoo.training.step_batches import StepBatches
from semiseg_zoo.training.supervised import train_supervised
from semiseg_zoo.training.targets import three_class_targets
from semiseg_zoo.training.teacher.mean_teacher import train_actis
from semiseg_zoo.training.teacher.self_training import SelfTrainingResult, run_self_training
from semiseg_zoo.training.whole_image import predict_whole_image

Log = Callable[[str], None]


def percentiles(spec: TeacherSpec) -> dict[str, float]:
    """The spec's input normalisation percentiles as keyword arguments."""
    norm = spec.input.preprocessing
    if isinstance(norm, ScaleRange):
        return {"min_percentile": norm.min_percentile, "max_percentile": norm.max_percentile}
    return {}


def split_labeled(
    items: list[LabelledImage], n_labeled: int | None, seed: int
) -> tuple[list[LabelledImage], list[np.ndarray]]:
    """Keep the labels of ``n_labeled`` images drawn with ``seed``; return the others' images.

    The draw is a prefix of one seeded permutation, so smaller budgets are subsets of larger ones.
    """
    if n_labeled is None:
        return items, []
    if n_labeled > len(items):
        raise ValueError(f"`labeled_images` is {n_labeled} but there are only {len(items)} images")
    order = np.random.default_rng(seed).permutation(len(items))
    labeled = [items[i] for i in sorted(order[:n_labeled])]
    unlabeled = [items[i].image for i in sorted(order[n_labeled:])]
    return labeled, unlabeled


def split_tuning(
    items: list[LabelledImage], n_tune: int | None, seed: int
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """``(training items, tuning items)``: ``n_tune`` images drawn with ``seed`` are held out.

    The tuning draw uses its own stream of ``seed``, so it does not depend on the labeled draw.
    """
    if n_tune is None:
        return items, []
    if n_tune >= len(items):
        raise ValueError(
            f"`tune_images` is {n_tune} but there are only {len(items)} training images; hold "
            "out fewer so that some remain for training"
        )
    order = np.random.default_rng([seed, 99]).permutation(len(items))
    held_out = set(order[:n_tune].tolist())
    train = [item for i, item in enumerate(items) if i not in held_out]
    tune = [item for i, item in enumerate(items) if i in held_out]
    return train, tune


def load_unlabeled_folder(folder: Path, **norm: float) -> list[np.ndarray]:
    """Normalised ``(1, Y, X)`` images from ``folder/images/*.tif`` or ``folder/*.tif``."""
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(image_dir.glob("*.tif"))
    if not paths:
        raise FileNotFoundError(f"no *.tif images in {image_dir} (the spec's `unlabeled` folder)")
    return [read_normalised_tif(path, **norm) for path in paths]


@dataclass
class TeacherData:
    """The images of one teacher run, normalised as the spec says.

    ``tune`` selects checkpoints and watershed thresholds; ``val`` only measures (when the spec
    holds out no tuning images, ``tune`` is ``val`` and the record says so).
    """

    labeled: list[LabelledImage]
    unlabeled: list[np.ndarray]
    tune: list[LabelledImage]
    val: list[LabelledImage]
    tune_name: str

    def describe(self) -> str:
        return (
            f"{len(self.labeled)} labeled, {len(self.unlabeled)} unlabeled, {len(self.tune)} "
            f"tuning ({self.tune_name}) and {len(self.val)} validation images"
        )


def load_teacher_data(spec: TeacherSpec, root: Path, split_seed: int | None = None) -> TeacherData:
    """Read the spec's train/val (and unlabeled) folders below ``root`` and split them."""
    training = spec.training
    seed = training.seed if split_seed is None else split_seed
    norm = percentiles(spec)
    items = load_image_label_folder(root / training.train, **norm)
    val = load_image_label_folder(root / training.val, **norm)
    return split_teacher_data(spec, items, val, seed, unlabeled_root=root)


def split_teacher_data(
    spec: TeacherSpec,
    items: list[LabelledImage],
    val: list[LabelledImage],
    seed: int,
    *,
    unlabeled_root: Path | None = None,
) -> TeacherData:
    """Hold out the tuning images, then keep the labels of ``labeled_images`` of the rest."""
    training = spec.training
    items, tune = split_tuning(items, training.tune_images, seed)
    labeled, unlabeled = split_labeled(items, training.labeled_images, seed)
    if training.unlabeled and unlabeled_root is not None:
        unlabeled += load_unlabeled_folder(unlabeled_root / training.unlabeled, **percentiles(spec))
    if tune:
        return TeacherData(labeled, unlabeled, tune, val, f"held out of {training.train}")
    return TeacherData(labeled, unlabeled, val, val, f"= {training.val}")


def build_net(spec: TeacherSpec, width_factor: float = 1.0) -> tuple[nn.Module, TeacherSpec]:
    """A fresh net for ``spec``; ``width_factor`` scales ``base_features`` (IM+), and the returned
    spec records the grown architecture so that the export describes the net exactly."""
    if width_factor != 1.0:
        kwargs = dict(spec.architecture.kwargs)
        kwargs["base_features"] = int(round(int(kwargs.get("base_features", 16)) * width_factor))
        architecture = spec.architecture.model_copy(update={"kwargs": kwargs})
        spec = spec.model_copy(update={"architecture": architecture})
    return ARCHITECTURES[spec.architecture.name](**spec.architecture.kwargs), spec


def predict_probabilities(net: nn.Module, image: np.ndarray, device: str) -> np.ndarray:
    """Softmax output ``(3, Y, X)`` of ``net`` for a whole image ``(C, Y, X)``."""
    return predict_whole_image(net, image, divisor=net.divisor, device=device)


def segment_all(
    probabilities: list[np.ndarray], seed: float, foreground: float, min_size: int
) -> list[np.ndarray]:
    """Seeded watershed of every probability map with the same thresholds."""
    return [
        watershed_from_probabilities(
            p, seed_threshold=seed, foreground_threshold=foreground, min_size=min_size
        )
        for p in probabilities
    ]


def make_validator(
    spec: TeacherSpec, items: list[LabelledImage], device: str
) -> Callable[[nn.Module], float]:
    """Score for checkpoint selection: mean AP@0.5 (TP/(TP+FP)) on ``items`` with the spec's
    default post-processing thresholds."""
    default = spec.postprocessing

    def validate(net: nn.Module) -> float:
        probabilities = [predict_probabilities(net, item.image, device) for item in items]
        labels = segment_all(
            probabilities, default.seed_threshold, default.foreground_threshold, default.min_size
        )
        pairs = zip(labels, (item.labels for item in items), strict=True)
        return mean_instance_scores(pairs, iou_threshold=0.5)["ap"]

    return validate


def grid_search(
    probabilities: list[np.ndarray],
    items: list[LabelledImage],
    spec: TeacherSpec,
    log: Log = print,
) -> tuple[dict[str, float], dict[str, float]]:
    """The watershed thresholds with the best mean AP@0.5, and their scores."""
    best: tuple[dict[str, float], dict[str, float]] | None = None
    for seed, fg in itertools.product(
        spec.training.seed_thresholds, spec.training.foreground_thresholds
    ):
        labels = segment_all(probabilities, seed, fg, spec.postprocessing.min_size)
        pairs = zip(labels, (item.labels for item in items), strict=True)
        scores = mean_instance_scores(pairs, iou_threshold=0.5)
        log(f"  seed {seed:.2f}  foreground {fg:.2f}  AP@0.5 {scores['ap']:.4f}")
        if best is None or scores["ap"] > best[1]["ap"]:
            best = ({"seed_threshold": seed, "foreground_threshold": fg}, scores)
    if best is None:
        raise ValueError("`seed_thresholds` and `foreground_thresholds` must not be empty")
    return best


def scores_at(
    probabilities: list[np.ndarray],
    items: list[LabelledImage],
    thresholds: dict[str, float],
    min_size: int,
) -> dict[str, float]:
    """Instance scores at IoU 0.5 of the watershed with fixed ``thresholds``."""
    labels = segment_all(
        probabilities, thresholds["seed_threshold"], thresholds["foreground_threshold"], min_size
    )
    pairs = zip(labels, (item.labels for item in items), strict=True)
    return mean_instance_scores(pairs, iou_threshold=0.5)


@dataclass
class TeacherSchedule:
    """Steps of each training stage (``None``: the spec's) and the compute settings."""

    compute: ComputeSettings = field(default_factory=ComputeSettings)
    steps: int | None = None
    actis_steps: int | None = None
    workers: int = 0


def train_baseline(
    spec: TeacherSpec,
    labeled: list[LabelledImage],
    validate: Callable[[nn.Module], float],
    *,
    seed: int,
    schedule: TeacherSchedule | None = None,
    control: RunControl | None = None,
    stage: str = "baseline",
    extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
    width_factor: float = 1.0,
    log: Log = print,
) -> tuple[nn.Module, TrainingResult, TeacherSpec]:
    """Supervised training from scratch (AdamW, cosine decay, best validation checkpoint).

    ``extra`` adds ready (image, class target) pairs, e.g. pseudo-labelled images with ignored
    pixels (Inconsistency Masks students).
    """
    import torch

    schedule = schedule or TeacherSchedule()
    torch.manual_seed(seed)
    net, spec = build_net(spec, width_factor)
    training = spec.training
    images = [item.image for item in labeled] + [image for image, _ in extra or []]
    targets = [three_class_targets(item.labels) for item in labeled] + [
        target for _, target in extra or []
    ]
    dataset = RandomPatchDataset.from_targets(
        images, targets, tuple(training.patch_shape), seed=seed
    )
    result = train_supervised(
        net,
        StepBatches(dataset, training.batch_size, workers=schedule.workers),
        steps=schedule.steps or training.steps,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        class_weights=training.class_weights,
        validate=validate,
        validate_every=training.validate_every,
        compute=schedule.compute,
        control=control,
        stage=stage,
        log=log,
    )
    net.load_state_dict(result.best_state)
    return net, result, spec


def train_actis_student(
    spec: TeacherSpec,
    baseline: nn.Module,
    labeled: list[LabelledImage],
    unlabeled: list[np.ndarray],
    validate: Callable[[nn.Module], float],
    *,
    seed: int,
    schedule: TeacherSchedule | None = None,
    control: RunControl | None = None,
    stage: str = "actis",
    log: Log = print,
) -> tuple[nn.Module, TrainingResult]:
    """ACTIS: student and teacher start as copies of ``baseline``; returns the best-validating
    weights (the student's, or with ``actis.keep: best`` the student's or the teacher's)."""
    import torch

    params = spec.training.actis
    if params is None:
        raise ValueError(f"spec {spec.name} has no `training.actis` block")
    schedule = schedule or TeacherSchedule()
    torch.manual_seed(seed)
    patch = tuple(spec.training.patch_shape)
    labeled_set = RandomPatchDataset(labeled, patch, seed=seed, strong=True)
    unlabeled_set = UnlabeledPatchDataset(unlabeled, patch, seed=seed)
    student = copy.deepcopy(baseline)
    result, _, _ = train_actis(
        student,
        StepBatches(labeled_set, params.labeled_per_batch, workers=schedule.workers),
        StepBatches(unlabeled_set, params.unlabeled_per_batch, workers=schedule.workers),
        steps=schedule.actis_steps or params.steps,
        learning_rate=params.learning_rate,
        momentum=params.momentum,
        weight_decay=params.weight_decay,
        class_weights=spec.training.class_weights,
        percentile=params.percentile,
        threshold_ema=params.threshold_ema,
        teacher_ema=params.teacher_ema,
        teacher_update_every=params.teacher_update_every,
        validate=validate,
        validate_every=params.validate_every,
        keep=params.keep,
        compute=schedule.compute,
        seed=seed,
        control=control,
        stage=stage,
        log=log,
    )
    student.load_state_dict(result.best_state)
    return student, result


def train_inconsistency_students(
    spec: TeacherSpec,
    teachers: list[nn.Module],
    labeled: list[LabelledImage],
    unlabeled: list[np.ndarray],
    validate: Callable[[nn.Module], float],
    *,
    seed: int,
    schedule: TeacherSchedule | None = None,
    generations: int | None = None,
    control: RunControl | None = None,
    stage: str = "im",
    log: Log = print,
) -> tuple[SelfTrainingResult, TeacherSpec, list[dict[str, Any]]]:
    """Inconsistency Masks self-training from an ensemble of baseline ``teachers``; returns the
    result, the spec of the best student's (possibly grown) architecture and the students'
    training records. Each student is a stage of its own (``<stage>-g<generation>-s<index>``)."""
    params = spec.training.inconsistency
    if params is None:
        raise ValueError(f"spec {spec.name} has no `training.inconsistency` block")
    schedule = schedule or TeacherSchedule()
    device = schedule.compute.device
    specs: dict[int, TeacherSpec] = {}
    records: list[dict[str, Any]] = []

    def train_student(generation: int, index: int, pairs) -> tuple[nn.Module, float]:
        log(f"generation {generation}, student {index}: training on {len(pairs)} pseudo-labels")
        net, result, student_spec = train_baseline(
            spec,
            labeled,
            validate,
            # Distinct from baseline seeds and from other runs' students.
            seed=1000 * seed + 100 * generation + index,
            schedule=schedule,
            control=control,
            stage=f"{stage}-g{generation}-s{index}",
            extra=pairs,
            width_factor=params.width_growth**generation,
            log=log,
        )
        specs[id(net)] = student_spec
        records.append(result.record)
        return net, result.best_score

    result = run_self_training(
        teachers,
        unlabeled,
        train_student,
        lambda net, image: predict_probabilities(net, image, device),
        generations=generations or params.generations,
        students_per_generation=params.students_per_generation,
        ensemble_size=params.ensemble_size,
        erosion=params.erosion,
        dilation=params.dilation,
        log=log,
    )
    return result, specs[id(result.best_student)], records


@dataclass
class TrainedTeacher:
    """A trained teacher net, the spec that describes it (IM+ may widen it), and the record."""

    net: nn.Module
    spec: TeacherSpec
    kept: str
    best_step: int | None
    history: list[dict[str, Any]]
    stages: list[dict[str, Any]]
    width_factor: float = 1.0


def train_teacher(
    spec: TeacherSpec,
    data: TeacherData,
    *,
    schedule: TeacherSchedule | None = None,
    control: RunControl | None = None,
    baselines: list[nn.Module] | None = None,
    log: Log = print,
) -> TrainedTeacher:
    """Train ``spec``'s mode on ``data``: the supervised baseline(s) (unless ``baselines`` are
    given), then ACTIS or Inconsistency Masks. Every stage checkpoints through ``control``, so a
    killed run continues with ``RunControl(resume=True)``."""
    schedule = schedule or TeacherSchedule()
    training = spec.training
    seed = training.seed
    validate = make_validator(spec, data.tune, schedule.compute.device)
    stages: list[dict[str, Any]] = []
    if baselines is None:
        n_baselines = (
            training.inconsistency.ensemble_size if training.mode == "inconsistency" else 1
        )
        baselines, result = [], None
        for member in range(n_baselines):
            log(f"supervised baseline {member + 1}/{n_baselines}")
            net, result, _ = train_baseline(
                spec, data.labeled, validate, seed=seed + member, schedule=schedule,
                control=control, stage=f"baseline-{member}", log=log,
            )  # fmt: skip
            baselines.append(net)
            stages.append(result.record)
        if training.mode == "supervised":
            assert result is not None
            return TrainedTeacher(
                baselines[0], spec, "baseline", result.best_step, result.history, stages
            )
    if training.mode == "supervised":
        return TrainedTeacher(baselines[0], spec, "baseline", None, [], stages)
    if training.mode == "actis":
        net, result = train_actis_student(
            spec, baselines[0], data.labeled, data.unlabeled, validate, seed=seed,
            schedule=schedule, control=control, log=log,
        )  # fmt: skip
        stages.append(result.record)
        return TrainedTeacher(net, spec, result.best_source, result.best_step, result.history,
                              stages)  # fmt: skip
    im_result, student_spec, records = train_inconsistency_students(
        spec, baselines, data.labeled, data.unlabeled, validate, seed=seed, schedule=schedule,
        control=control, log=log,
    )  # fmt: skip
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
    width = training.inconsistency.width_growth**im_result.best_generation
    return TrainedTeacher(
        im_result.best_student, student_spec, f"generation {im_result.best_generation}", None,
        history, stages + records, width,
    )  # fmt: skip


def tune_and_validate(
    net: nn.Module, spec: TeacherSpec, data: TeacherData, device: str, log: Log = print
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grid-search the watershed thresholds on the tuning images, then score them on ``val``.

    Returns
    -------
    postprocessing, validation
        The tuned recipe and the validation record for the package.
    """
    net.to(device).eval()
    tune_probabilities = [predict_probabilities(net, item.image, device) for item in data.tune]
    thresholds, tune_scores = grid_search(tune_probabilities, data.tune, spec, log=log)
    if data.tune is data.val:
        scores = tune_scores
    else:
        val_probabilities = [predict_probabilities(net, item.image, device) for item in data.val]
        scores = scores_at(val_probabilities, data.val, thresholds, spec.postprocessing.min_size)
    validation = {
        "dataset": spec.training.val,
        "n_images": int(scores["n_images"]),
        "ap50": round(scores["ap"], 4),
        "f1_50": round(scores["f1"], 4),
        "s_dsb50": round(scores["s_dsb"], 4),
        "recall50": round(scores["recall"], 4),
        "tuned_on": f"{len(data.tune)} images {data.tune_name}",
        "definition": "ap50 = TP/(TP+FP) at IoU 0.5 (ACTIS), s_dsb50 = TP/(TP+FP+FN), "
        "f1_50 = 2TP/(2TP+FP+FN), averaged over images",
    }
    return {**spec.postprocessing.model_dump(), **thresholds}, validation


__all__ = [
    "TeacherData",
    "TeacherSchedule",
    "TrainedTeacher",
    "build_net",
    "grid_search",
    "load_teacher_data",
    "load_unlabeled_folder",
    "make_validator",
    "percentiles",
    "predict_probabilities",
    "scores_at",
    "segment_all",
    "split_labeled",
    "split_teacher_data",
    "split_tuning",
    "train_actis_student",
    "train_baseline",
    "train_inconsistency_students",
    "train_teacher",
    "tune_and_validate",
]
