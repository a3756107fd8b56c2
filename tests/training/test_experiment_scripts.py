"""Helpers of the long experiments in ``training/experiments``: resuming and merging their result
files (a run that is stopped must not cost the runs it already finished) and their scores."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(
        name, REPO / "training/experiments" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def label_efficiency():
    return _load("teacher_label_efficiency")


@pytest.fixture(scope="module")
def transfer():
    return _load("enhancer_transfer")


def _efficiency_payload(commit: str, runs: list[dict], **overrides) -> dict:
    payload = {
        "git_commit": commit, "split_seed": 0, "steps": {"baseline": 300}, "generations": 1,
        "students_per_generation": 2, "max_unlabeled": 100, "seeds": [0, 1], "runs": runs,
    }  # fmt: skip
    return {**payload, **overrides}


def test_resume_keeps_finished_runs_and_records_both_commits(tmp_path, label_efficiency):
    path = tmp_path / "results.json"
    done = [{"budget": 38, "seed": 0, "method": "supervised", "ap50": 0.9}]
    path.write_text(json.dumps(_efficiency_payload("aaa", done)))
    resumed = label_efficiency.resumed_payload(path, _efficiency_payload("bbb", [], seeds=[2]))
    assert resumed["runs"] == done
    assert resumed["git_commits"] == ["aaa", "bbb"]
    assert resumed["seeds"] == [0, 1, 2]


def test_resume_refuses_results_written_with_other_settings(tmp_path, label_efficiency):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_efficiency_payload("aaa", [])))
    with pytest.raises(SystemExit, match="max_unlabeled"):
        label_efficiency.resumed_payload(path, _efficiency_payload("bbb", [], max_unlabeled=50))


def _transfer_payload(tasks: list[dict], trees: int = 100) -> dict:
    return {"git_commit": "aaa", "scribbles": {"strokes_per_class": 6}, "forest_trees": trees,
            "metric": "m", "tasks": tasks}  # fmt: skip


def test_merge_keeps_tasks_that_are_not_rerun(tmp_path, transfer):
    path = tmp_path / "transfer.json"
    boundaries = {"task": "boundaries", "rf": {"vi": 1.6}}
    nuclei = {"task": "nuclei", "rf": {"f1": 0.1}}
    path.write_text(json.dumps(_transfer_payload([boundaries, nuclei])))
    merged = transfer.merged_payload(path, _transfer_payload([]), ["nuclei", "organelles"])
    assert [t["task"] for t in merged["tasks"]] == ["boundaries"]
    assert merged["tasks"][0]["git_commit"] == "aaa"


def test_merge_refuses_other_forest_settings(tmp_path, transfer):
    path = tmp_path / "transfer.json"
    path.write_text(json.dumps(_transfer_payload([], trees=100)))
    with pytest.raises(SystemExit, match="forest_trees"):
        transfer.merged_payload(path, _transfer_payload([], trees=50), ["nuclei"])


def test_pixel_dice_of_thresholded_maps(transfer) -> None:
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True  # 4 pixels
    probabilities = np.zeros((4, 4), np.float32)
    probabilities[:2, :3] = 0.8  # 6 predicted, 4 of them right
    empty = transfer.Target("empty", probabilities, np.zeros((4, 4), bool), np.zeros((4, 4)))
    target = transfer.Target("t", probabilities, truth, truth.astype(np.uint32))
    assert transfer.pixel_dice([probabilities], [target], 0.5) == pytest.approx(2 * 4 / 10)
    assert transfer.pixel_dice([probabilities], [target], 0.9) == 0.0
    # Nothing predicted where there is nothing counts as perfect; the mean is over images.
    assert transfer.pixel_dice([np.zeros((4, 4)), probabilities], [empty, target], 0.5) == (
        pytest.approx((1.0 + 0.8) / 2)
    )
