"""What every training job shares: where it writes and how it trains (:class:`JobSettings`),
the start of its recorded run (:func:`start_run`) and the export of its result
(:func:`export_trained`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from semiseg_zoo.spec import ModelSpec
from semiseg_zoo.training.checkpoint import DEFAULT_CHECKPOINT_EVERY_S, RunControl
from semiseg_zoo.training.compute import ComputeSettings

Log = Callable[[str], None]


@dataclass
class JobSettings:
    """Where a training job writes and how it trains.

    Parameters
    ----------
    run_dir:
        Checkpoints, ``run.json``, ``validation.json`` and caches.
    output:
        The package zip.
    compute:
        Device, precision and layout.
    resume:
        Continue from the checkpoints in ``run_dir``.
    checkpoint_every_s:
        Wall-clock seconds between checkpoints.
    overwrite:
        Replace an existing ``output``.
    workers:
        Processes that prepare batches.
    log_every:
        Steps between log lines and validation-curve points (where the kind has no
        ``validate_every`` of its own).
    command:
        The command line recorded in ``run.json`` (default: this process's).
    progress:
        Show a progress bar.
    from_checkpoint:
        Skip training: evaluate and export these weights.
    export:
        Write the package (False: stop after validation, for experiments).
    """

    run_dir: Path
    output: Path
    compute: ComputeSettings
    resume: bool = False
    checkpoint_every_s: float = DEFAULT_CHECKPOINT_EVERY_S
    overwrite: bool = False
    workers: int = 0
    log_every: int = 250
    command: Sequence[str] | None = None
    progress: bool = False
    from_checkpoint: Path | None = None
    export: bool = True


def start_run(job: JobSettings, spec: ModelSpec) -> RunControl:
    """The run's :class:`RunControl`, with the command, spec and compute settings recorded."""
    control = RunControl(
        job.run_dir,
        resume=job.resume,
        checkpoint_every_s=job.checkpoint_every_s,
        progress=job.progress,
    )
    control.update_record(
        command=" ".join(job.command or [sys.executable, *sys.argv]),
        spec=spec.model_dump(mode="json"),
        compute=job.compute.describe(),
    )
    return control


def export_trained(
    net: nn.Module,
    spec: ModelSpec,
    output: Path,
    *,
    sample_input: np.ndarray,
    postprocessing: Mapping[str, Any],
    validation: Mapping[str, Any],
    training: Mapping[str, Any] | None,
    overwrite: bool = False,
    log: Log = print,
) -> Path:
    """Export ``net`` as a validated package and say how long it took."""
    from semiseg_zoo.export import export_package

    start = time.perf_counter()
    path = export_package(
        net.cpu().eval(),
        spec,
        sample_input=sample_input,
        output_path=output,
        postprocessing=postprocessing,
        validation=validation,
        training=training,
        overwrite=overwrite,
    )
    log(
        f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f}s"
    )
    return path


__all__ = ["JobSettings", "export_trained", "start_run"]
