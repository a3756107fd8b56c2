"""Generations of Inconsistency-Mask self-training (Vorndran et al. 2024, Sec. 2.4.6-2.4.7)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from semiseg_zoo.training.teacher.inconsistency import (
    inconsistency_mask_multiclass,
    masked_training_pair,
    refine_inconsistency_mask,
)

#: ``predict(net, image (C, Y, X)) -> class scores (K, Y, X)``.
Predict = Callable[[nn.Module, np.ndarray], np.ndarray]
#: ``train_student(generation, index, pairs) -> (student, validation score)``.
TrainStudent = Callable[[int, int, list[tuple[np.ndarray, np.ndarray]]], tuple[nn.Module, float]]


@dataclass
class PseudoLabelStats:
    """How many unlabeled images were pseudo-labelled, how many kept, and the masked share."""

    n_images: int
    n_kept: int
    masked_fraction: float


@dataclass
class Generation:
    """One generation: its pseudo-label statistics and its students' validation scores."""

    index: int
    pseudo_labels: PseudoLabelStats
    student_scores: list[float]
    teacher_indices: list[int]


@dataclass
class SelfTrainingResult:
    """The best student over all generations, its score, generation, and the history."""

    best_student: nn.Module
    best_score: float
    best_generation: int
    generations: list[Generation] = field(default_factory=list)


def pseudo_labelled_pairs(
    teachers: Sequence[nn.Module],
    images: Sequence[np.ndarray],
    predict: Predict,
    *,
    erosion: int = 0,
    dilation: int = 0,
) -> tuple[list[tuple[np.ndarray, np.ndarray]], PseudoLabelStats]:
    """Hard-voted pseudo-labels with Inconsistency Masks (Algorithm 2) for unlabeled images.

    Every teacher's argmax class map enters Algorithm 2; the mask is refined by erosion/dilation;
    images whose foreground does not outnumber the masked pixels are dropped.
    """
    pairs, masked, total = [], 0, 0
    for image in images:
        class_maps = [predict(teacher, image).argmax(axis=0) for teacher in teachers]
        final, mask = inconsistency_mask_multiclass(class_maps)
        final, mask = refine_inconsistency_mask(final, mask, erosion=erosion, dilation=dilation)
        masked += int(mask.sum())
        total += mask.size
        pair = masked_training_pair(image, final, mask)
        if pair is not None:
            pairs.append(pair)
    stats = PseudoLabelStats(len(images), len(pairs), masked / max(total, 1))
    return pairs, stats


def run_self_training(
    teachers: Sequence[nn.Module],
    unlabeled_images: Sequence[np.ndarray],
    train_student: TrainStudent,
    predict: Predict,
    *,
    generations: int,
    students_per_generation: int,
    ensemble_size: int,
    erosion: int = 0,
    dilation: int = 0,
    log: Callable[[str], None] = print,
) -> SelfTrainingResult:
    """Run ``generations`` of IM self-training starting from ``teachers`` (the ensemble trained on
    the labeled set). Each generation pseudo-labels the unlabeled images with the current
    teachers, trains ``students_per_generation`` students from scratch (``train_student`` adds
    the labeled data and may grow the width, IM+), and makes the top ``ensemble_size`` students
    by validation score the next teachers."""
    if len(teachers) < 2:
        raise ValueError("Inconsistency Masks need an ensemble of at least 2 teachers")
    result: SelfTrainingResult | None = None
    current = list(teachers)
    for generation in range(1, generations + 1):
        pairs, stats = pseudo_labelled_pairs(
            current, unlabeled_images, predict, erosion=erosion, dilation=dilation
        )
        log(
            f"generation {generation}: kept {stats.n_kept}/{stats.n_images} pseudo-labelled "
            f"images, {100 * stats.masked_fraction:.1f}% of pixels masked"
        )
        students = [train_student(generation, i, pairs) for i in range(students_per_generation)]
        order = sorted(range(len(students)), key=lambda i: students[i][1], reverse=True)
        top = order[:ensemble_size]
        current = [students[i][0] for i in top]
        record = Generation(generation, stats, [s for _, s in students], top)
        best_net, best_score = students[order[0]]
        log(f"generation {generation}: student scores {[round(s, 4) for _, s in students]}")
        if result is None or best_score > result.best_score:
            history = [] if result is None else result.generations
            result = SelfTrainingResult(best_net, best_score, generation, history)
        result.generations.append(record)
    assert result is not None
    return result
