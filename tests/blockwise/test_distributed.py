"""Blockwise runs on dask.distributed: a local cluster, a scheduler address, a killed worker."""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np
import pytest
import zarr

from semiseg_zoo.blockwise import predict_blockwise, segment_blockwise
from semiseg_zoo.inference import load_model
from semiseg_zoo.synthetic import synthetic_nuclei

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def teacher():
    return load_model("teacher-nuclei-2d", weight_format="onnx", device="cpu")


@pytest.fixture
def raw_path(tmp_path) -> str:
    raw, _ = synthetic_nuclei((512, 640), seed=11)
    path = tmp_path / "raw.zarr"
    zarr.create_array(path, data=raw.astype(np.float32), chunks=(128, 128))
    return str(path)


def test_local_cluster_prediction_equals_the_in_process_one(teacher, raw_path, tmp_path):
    expected = predict_blockwise(
        teacher, raw_path, tmp_path / "ref.zarr", block_shape=(128, 128), scheduler="synchronous"
    )[:]
    result = predict_blockwise(
        teacher,
        raw_path,
        tmp_path / "out.zarr",
        block_shape=(128, 128),
        scheduler="local",
        workers=2,
    )[:]
    np.testing.assert_array_equal(result, expected)


def test_killing_a_worker_mid_run_leaves_an_identical_result(teacher, raw_path, tmp_path):
    expected = segment_blockwise(
        teacher,
        tmp_path / "ref.zarr",
        volume=raw_path,
        block_shape=(64, 64),
        scheduler="synchronous",
    )[:]
    target = tmp_path / "seg.zarr"
    markers = tmp_path / "seg.zarr.partial" / ".work" / "segmented"
    killed: dict[str, object] = {}

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster, set_as_default=False)

    def kill_one_worker_after_some_blocks() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = len(os.listdir(markers)) if markers.is_dir() else 0
            if done >= 10:
                pids = client.run(os.getpid)
                address, pid = sorted(pids.items())[0]
                os.kill(pid, signal.SIGKILL)
                killed.update(address=address, after=done)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_one_worker_after_some_blocks, daemon=True)
    watcher.start()
    try:
        result = segment_blockwise(
            teacher,
            target,
            volume=raw_path,
            block_shape=(64, 64),
            scheduler=cluster.scheduler_address,
        )[:]
    finally:
        watcher.join(timeout=5)
        client.close()
        cluster.close()
    n_blocks = 8 * 10
    assert killed, "the worker was never killed: the run finished before 10 blocks were marked"
    assert killed["after"] < n_blocks
    np.testing.assert_array_equal(result, expected)


def test_an_unreachable_scheduler_is_a_clear_error(teacher, raw_path, tmp_path, monkeypatch):
    monkeypatch.setattr("semiseg_zoo.blockwise.executor.CONNECT_TIMEOUT", "1s")
    with pytest.raises(OSError, match=r"cannot reach the dask scheduler at tcp://127\.0\.0\.1:9"):
        predict_blockwise(teacher, raw_path, tmp_path / "o.zarr", scheduler="tcp://127.0.0.1:9")


def test_in_memory_arrays_cannot_go_to_worker_processes(teacher, tmp_path):
    with pytest.raises(ValueError, match="in-memory array"):
        predict_blockwise(
            teacher, np.zeros((256, 256), np.float32), tmp_path / "o.zarr", scheduler="local"
        )


def test_a_bad_scheduler_name_is_refused(teacher, raw_path, tmp_path):
    with pytest.raises(ValueError, match="expected 'local'"):
        predict_blockwise(teacher, raw_path, tmp_path / "o.zarr", scheduler="slurm")
