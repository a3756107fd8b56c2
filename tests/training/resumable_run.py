"""A small supervised training run with checkpoints, started as a child process by the resume
tests (so that they can stop it with real signals).

    python resumable_run.py RUN_DIR STEPS [--resume] [--checkpoint-every SECONDS]

It prints one line per validation (``step k/STEPS ...``, flushed) and, when it finishes,
``final <loss of the last step> <best score> <best step>``; exit 130 after SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from semiseg_zoo.nets import UNet2d
from semiseg_zoo.synthetic import synthetic_nuclei
from semiseg_zoo.training import (
    LabelledImage,
    RandomPatchDataset,
    RunControl,
    StepBatches,
    TrainingInterrupted,
    predict_whole_image,
    scale_range,
    three_class_targets,
    train_supervised,
)


def _item(seed: int) -> LabelledImage:
    image, labels = synthetic_nuclei((64, 64), n_objects=6, radius=(5.0, 9.0), seed=seed)
    return LabelledImage(f"s{seed}", scale_range(image)[None], labels.astype(np.int64))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("steps", type=int)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--checkpoint-every", type=float, default=0.05)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = UNet2d(out_channels=3, depth=2, base_features=4, final_activation="softmax")
    batches = StepBatches(RandomPatchDataset([_item(0), _item(1)], (32, 32), seed=0), 4)
    val = _item(2)
    target = torch.from_numpy(three_class_targets(val.labels).astype(np.int64))

    def validate(model) -> float:
        probabilities = predict_whole_image(model, val.image, divisor=model.divisor, device="cpu")
        log_p = torch.from_numpy(probabilities).clamp_min(1e-8).log()
        return float(log_p.gather(0, target[None]).mean())

    last: dict[str, float] = {}

    def loss(logits, labels):
        value = torch.nn.functional.cross_entropy(logits, labels)
        last["loss"] = value.item()
        return value

    control = RunControl(args.run_dir, resume=args.resume, checkpoint_every_s=args.checkpoint_every)
    try:
        result = train_supervised(
            net, batches, steps=args.steps, learning_rate=1e-2, weight_decay=0.0,
            class_weights=None, validate=validate, validate_every=10, loss=loss,
            control=control, log=lambda line: print(line, flush=True),
        )  # fmt: skip
    except TrainingInterrupted as stop:
        print(stop, file=sys.stderr, flush=True)
        return 130
    print(f"final {last.get('loss', float('nan'))!r} {result.best_score!r} {result.best_step}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
