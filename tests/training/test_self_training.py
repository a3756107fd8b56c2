"""Generations of Inconsistency-Mask self-training with stand-in teachers and students."""

from __future__ import annotations

import numpy as np
import pytest
from torch import nn

from semiseg_zoo.training import IGNORE_INDEX, pseudo_labelled_pairs, run_self_training


class _Fixed(nn.Module):
    """Stands in for a net: always predicts the same class map."""

    def __init__(self, classes: np.ndarray) -> None:
        super().__init__()
        self.classes = classes


def _predict(net: _Fixed, image: np.ndarray) -> np.ndarray:
    return np.eye(3, dtype=np.float32)[net.classes].transpose(2, 0, 1)


def _map(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=np.int64)


A = _map([[1, 1, 2, 0], [1, 1, 2, 0]])
B = _map([[1, 1, 2, 0], [1, 2, 0, 0]])
IMAGE = np.ones((1, 2, 4), np.float32)


def test_pseudo_labels_use_algorithm_2_and_the_keep_rule() -> None:
    pairs, stats = pseudo_labelled_pairs([_Fixed(A), _Fixed(B)], [IMAGE, IMAGE * 2], _predict)
    assert stats.n_images == 2 and stats.n_kept == 2
    assert stats.masked_fraction == pytest.approx(2 / 8)
    image, target = pairs[0]
    assert target.tolist() == [[1, 1, 2, 0], [1, IGNORE_INDEX, IGNORE_INDEX, 0]]
    assert image[0].tolist() == [[1, 1, 1, 1], [1, 0, 0, 1]]
    # Teachers that disagree almost everywhere produce no usable pair.
    c = _map([[0, 2, 1, 1], [0, 0, 1, 2]])
    pairs, stats = pseudo_labelled_pairs([_Fixed(A), _Fixed(c)], [IMAGE], _predict)
    assert pairs == [] and stats.n_kept == 0


def test_generations_promote_the_top_k_students() -> None:
    scores = {(1, 0): 0.5, (1, 1): 0.9, (1, 2): 0.7, (2, 0): 0.6, (2, 1): 0.8, (2, 2): 0.4}
    seen: list[tuple[int, int, int]] = []
    students: dict[tuple[int, int], _Fixed] = {}

    def train_student(generation: int, index: int, pairs) -> tuple[nn.Module, float]:
        seen.append((generation, index, len(pairs)))
        # Generation-1 students 1 and 2 agree with A everywhere; student 0 predicts B.
        student = _Fixed(B if (generation, index) == (1, 0) else A)
        students[(generation, index)] = student
        return student, scores[(generation, index)]

    result = run_self_training(
        [_Fixed(A), _Fixed(B)],
        [IMAGE],
        train_student,
        _predict,
        generations=2,
        students_per_generation=3,
        ensemble_size=2,
        log=lambda _: None,
    )
    assert [g.student_scores for g in result.generations] == [[0.5, 0.9, 0.7], [0.6, 0.8, 0.4]]
    assert result.generations[0].teacher_indices == [1, 2]
    # Generation 2's teachers (students 1 and 2, both A) agree everywhere: nothing is masked.
    assert result.generations[1].pseudo_labels.masked_fraction == 0.0
    assert result.best_score == 0.9 and result.best_generation == 1
    assert result.best_student is students[(1, 1)]
    assert [s[:2] for s in seen] == [(1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]


def test_self_training_needs_an_ensemble() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        run_self_training(
            [_Fixed(A)], [IMAGE], lambda *a: (None, 0.0), _predict,
            generations=1, students_per_generation=2, ensemble_size=2,
        )  # fmt: skip
