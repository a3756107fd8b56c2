"""The summary of a training run that goes into ``run.json`` and a package's
``config.semiseg.training``: steps, wall time, device, precision, seconds per step split into
data loading and compute, and the validation curve of every stage."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The keys of a validation-curve point kept in packages (losses and scores, not thresholds).
_CURVE_KEYS = ("step", "loss", "score", "teacher_score", "source")


def training_record(stages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine the records of the stages of one run (from :class:`TrainingLoop` results).

    Per-step seconds are weighted by the steps each stage timed; the curve keeps step, loss and
    score of every validation.

    Examples
    --------
    >>> stage = {"stage": "baseline-0", "steps": 10, "steps_timed": 10, "wall_s": 5.0,
    ...          "data_s_per_step": 0.01, "compute_s_per_step": 0.29, "device": "cpu",
    ...          "precision": "bfloat16", "best_step": 10, "best_score": 0.9,
    ...          "validation_curve": [{"step": 10, "loss": 0.5, "score": 0.9}]}
    >>> record = training_record([stage])
    >>> record["steps"], record["s_per_step"], record["data_share"]
    (10, 0.3, 0.0333)
    """
    if not stages:
        return {"steps": 0, "stages": []}
    timed = sum(stage.get("steps_timed") or 0 for stage in stages)

    def weighted(key: str) -> float | None:
        if not timed:
            return None
        total = sum((stage.get(key) or 0.0) * (stage.get("steps_timed") or 0) for stage in stages)
        return total / timed

    data, compute = weighted("data_s_per_step"), weighted("compute_s_per_step")
    first = stages[0]
    return {
        "steps": sum(stage["steps"] for stage in stages),
        "wall_s": round(sum(stage.get("wall_s", 0.0) for stage in stages), 1),
        "device": first.get("device"),
        "device_name": first.get("device_name"),
        "precision": first.get("precision"),
        "channels_last": first.get("channels_last"),
        "threads": first.get("threads"),
        "s_per_step": None if data is None else round(data + compute, 4),
        "data_s_per_step": None if data is None else round(data, 5),
        "compute_s_per_step": None if compute is None else round(compute, 5),
        "data_share": None if data is None else round(data / (data + compute), 4),
        "stages": [
            {
                "stage": stage["stage"],
                "steps": stage["steps"],
                "best_step": stage.get("best_step"),
                "best_score": stage.get("best_score"),
                "best_source": stage.get("best_source"),
                "wall_s": stage.get("wall_s"),
                "sessions": stage.get("sessions"),
                "s_per_step": stage.get("s_per_step"),
                "data_share": stage.get("data_share"),
                "validation_curve": [
                    {k: _round(point[k]) for k in _CURVE_KEYS if k in point}
                    for point in stage.get("validation_curve", [])
                ],
            }
            for stage in stages
        ],
    }


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


__all__ = ["training_record"]
