"""A teacher training job from a spec to a validated package: resumable training, checkpoint
selection and watershed tuning on held-out images, validation, export, and the run record."""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from semiseg_zoo.export import export_package
from semiseg_zoo.spec import TeacherSpec
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training.checkpoint import RunControl
from semiseg_zoo.training.run_files import write_json
from semiseg_zoo.training.run_record import training_record
from semiseg_zoo.training.teacher.modes import (
    TeacherData,
    TeacherSchedule,
    TrainedTeacher,
    build_net,
    train_teacher,
    tune_and_validate,
)

Log = Callable[[str], None]


@dataclass
class TeacherJobResult:
    """What a finished job wrote and measured."""

    package: Path
    postprocessing: dict[str, Any]
    validation: dict[str, Any]
    training: dict[str, Any]


def load_weights(path: Path, spec: TeacherSpec) -> tuple[torch.nn.Module, TeacherSpec]:
    """A net of ``spec``'s architecture with the weights of a job's ``checkpoint.pt``.

    Raises
    ------
    ValueError
        If the file does not hold weights of this architecture.
    """
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    net, net_spec = build_net(spec, checkpoint.get("width_factor", 1.0))
    try:
        net.load_state_dict(checkpoint["state_dict"])
    except (KeyError, RuntimeError) as error:
        raise ValueError(
            f"{path}: not a checkpoint of {spec.name}'s architecture ({error})"
        ) from error
    if checkpoint.get("data_description"):
        # The checkpoint knows what trained it (e.g. an experiment with a smaller unlabeled
        # pool than the spec describes); the package must say that, not the spec's plan.
        training = net_spec.training.model_copy(
            update={"data_description": checkpoint["data_description"]}
        )
        net_spec = net_spec.model_copy(update={"training": training})
    return net, net_spec


def sample_input_for(spec: TeacherSpec) -> np.ndarray:
    """The project-made image that becomes the package's test tensor (never user data)."""
    image, _ = synthetic_nuclei((256, 256), seed=0)
    if spec.input.channels > 1:
        image = np.repeat(image[None], spec.input.channels, axis=0)
    return image


def run_teacher_job(
    spec: TeacherSpec,
    data: TeacherData,
    *,
    run_dir: Path,
    output: Path,
    schedule: TeacherSchedule,
    resume: bool = False,
    checkpoint_every_s: float = 180.0,
    overwrite: bool = False,
    baselines: Sequence[Path] = (),
    from_checkpoint: Path | None = None,
    command: Sequence[str] | None = None,
    progress: bool = False,
    log: Log = print,
) -> TeacherJobResult:
    """Train (or continue training) ``spec`` on ``data``, tune, validate and export.

    Parameters
    ----------
    run_dir:
        Checkpoints, ``run.json`` (the command, settings and every stage's record),
        ``checkpoint.pt`` (the final weights) and ``validation.json``.
    output:
        The package zip, written only after ``bioimageio.core.test_model`` passes.
    resume:
        Continue the stages from their checkpoints in ``run_dir``.
    baselines:
        Supervised checkpoints to start ACTIS / Inconsistency Masks from instead of training.
    from_checkpoint:
        Skip training: tune and export these weights.
    progress:
        Show a progress bar per stage.
    """
    control = RunControl(
        run_dir, resume=resume, checkpoint_every_s=checkpoint_every_s, progress=progress
    )
    command = list(command) if command is not None else sys.argv
    control.update_record(
        command=shlex.join(command),
        spec=spec.model_dump(mode="json"),
        compute=schedule.compute.describe(),
        data=data.describe(),
        started=control.record.get("started") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    )
    (run_dir / "command.txt").write_text(shlex.join(command) + "\n")
    start = time.perf_counter()
    if from_checkpoint is not None:
        net, net_spec = load_weights(from_checkpoint, spec)
        trained = TrainedTeacher(net, net_spec, "checkpoint", None, [], [])
    else:
        nets = [load_weights(path, spec)[0] for path in baselines] or None
        trained = train_teacher(spec, data, schedule=schedule, control=control, baselines=nets,
                                log=log)  # fmt: skip
        torch.save(
            {
                "state_dict": {k: v.cpu() for k, v in trained.net.state_dict().items()},
                "width_factor": trained.width_factor,
                "best_step": trained.best_step,
                "kept": trained.kept,
                "history": trained.history,
            },
            run_dir / "checkpoint.pt",
        )
        log(f"trained in {time.perf_counter() - start:.0f}s; saved {run_dir / 'checkpoint.pt'}")
    record = {**training_record(trained.stages), "kept": trained.kept}
    device = schedule.compute.device
    log("grid search of the watershed thresholds on the tuning images")
    postprocessing, validation = tune_and_validate(trained.net, trained.spec, data, device, log)
    write_json(
        run_dir / "validation.json",
        {"postprocessing": postprocessing, "validation": validation, "history": trained.history},
    )
    control.update_record(validation=validation, postprocessing=postprocessing, training=record)
    log(f"tuned {postprocessing}: {validation}")
    start = time.perf_counter()
    path = export_package(
        trained.net.cpu(),
        trained.spec,
        sample_input=sample_input_for(trained.spec),
        output_path=output,
        postprocessing=postprocessing,
        validation=validation,
        training=record,
        overwrite=overwrite,
    )
    log(
        f"exported {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f}s"
    )
    control.update_record(package=str(path))
    return TeacherJobResult(path, postprocessing, validation, record)


__all__ = ["TeacherJobResult", "load_weights", "run_teacher_job", "sample_input_for"]
