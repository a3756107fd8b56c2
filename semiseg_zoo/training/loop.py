"""The one training loop every method uses: step-indexed batches, periodic validation with the
best weights kept, wall-clock checkpoints, resume, graceful stop on SIGINT/SIGTERM, and a record
of the run (steps, wall time, seconds per step split into data loading and compute, the
validation curve)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from semiseg_zoo.training.checkpoint import (
    Clock,
    RunControl,
    Stateful,
    StopRequests,
    TrainingInterrupted,
    restore_rng_states,
    rng_states,
)
from semiseg_zoo.training.step_batches import StepBatches

StepMetrics = Mapping[str, float]


@dataclass
class TrainingResult:
    """The best weights seen, their validation score and step, and the logged history."""

    best_state: dict[str, torch.Tensor]
    best_score: float
    best_step: int
    history: list[dict[str, Any]] = field(default_factory=list)
    best_source: str = "model"
    #: Steps, wall time and seconds per step of this stage (all processes of a resumed run).
    record: dict[str, Any] = field(default_factory=dict)


class IteratorBatches:
    """Adapts a plain iterator of batches (not resumable: a resumed run draws new batches)."""

    def __init__(self, batches: Iterator[Any]) -> None:
        self._batches = batches

    def iterate(self, start: int, stop: int) -> Iterator[tuple[int, Any]]:
        for step in range(start, stop + 1):
            yield step, next(self._batches)


class ZippedBatches:
    """Several step-indexed streams drawn together: batch ``k`` is a tuple of their batches."""

    def __init__(self, *streams: StepBatches | IteratorBatches) -> None:
        self.streams = streams

    def iterate(self, start: int, stop: int) -> Iterator[tuple[int, tuple[Any, ...]]]:
        iterators = [stream.iterate(start, stop) for stream in self.streams]
        for items in zip(*iterators, strict=True):
            yield items[0][0], tuple(batch for _, batch in items)


Batches = StepBatches | IteratorBatches | ZippedBatches


def as_batches(batches: Batches | Iterator[Any]) -> Batches:
    """Step-indexed batches as they are; a plain iterator wrapped by :class:`IteratorBatches`."""
    if isinstance(batches, StepBatches | IteratorBatches | ZippedBatches):
        return batches
    return IteratorBatches(batches)


def _cpu_state(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}


class _ProgressBar:
    """tqdm bar of one stage: step, loss, last validation score, ETA."""

    def __init__(self, stage: str, start: int, steps: int) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=steps, initial=start, desc=stage, unit="step", dynamic_ncols=True)

    def update(self, step: int, metrics: StepMetrics, score: float | None) -> None:
        self._bar.n = step
        postfix = {"loss": f"{metrics.get('loss', math.nan):.4f}"}
        if score is not None:
            postfix["val"] = f"{score:.4f}"
        self._bar.set_postfix(postfix, refresh=False)
        self._bar.refresh()

    def write(self, line: str) -> None:
        self._bar.write(line)

    def close(self) -> None:
        self._bar.close()


@dataclass
class _Timing:
    steps: int = 0
    data_s: float = 0.0
    compute_s: float = 0.0
    validate_s: float = 0.0
    checkpoint_s: float = 0.0
    wall_s: float = 0.0
    sessions: int = 0

    def summary(self) -> dict[str, Any]:
        per_step = (self.data_s + self.compute_s) / self.steps if self.steps else math.nan
        return {
            "steps_timed": self.steps,
            "wall_s": round(self.wall_s, 1),
            "sessions": self.sessions,
            "data_s_per_step": round(self.data_s / self.steps, 5) if self.steps else None,
            "compute_s_per_step": round(self.compute_s / self.steps, 5) if self.steps else None,
            "data_share": round(self.data_s / (self.data_s + self.compute_s), 4)
            if self.steps
            else None,
            "s_per_step": round(per_step, 5) if self.steps else None,
            "validate_s": round(self.validate_s, 1),
            "checkpoint_s": round(self.checkpoint_s, 1),
        }


@dataclass
class TrainingLoop:
    """Runs ``steps`` training steps of one stage.

    Parameters
    ----------
    stage:
        Name of the stage, unique within the run (its checkpoint file).
    steps:
        The final step.
    validate_every:
        Steps between validations (also at the last step).
    state:
        Everything whose state a resumed run needs (networks, optimisers, schedulers, EMA
        networks, thresholds, loss scaler), by name.
    candidates:
        The networks whose weights may be kept as "best" (e.g. student and mean teacher); the
        first is the one the history's ``score`` refers to.
    validate:
        ``validate(net) -> score`` (higher is better); ``None``: the curve holds the losses
        only and the last weights are kept.
    control:
        Checkpointing and resume (``None``: nothing is saved, as in unit tests).
    initial_source:
        If given, the first candidate is validated before step 1 and recorded as this source
        (ACTIS: the supervised baseline is a valid result).
    log:
        Receives one line per validation.
    """

    stage: str
    steps: int
    validate_every: int
    state: Mapping[str, Stateful]
    candidates: Mapping[str, nn.Module]
    validate: Callable[[nn.Module], float] | None
    control: RunControl | None = None
    initial_source: str | None = None
    log: Callable[[str], None] = print
    describe: Mapping[str, Any] = field(default_factory=dict)
    #: Show a progress bar (step, loss, last validation score, ETA) on stderr.
    progress: bool = False
    #: Keep the best-validating weights; False: validate for the curve only and keep the last.
    select_best: bool = True

    def run(
        self,
        batches: Batches | Iterator[Any],
        train_step: Callable[[int, Any], StepMetrics],
    ) -> TrainingResult:
        """Call ``train_step(step, batch) -> metrics`` for every remaining step; returns the
        best weights. A finished stage (on resume) is not trained again.

        Raises
        ------
        TrainingInterrupted
            After SIGINT/SIGTERM, once the checkpoint of the current step is saved.
        """
        if self.steps < 1 or self.validate_every < 1:
            raise ValueError(
                f"`steps` and `validate_every` must be at least 1, got {self.steps} and "
                f"{self.validate_every}"
            )
        batches = as_batches(batches)
        first = next(iter(self.candidates.values()))
        result = TrainingResult(_cpu_state(first), -math.inf, 0)
        timing = _Timing()
        sums: dict[str, float] = {}
        count, step = 0, 0
        saved = self.control.load(self.stage) if self.control else None
        if saved is not None:
            step, count, sums = self._restore(saved, result, timing)
            if saved.get("finished"):
                self.log(f"{self.stage}: finished earlier (step {step}); loaded its checkpoint")
                result.record = dict(self.control.record.get("stages", {}).get(self.stage, {}))
                return result
            self.log(f"{self.stage}: resuming at step {step}/{self.steps}")
        elif self.initial_source is not None and self.validate is not None:
            score = self.validate(first)
            result.best_score, result.best_source = score, self.initial_source
            result.history.append({"step": 0, "score": score, "source": self.initial_source})
            self.log(f"step 0/{self.steps}  val score {score:.4f} ({self.initial_source})")
        if step >= self.steps:
            return self._finish(result, timing, step, count, sums)

        timing.sessions += 1
        clock, session_start = Clock(), time.perf_counter()
        wall_before = timing.wall_s
        stops = StopRequests()
        show_bar = self.progress or (self.control is not None and self.control.progress)
        bar = _ProgressBar(self.stage, step, self.steps) if show_bar else None
        log = bar.write if bar is not None else self.log
        try:
            with stops.installed():
                fetch_start = time.perf_counter()
                first_step = step + 1
                for step, batch in batches.iterate(first_step, self.steps):  # noqa: B020
                    compute_start = time.perf_counter()
                    metrics = train_step(step, batch)
                    done = time.perf_counter()
                    timing.data_s += compute_start - fetch_start
                    timing.compute_s += done - compute_start
                    timing.steps += 1
                    for key, value in metrics.items():
                        sums[key] = sums.get(key, 0.0) + float(value)
                    count += 1
                    if step % self.validate_every == 0 or step == self.steps:
                        validate_start = time.perf_counter()
                        elapsed = wall_before + validate_start - session_start
                        self._validate(step, result, sums, count, elapsed, log)
                        timing.validate_s += time.perf_counter() - validate_start
                        sums, count = {}, 0
                    timing.wall_s = wall_before + time.perf_counter() - session_start
                    if bar is not None:
                        score = result.history[-1].get("score") if result.history else None
                        bar.update(step, metrics, score)
                    if (
                        self.control
                        and step < self.steps
                        and (stops.requested or clock.due(self.control.checkpoint_every_s))
                    ):
                        path = self._save(result, timing, step, count, sums, finished=False)
                        clock.reset()
                        if stops.requested:
                            raise TrainingInterrupted(path, step, stops.signal_name or "signal")
                    fetch_start = time.perf_counter()
        finally:
            if bar is not None:
                bar.close()
        timing.wall_s = wall_before + time.perf_counter() - session_start
        return self._finish(result, timing, step, count, sums)

    def _validate(
        self,
        step: int,
        result: TrainingResult,
        sums: dict[str, float],
        count: int,
        elapsed: float,
        log: Callable[[str], None],
    ) -> None:
        entry: dict[str, Any] = {"step": step, **{k: v / count for k, v in sums.items()}}
        names = list(self.candidates)
        if self.validate is None:
            source, net = next(iter(self.candidates.items()))
            result.best_step, result.best_source = step, source
            result.best_state = _cpu_state(net)
        else:
            for index, (source, net) in enumerate(self.candidates.items()):
                was_training = net.training
                score = self.validate(net)
                net.train(was_training)
                entry["score" if index == 0 else f"{source}_score"] = score
                if not self.select_best:
                    if index == 0:
                        result.best_score, result.best_step, result.best_source = (
                            score,
                            step,
                            source,
                        )
                        result.best_state = _cpu_state(net)
                elif score > result.best_score:
                    result.best_score, result.best_step, result.best_source = score, step, source
                    result.best_state = _cpu_state(net)
        entry["seconds"] = round(elapsed, 1)
        result.history.append(entry)
        losses = "  ".join(
            f"{k} {v:.4f}" for k, v in entry.items() if k not in ("step", "seconds") and
            not k.endswith("score")
        )  # fmt: skip
        if self.validate is None:
            log(f"step {step}/{self.steps}  {losses}  {entry['seconds']:.0f}s")
            return
        others = "".join(f"  {n} {entry[f'{n}_score']:.4f}" for n in names[1:])
        source = f" ({result.best_source})" if len(names) > 1 or self.initial_source else ""
        log(
            f"step {step}/{self.steps}  {losses}  val score {entry['score']:.4f}{others}  best "
            f"{result.best_score:.4f} @ {result.best_step}{source}  {entry['seconds']:.0f}s"
        )

    def _payload(
        self,
        result: TrainingResult,
        timing: _Timing,
        step: int,
        count: int,
        sums: dict[str, float],
        finished: bool,
    ) -> dict[str, Any]:
        return {
            "step": step,
            "steps": self.steps,
            "finished": finished,
            "state": {name: obj.state_dict() for name, obj in self.state.items()},
            "best": {
                "score": result.best_score,
                "step": result.best_step,
                "source": result.best_source,
                "state": result.best_state,
            },
            "history": result.history,
            "running": {"count": count, "sums": sums},
            "timing": timing.__dict__.copy(),
            "rng": rng_states(),
        }

    def _save(self, result, timing, step, count, sums, *, finished: bool):
        assert self.control is not None
        start = time.perf_counter()
        path = self.control.save(
            self.stage, self._payload(result, timing, step, count, sums, finished)
        )
        timing.checkpoint_s += time.perf_counter() - start
        return path

    def _restore(
        self, saved: dict[str, Any], result: TrainingResult, timing: _Timing
    ) -> tuple[int, int, dict[str, float]]:
        if saved["steps"] != self.steps:
            raise ValueError(
                f"the checkpoint of stage {self.stage!r} trains to step {saved['steps']}, this "
                f"run to {self.steps}; resume with the same steps or use another run folder"
            )
        missing = set(self.state) - set(saved["state"])
        if missing:
            raise ValueError(f"the checkpoint of stage {self.stage!r} lacks {sorted(missing)}")
        for name, obj in self.state.items():
            obj.load_state_dict(saved["state"][name])
        best = saved["best"]
        result.best_score, result.best_step = best["score"], best["step"]
        result.best_source, result.best_state = best["source"], best["state"]
        result.history = list(saved["history"])
        timing.__dict__.update(saved["timing"])
        restore_rng_states(saved["rng"])
        return saved["step"], saved["running"]["count"], dict(saved["running"]["sums"])

    def _finish(self, result, timing, step, count, sums) -> TrainingResult:
        result.record = {
            "stage": self.stage,
            "steps": step,
            "best_step": result.best_step,
            "best_score": result.best_score,
            "best_source": result.best_source,
            **timing.summary(),
            **dict(self.describe),
            "validation_curve": result.history,
        }
        if self.control:
            self._save(result, timing, step, count, sums, finished=True)
            self.control.record_stage(self.stage, result.record)
        return result


__all__ = [
    "Batches",
    "IteratorBatches",
    "TrainingLoop",
    "TrainingResult",
    "ZippedBatches",
    "as_batches",
]
