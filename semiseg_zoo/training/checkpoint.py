"""Checkpoints of a training run: where they live, how often they are written, and how a run
resumes from one.

A run folder holds ``checkpoints/<stage>.pt`` for each stage of training (a baseline, a
student, a generation of students, ...) and ``run.json``, the record of the run. A checkpoint
has everything the stage needs to continue: the state of every registered object (networks,
optimisers, schedulers, EMA/teacher/momentum networks, thresholds), the step, the best score and
weights so far, the validation curve, the timings and torch's random number generator states.
Data and augmentations are drawn from generators seeded by the step (:mod:`.step_batches`), so
they need no saved state.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

#: Written into every checkpoint; a checkpoint of another format is refused on resume.
CHECKPOINT_FORMAT = 1
DEFAULT_CHECKPOINT_EVERY_S = 180.0


class Stateful(Protocol):
    """Anything with ``state_dict()`` and ``load_state_dict()``: modules, optimisers,
    schedulers, :class:`~semiseg_zoo.training.teacher.pseudo_labels.ClassThresholds`."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


class TrainingInterrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM after saving its checkpoint; ``--resume`` continues it.

    It derives from :class:`KeyboardInterrupt` so that code which lets Ctrl-C through lets this
    through too.
    """

    def __init__(self, checkpoint: Path, step: int, signal_name: str) -> None:
        super().__init__(
            f"{signal_name}: stopped at step {step}; checkpoint {checkpoint}; run the same "
            "command with --resume to continue"
        )
        self.checkpoint, self.step, self.signal_name = checkpoint, step, signal_name


def rng_states() -> dict[str, torch.Tensor]:
    """torch's CPU (and, when present, CUDA) generator states."""
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.stack(torch.cuda.get_rng_state_all())
    return states


def restore_rng_states(states: dict[str, torch.Tensor]) -> None:
    """Undo :func:`rng_states` (CUDA states only where CUDA is available)."""
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(states["cuda"]))


def save_atomically(payload: dict[str, Any], path: Path) -> None:
    """``torch.save`` into a temporary file next to ``path``, then rename: a kill while saving
    leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    torch.save(payload, partial)
    os.replace(partial, path)


def load_checkpoint_file(path: Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_atomically` (``weights_only``: no code runs).

    Raises
    ------
    ValueError
        If the file is not a checkpoint of this format.
    """
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a damaged file
        raise ValueError(
            f"{path} is not a readable checkpoint ({error}); delete it to start the stage again"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} is not a semiseg-zoo checkpoint of format {CHECKPOINT_FORMAT}; delete it "
            "to start the stage again"
        )
    return payload


@dataclass
class RunControl:
    """Where a run keeps its checkpoints and record, how often it checkpoints, and whether it
    continues from existing checkpoints.

    Parameters
    ----------
    run_dir:
        The run folder (``checkpoints/``, ``run.json``).
    resume:
        Continue every stage from its checkpoint; finished stages are not trained again.
    checkpoint_every_s:
        Wall-clock seconds between checkpoints (and one at the end of each stage).
    progress:
        Show a progress bar per stage (step, loss, last validation score, ETA).
    """

    run_dir: Path
    resume: bool = False
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    progress: bool = False
    _record: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        if self.checkpoint_every_s <= 0:
            raise ValueError(
                f"`checkpoint_every_s` must be positive, got {self.checkpoint_every_s}"
            )
        if self.record_path.is_file():
            self._record = json.loads(self.record_path.read_text())
        if not self.resume and self.checkpoint_dir.is_dir() and any(self.checkpoint_dir.iterdir()):
            raise FileExistsError(
                f"{self.checkpoint_dir} holds checkpoints of an earlier run; pass --resume to "
                "continue it, or choose another run folder"
            )

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def record_path(self) -> Path:
        return self.run_dir / "run.json"

    def checkpoint_path(self, stage: str) -> Path:
        """The checkpoint file of ``stage``."""
        if not stage or "/" in stage or stage.startswith("."):
            raise ValueError(f"stage names are plain file names, got {stage!r}")
        return self.checkpoint_dir / f"{stage}.pt"

    def load(self, stage: str) -> dict[str, Any] | None:
        """The checkpoint of ``stage`` if resuming and there is one, else ``None``."""
        path = self.checkpoint_path(stage)
        if not self.resume or not path.is_file():
            return None
        return load_checkpoint_file(path)

    def save(self, stage: str, payload: dict[str, Any]) -> Path:
        """Write the checkpoint of ``stage`` atomically."""
        path = self.checkpoint_path(stage)
        save_atomically({"format": CHECKPOINT_FORMAT, "stage": stage, **payload}, path)
        return path

    @property
    def record(self) -> dict[str, Any]:
        """The run record (``run.json``) as written so far."""
        return self._record

    def update_record(self, **entries: Any) -> None:
        """Merge ``entries`` into the run record and write it (atomically)."""
        self._record.update(entries)
        self._write_record()

    def record_stage(self, stage: str, summary: dict[str, Any]) -> None:
        """Store the summary of ``stage`` (steps, timings, curve) in the run record."""
        self._record.setdefault("stages", {})[stage] = summary
        self._write_record()

    def _write_record(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        partial = self.record_path.with_name(".run.json.partial")
        partial.write_text(json.dumps(self._record, indent=2))
        os.replace(partial, self.record_path)


class StopRequests:
    """Turns SIGINT/SIGTERM into a request that the training loop honours after its current
    step (it saves a checkpoint, then raises :class:`TrainingInterrupted`)."""

    def __init__(self) -> None:
        self.signal_name: str | None = None

    @contextmanager
    def installed(self) -> Iterator[StopRequests]:
        """Handle the signals while the block runs (only in the main thread, where Python can
        install handlers; elsewhere the signals keep their default meaning)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {}

        def request(signum: int, _frame: Any) -> None:
            if self.signal_name is not None and signum == signal.SIGINT:
                raise KeyboardInterrupt  # a second Ctrl-C stops at once
            self.signal_name = signal.Signals(signum).name

        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, request)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    @property
    def requested(self) -> bool:
        return self.signal_name is not None


class Clock:
    """Wall-clock seconds since the last checkpoint."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def due(self, every_s: float) -> bool:
        return time.monotonic() - self.last >= every_s

    def reset(self) -> None:
        self.last = time.monotonic()


__all__ = [
    "CHECKPOINT_FORMAT",
    "DEFAULT_CHECKPOINT_EVERY_S",
    "Clock",
    "RunControl",
    "Stateful",
    "StopRequests",
    "TrainingInterrupted",
    "load_checkpoint_file",
    "restore_rng_states",
    "rng_states",
    "save_atomically",
]
