"""Resumable runs: step-indexed batches, checkpoints on a wall-clock interval, a run killed by a
real signal and resumed to the same final step and result, graceful SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from semiseg_zoo.nets import UNet2d
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    RunControl,
    StepBatches,
    TrainingLoop,
    UnlabeledPatchDataset,
    load_checkpoint_file,
    scale_range,
    train_supervised,
)

CHILD = Path(__file__).with_name("resumable_run.py")
STEPS = 150


def _items() -> list[LabelledImage]:
    items = []
    for seed in range(2):
        image, labels = synthetic_nuclei((48, 48), n_objects=4, radius=(4.0, 7.0), seed=seed)
        items.append(LabelledImage(f"s{seed}", scale_range(image)[None], labels.astype(np.int64)))
    return items


def test_step_batches_are_a_function_of_the_step() -> None:
    batches = StepBatches(RandomPatchDataset(_items(), (16, 16), seed=3), 4)
    again = StepBatches(RandomPatchDataset(_items(), (16, 16), seed=3), 4)
    first, second = batches.batch(7), again.batch(7)
    assert first[0].shape == (4, 1, 16, 16) and first[1].shape == (4, 16, 16)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(batches.batch(8)[0], first[0])
    # Iterating from step 5 gives the same batches as asking for each step.
    for step, batch in batches.iterate(5, 8):
        assert torch.equal(batch[0], batches.batch(step)[0])


def test_worker_processes_prepare_the_same_batches() -> None:
    unlabeled = [item.image for item in _items()]
    batches = StepBatches(UnlabeledPatchDataset(unlabeled, (16, 16), seed=1), 3, workers=1)
    prefetched = dict(batches.iterate(1, 4))
    assert sorted(prefetched) == [1, 2, 3, 4]
    for step, batch in prefetched.items():
        assert torch.equal(batch, batches.batch(step))


def _child(run_dir: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(run_dir), str(STEPS), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _final(stdout: str) -> tuple[float, float, int]:
    line = next(line for line in stdout.splitlines() if line.startswith("final "))
    loss, score, step = line.split()[1:]
    return float(loss), float(score), int(step)


def _run_until(process: subprocess.Popen, marker: str) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        if line.startswith(marker):
            return
    raise AssertionError(f"the child ended before printing {marker!r}: {process.stderr.read()}")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[float, float, int]:
    run_dir = tmp_path_factory.mktemp("whole")
    process = _child(run_dir)
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return _final(stdout)


def test_a_killed_run_resumes_to_the_same_step_and_result(tmp_path: Path, uninterrupted) -> None:
    process = _child(tmp_path)
    _run_until(process, f"step 60/{STEPS}")
    process.send_signal(signal.SIGKILL)  # no handler runs: only the periodic checkpoints help
    process.wait(timeout=60)
    saved = load_checkpoint_file(tmp_path / "checkpoints" / "supervised.pt")
    assert not saved["finished"] and 0 < saved["step"] < STEPS
    resumed = _child(tmp_path, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    assert f"resuming at step {saved['step']}/{STEPS}" in stdout
    assert f"step {STEPS}/{STEPS}" in stdout
    # Step-indexed batches and restored states: exactly the uninterrupted run's result.
    loss, score, best_step = _final(stdout)
    assert loss == pytest.approx(uninterrupted[0], rel=1e-5)
    assert score == pytest.approx(uninterrupted[1], rel=1e-5)
    assert best_step == uninterrupted[2]
    final = load_checkpoint_file(tmp_path / "checkpoints" / "supervised.pt")
    assert final["finished"] and final["step"] == STEPS
    assert [entry["step"] for entry in final["history"]] == list(range(10, STEPS + 1, 10))
    assert final["timing"]["sessions"] == 2
    # Timings add up over both processes (the killed one's count up to its checkpoint).
    assert final["timing"]["steps"] == STEPS


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_saves_a_checkpoint_and_stops_cleanly(tmp_path: Path, signum, uninterrupted):
    process = _child(tmp_path, "--checkpoint-every", "1000")  # only the signal checkpoints
    _run_until(process, f"step 40/{STEPS}")
    process.send_signal(signum)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    assert f"{signal.Signals(signum).name}: stopped at step" in stderr
    assert "--resume" in stderr
    saved = load_checkpoint_file(tmp_path / "checkpoints" / "supervised.pt")
    assert 40 <= saved["step"] < STEPS and not saved["finished"]
    resumed = _child(tmp_path, "--resume")
    stdout, stderr = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, stderr
    loss, score, _ = _final(stdout)
    assert loss == pytest.approx(uninterrupted[0], rel=1e-5)
    assert score == pytest.approx(uninterrupted[1], rel=1e-5)


def _tiny_training(control: RunControl, steps: int = 6) -> tuple:
    torch.manual_seed(0)
    net = UNet2d(out_channels=3, depth=2, base_features=4, final_activation="softmax")
    batches = StepBatches(RandomPatchDataset(_items(), (16, 16), seed=0), 2)
    calls: list[int] = []

    def validate(model) -> float:
        calls.append(1)
        return float(len(calls))

    result = train_supervised(
        net, batches, steps=steps, learning_rate=1e-2, weight_decay=0.0, class_weights=None,
        validate=validate, validate_every=3, control=control, log=lambda _: None,
    )  # fmt: skip
    return net, result, calls


def test_a_finished_stage_is_not_trained_again(tmp_path: Path) -> None:
    net, result, calls = _tiny_training(RunControl(tmp_path))
    assert len(calls) == 2 and result.best_step == 6
    assert result.record["steps"] == 6 and result.record["steps_timed"] == 6
    assert 0 <= result.record["data_share"] < 1
    again, resumed, calls_again = _tiny_training(RunControl(tmp_path, resume=True))
    assert calls_again == []  # nothing trained or validated
    assert resumed.best_step == 6 and resumed.best_score == result.best_score
    for key, value in net.state_dict().items():
        assert torch.equal(again.state_dict()[key], value)
    record = RunControl(tmp_path, resume=True).record
    assert record["stages"]["supervised"]["steps"] == 6


def test_existing_checkpoints_need_resume(tmp_path: Path) -> None:
    _tiny_training(RunControl(tmp_path))
    with pytest.raises(FileExistsError, match="pass --resume to continue it"):
        RunControl(tmp_path)


def test_resume_with_other_steps_is_refused(tmp_path: Path) -> None:
    _tiny_training(RunControl(tmp_path), steps=6)
    with pytest.raises(ValueError, match="trains to step 6, this run to 9"):
        _tiny_training(RunControl(tmp_path, resume=True), steps=9)


def test_a_damaged_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "checkpoints" / "supervised.pt"
    path.parent.mkdir()
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="supervised.pt is not a readable checkpoint"):
        _tiny_training(RunControl(tmp_path, resume=True))


def test_loop_arguments_are_checked() -> None:
    net = UNet2d(out_channels=3, depth=1, base_features=2)
    loop = TrainingLoop(
        stage="s", steps=0, validate_every=1, state={}, candidates={"m": net},
        validate=lambda _: 0.0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="`steps` and `validate_every` must be at least 1"):
        loop.run(iter([]), lambda step, batch: {})


def test_checkpoint_interval_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="`checkpoint_every_s` must be positive"):
        RunControl(tmp_path, checkpoint_every_s=0)


def test_checkpoints_are_written_at_the_interval(tmp_path: Path, monkeypatch) -> None:
    saves: list[int] = []
    control = RunControl(tmp_path, checkpoint_every_s=1e-9)  # due after every step
    original = control.save

    def spy(stage, payload):
        saves.append(payload["step"])
        return original(stage, payload)

    monkeypatch.setattr(control, "save", spy)
    _tiny_training(control, steps=5)
    assert saves == [1, 2, 3, 4, 5]  # every step, then the final one
