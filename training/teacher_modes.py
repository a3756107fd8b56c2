"""Shared steps of the teacher training modes (supervised, ACTIS, Inconsistency Masks), used by
``train_teacher.py`` and the label-efficiency experiment."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from semiseg_zoo.evaluation import mean_instance_scores
from semiseg_zoo.nets import ARCHITECTURES
from semiseg_zoo.postprocess import watershed_from_probabilities
from semiseg_zoo.spec import ScaleRange, TeacherSpec
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    SelfTrainingResult,
    TrainingResult,
    UnlabeledPatchDataset,
    predict_whole_image,
    read_normalised_tif,
    run_self_training,
    three_class_targets,
    train_actis,
    train_supervised,
)

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


def load_unlabeled_folder(folder: Path, **norm: float) -> list[np.ndarray]:
    """Normalised ``(1, Y, X)`` images from ``folder/images/*.tif`` or ``folder/*.tif``."""
    image_dir = folder / "images" if (folder / "images").is_dir() else folder
    paths = sorted(image_dir.glob("*.tif"))
    if not paths:
        raise FileNotFoundError(f"no *.tif images in {image_dir} (the spec's `unlabeled` folder)")
    images = [read_normalised_tif(path, **norm) for path in paths]
    return images


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
    return [
        watershed_from_probabilities(
            p, seed_threshold=seed, foreground_threshold=foreground, min_size=min_size
        )
        for p in probabilities
    ]


def make_validator(
    spec: TeacherSpec, val_items: list[LabelledImage], device: str
) -> Callable[[nn.Module], float]:
    """Validation score for checkpoint selection: mean AP@0.5 with the spec's default
    post-processing thresholds."""
    default = spec.postprocessing

    def validate(net: nn.Module) -> float:
        probabilities = [predict_probabilities(net, item.image, device) for item in val_items]
        labels = segment_all(
            probabilities, default.seed_threshold, default.foreground_threshold, default.min_size
        )
        pairs = zip(labels, (item.labels for item in val_items), strict=True)
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
    assert best is not None  # the spec guarantees non-empty grids
    return best


def _loader(dataset: torch.utils.data.IterableDataset, batch_size: int):
    return iter(torch.utils.data.DataLoader(dataset, batch_size=batch_size))


def train_baseline(
    spec: TeacherSpec,
    labeled: list[LabelledImage],
    validate: Callable[[nn.Module], float],
    *,
    device: str,
    seed: int,
    steps: int | None = None,
    extra: list[tuple[np.ndarray, np.ndarray]] | None = None,
    width_factor: float = 1.0,
    log: Log = print,
) -> tuple[nn.Module, TrainingResult, TeacherSpec]:
    """Supervised training from scratch (AdamW, cosine decay, best validation checkpoint).

    ``extra`` adds ready (image, class target) pairs, e.g. pseudo-labelled images with ignored
    pixels (Inconsistency Masks students).
    """
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
        _loader(dataset, training.batch_size),
        steps=steps or training.steps,
        learning_rate=training.learning_rate,
        weight_decay=training.weight_decay,
        class_weights=training.class_weights,
        validate=validate,
        validate_every=training.validate_every,
        device=device,
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
    device: str,
    seed: int,
    steps: int | None = None,
    log: Log = print,
) -> tuple[nn.Module, TrainingResult]:
    """ACTIS: student and teacher start as copies of ``baseline``; returns the best-validating
    weights (the student's, or with ``actis.keep: best`` the student's or the teacher's)."""
    params = spec.training.actis
    if params is None:
        raise ValueError(f"spec {spec.name} has no `training.actis` block")
    torch.manual_seed(seed)
    patch = tuple(spec.training.patch_shape)
    labeled_set = RandomPatchDataset(labeled, patch, seed=seed, strong=True)
    unlabeled_set = UnlabeledPatchDataset(unlabeled, patch, seed=seed)
    student = copy.deepcopy(baseline)
    result, _, _ = train_actis(
        student,
        _loader(labeled_set, params.labeled_per_batch),
        _loader(unlabeled_set, params.unlabeled_per_batch),
        steps=steps or params.steps,
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
        device=device,
        seed=seed,
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
    device: str,
    seed: int,
    steps: int | None = None,
    generations: int | None = None,
    log: Log = print,
) -> tuple[SelfTrainingResult, TeacherSpec]:
    """Inconsistency Masks self-training from an ensemble of baseline ``teachers``; returns the
    result and the spec of the best student's (possibly grown) architecture."""
    params = spec.training.inconsistency
    if params is None:
        raise ValueError(f"spec {spec.name} has no `training.inconsistency` block")
    specs: dict[int, TeacherSpec] = {}

    def train_student(generation: int, index: int, pairs) -> tuple[nn.Module, float]:
        log(f"generation {generation}, student {index}: training on {len(pairs)} pseudo-labels")
        net, result, student_spec = train_baseline(
            spec,
            labeled,
            validate,
            device=device,
            # Distinct from baseline seeds and from other runs' students.
            seed=1000 * seed + 100 * generation + index,
            steps=steps,
            extra=pairs,
            width_factor=params.width_growth**generation,
            log=log,
        )
        specs[id(net)] = student_spec
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
    return result, specs[id(result.best_student)]
