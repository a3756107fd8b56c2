"""ACTIS mean-teacher training: EMA teacher update, student views, loss and a short run."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import numpy as np
import pytest
import torch

from semiseg_zoo.nets import UNet2d
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    UnlabeledPatchDataset,
    ema_update,
    masked_cross_entropy,
    scale_range,
    student_view,
    train_actis,
)


def _net(seed: int = 0) -> UNet2d:
    torch.manual_seed(seed)
    return UNet2d(1, 3, depth=2, base_features=4, norm="batch", final_activation="softmax")


def test_ema_update_is_the_exact_weighted_average() -> None:
    teacher, student = _net(0), _net(1)
    before = copy.deepcopy(teacher.state_dict())
    with torch.no_grad():
        next(iter(student.modules())).train()
        student(torch.randn(2, 1, 16, 16))  # changes the student's BatchNorm statistics
    ema_update(teacher, student, 0.99)
    after, source = teacher.state_dict(), student.state_dict()
    for name, value in after.items():
        if value.dtype.is_floating_point:
            torch.testing.assert_close(value, 0.99 * before[name] + 0.01 * source[name])
        else:  # num_batches_tracked is copied
            assert torch.equal(value, source[name])
    assert any(not torch.equal(before[n], after[n]) for n in after)


def test_student_view_transforms_labels_and_mask_like_the_image() -> None:
    rng = np.random.default_rng(0)
    labels = torch.from_numpy(rng.integers(0, 3, size=(4, 8, 8)))
    images = labels[:, None].float() / 2
    mask = labels == 1
    views, view_labels, view_masks = student_view(images, labels, mask, rng)
    assert views.shape == images.shape and view_labels.shape == labels.shape
    # The mask was derived from the labels; both went through the same transform.
    assert torch.equal(view_masks, view_labels == 1)
    # Each label map is one of the 8 flips/rotations of the original.
    for original, viewed in zip(labels, view_labels, strict=True):
        candidates = [torch.rot90(o, k, dims=(-2, -1)) for o in (original, original.flip(-1))
                      for k in range(4)]  # fmt: skip
        assert any(torch.equal(viewed, c) for c in candidates)
    # The intensity is perturbed.
    assert not torch.allclose(views, images)


def test_masked_cross_entropy_counts_only_reliable_pixels() -> None:
    logits = torch.tensor([[[[2.0, 0.0]], [[0.0, 2.0]]]])  # (B=1, C=2, Y=1, X=2)
    target = torch.tensor([[[0, 0]]])
    both = masked_cross_entropy(logits, target, torch.tensor([[[True, True]]]))
    first = masked_cross_entropy(logits, target, torch.tensor([[[True, False]]]))
    none = masked_cross_entropy(logits, target, torch.tensor([[[False, False]]]))
    good, bad = float(np.log1p(np.exp(-2.0))), float(np.log1p(np.exp(2.0)))
    assert first.item() == pytest.approx(good)
    assert both.item() == pytest.approx((good + bad) / 2)
    assert none.item() == 0.0


def _batches(dataset, batch_size: int) -> Iterator:
    return iter(torch.utils.data.DataLoader(dataset, batch_size=batch_size))


def test_a_few_actis_steps_lower_the_loss_and_move_the_teacher() -> None:
    items = []
    for seed in range(2):
        image, labels = synthetic_nuclei((64, 64), n_objects=6, radius=(5.0, 8.0), seed=seed)
        items.append(LabelledImage(f"s{seed}", scale_range(image)[None], labels.astype(np.int64)))
    unlabeled = [scale_range(synthetic_nuclei((64, 64), n_objects=6, seed=10 + s)[0])[None]
                 for s in range(3)]  # fmt: skip
    student = _net(0)
    teacher = copy.deepcopy(student)
    initial_teacher = copy.deepcopy(teacher.state_dict())
    result, final_teacher, thresholds = train_actis(
        student,
        _batches(RandomPatchDataset(items, (32, 32), seed=0, strong=True), 2),
        _batches(UnlabeledPatchDataset(unlabeled, (32, 32), seed=0), 4),
        steps=40,
        learning_rate=0.05,
        momentum=0.9,
        weight_decay=0.0,
        class_weights=[1.0, 1.0, 4.0],
        percentile=0.2,
        threshold_ema=0.99,
        teacher_ema=0.9,
        teacher_update_every=4,
        validate=lambda net: 0.0,
        validate_every=10,
        teacher=teacher,
        log=lambda _: None,
    )
    assert result.history[0] == {"step": 0, "score": 0.0, "source": "baseline"}
    trained = [entry for entry in result.history if entry["step"] > 0]
    losses = [entry["loss"] for entry in trained]
    assert len(losses) == 4
    assert losses[-1] < losses[0]
    assert final_teacher is teacher
    changed = [
        name
        for name, value in teacher.state_dict().items()
        if value.dtype.is_floating_point and not torch.equal(value, initial_teacher[name])
    ]
    parameters = {name for name, _ in teacher.named_parameters()}
    assert parameters <= set(changed), "every teacher parameter must move towards the student"
    seen = [v for v in thresholds.values if not np.isnan(v)]
    assert seen and all(0 < v < 1 for v in seen)
    assert all(0 < entry["reliable"] <= 1 for entry in trained)


def _short_actis_run(keep: str, validate) -> tuple:
    image, labels = synthetic_nuclei((64, 64), n_objects=6, radius=(5.0, 8.0), seed=0)
    items = [LabelledImage("s0", scale_range(image)[None], labels.astype(np.int64))]
    unlabeled = [scale_range(synthetic_nuclei((64, 64), n_objects=6, seed=10)[0])[None]]
    student = _net(0)
    teacher = copy.deepcopy(student)
    result, _, _ = train_actis(
        student,
        _batches(RandomPatchDataset(items, (32, 32), seed=0), 2),
        _batches(UnlabeledPatchDataset(unlabeled, (32, 32), seed=0), 2),
        steps=6, learning_rate=0.05, momentum=0.9, weight_decay=0.0, class_weights=None,
        percentile=0.2, threshold_ema=0.99, teacher_ema=0.5, teacher_update_every=1,
        validate=lambda net: validate(net, teacher), validate_every=3, teacher=teacher,
        keep=keep, log=lambda _: None,
    )  # fmt: skip
    return result, teacher


def test_keep_best_returns_the_teacher_weights_when_the_teacher_validates_better() -> None:
    calls: list[tuple[bool, dict]] = []

    def validate(net, teacher) -> float:
        calls.append((net is teacher, copy.deepcopy(net.state_dict())))
        return 0.9 if net is teacher else 0.1

    result, _ = _short_actis_run("best", validate)
    # Step 0 (baseline), then student and teacher at steps 3 and 6.
    assert [is_teacher for is_teacher, _ in calls] == [False, False, True, False, True]
    assert result.best_source == "teacher" and result.best_step == 3
    assert result.best_score == pytest.approx(0.9)
    assert all(torch.equal(result.best_state[k], v) for k, v in calls[2][1].items())
    assert [entry.get("teacher_score") for entry in result.history] == [None, 0.9, 0.9]


def test_keep_student_never_validates_or_returns_the_teacher() -> None:
    calls: list[bool] = []

    def validate(net, teacher) -> float:
        calls.append(net is teacher)
        return 0.9 if net is teacher else 0.1 * len(calls)

    result, _ = _short_actis_run("student", validate)
    assert calls == [False, False, False]
    assert result.best_source == "student" and result.best_step == 6


def test_unknown_keep_choice_is_rejected() -> None:
    with pytest.raises(ValueError, match="`keep` must be 'student' or 'best'"):
        _short_actis_run("teacher", lambda net, teacher: 0.0)
