"""Run one task per block: in this process, or on a dask.distributed cluster.

A task writes its block and then records it as done. Blocks recorded as done are skipped, so
a run that crashed, or was killed, finishes the remaining blocks when started again; a worker
that dies mid-run has its blocks re-run elsewhere by dask.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SYNCHRONOUS = "synchronous"
LOCAL = "local"
CONNECT_TIMEOUT = "20s"

BlockTask = Callable[[int], Any]


@dataclass(frozen=True)
class DoneMarkers:
    """Empty files, one per finished block, in ``folder``."""

    folder: Path

    def marker(self, block_id: int) -> Path:
        return self.folder / str(block_id)

    def is_done(self, block_id: int) -> bool:
        return self.marker(block_id).exists()

    def mark(self, block_id: int) -> None:
        """Record a block as done (call only after its output is fully written)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.marker(block_id).touch()

    def pending(self, block_ids: Sequence[int]) -> list[int]:
        """The blocks of ``block_ids`` not recorded as done."""
        if not self.folder.is_dir():
            return list(block_ids)
        done = set(os.listdir(self.folder))
        return [b for b in block_ids if str(b) not in done]


@dataclass(frozen=True)
class BlockwiseOptions:
    """How to run a blockwise job (see :func:`~semiseg_zoo.blockwise.segment_blockwise`).

    Attributes
    ----------
    block_shape:
        Spatial block shape (default: the model's tile, or the stored chunks).
    halo:
        Context segmented around each block per axis (default: from the recipe).
    scheduler:
        ``"synchronous"``, ``"local"`` or ``"tcp://HOST:PORT"`` (default: ``"local"`` for a
        volume on disk, ``"synchronous"`` for an in-memory array).
    workers:
        Worker processes of a local cluster (default: one per core).
    overwrite:
        Replace an existing output.
    progress:
        Show progress bars.
    """

    block_shape: tuple[int, ...] | None = None
    halo: tuple[int, ...] | None = None
    scheduler: str | None = None
    workers: int | None = None
    overwrite: bool = False
    progress: bool = False


def check_scheduler(scheduler: str) -> str:
    """Return ``scheduler`` if it is ``"synchronous"``, ``"local"`` or ``tcp://HOST:PORT``.

    Raises
    ------
    ValueError
        For anything else.
    """
    if scheduler in (SYNCHRONOUS, LOCAL) or (
        scheduler.startswith(("tcp://", "tls://")) and ":" in scheduler.split("://", 1)[1]
    ):
        return scheduler
    raise ValueError(
        f"--scheduler {scheduler!r}: expected 'local' (a dask cluster on this machine), "
        "'synchronous' (in this process, no dask) or the address of a running dask scheduler, "
        "e.g. tcp://10.0.0.5:8786"
    )


def default_workers() -> int:
    """One single-threaded worker per CPU core available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def run_blocks(
    task: BlockTask,
    block_ids: Sequence[int],
    *,
    scheduler: str = LOCAL,
    workers: int | None = None,
    progress: bool = False,
    description: str = "blocks",
) -> None:
    """Run ``task(block_id)`` for every block id; the task records finished blocks itself.

    Parameters
    ----------
    task:
        A picklable callable (a dataclass instance of module-level class) that processes one
        block; it must be safe to run again on a block (a killed worker's block is re-run).
    block_ids:
        The blocks still to do.
    scheduler:
        ``"synchronous"``: one after the other in this process. ``"local"``: a dask
        ``LocalCluster`` of ``workers`` single-threaded worker processes on this machine.
        ``"tcp://HOST:PORT"``: the running dask scheduler at that address (its workers need
        semiseg-zoo installed and must see the same paths).
    workers:
        Worker processes of a local cluster (default: one per core); ignored otherwise.
    progress:
        Show a progress bar.
    description:
        Label of the progress bar.

    Raises
    ------
    Exception
        The first error a task raised (after the other submitted blocks finished or failed).
    """
    scheduler = check_scheduler(scheduler)
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be a positive number, got {workers}")
    from tqdm import tqdm

    bar = tqdm(
        total=len(block_ids), disable=not progress, unit="block", desc=description, file=sys.stderr
    )
    with bar:
        if not block_ids:
            return
        if scheduler == SYNCHRONOUS:
            for block_id in block_ids:
                task(block_id)
                bar.update()
            return
        with _client(scheduler, workers) as client:
            _run_on_cluster(client, task, block_ids, bar)


def _client(scheduler: str, workers: int | None) -> Any:
    import dask
    from distributed import Client, LocalCluster

    if scheduler != LOCAL:
        try:
            return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except OSError as error:
            raise OSError(
                f"cannot reach the dask scheduler at {scheduler} ({error}); start it with "
                "`dask scheduler` and its workers with `dask worker <address>`, or use "
                "--scheduler local"
            ) from None
    # Each worker process runs one block at a time on one core; the nanny restarts a worker
    # that dies and the scheduler re-runs its blocks.
    with dask.config.set({"logging.distributed": "error"}):
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
    return _OwnedClient(cluster)


class _OwnedClient:
    """A client together with the local cluster it owns; both close on exit."""

    def __init__(self, cluster: Any) -> None:
        from distributed import Client

        self.cluster = cluster
        self.client = Client(cluster, set_as_default=False)

    def __enter__(self) -> Any:
        return self.client

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self.cluster.close()


def _run_on_cluster(client: Any, task: BlockTask, block_ids: Sequence[int], bar: Any) -> None:
    from distributed import as_completed

    run = uuid.uuid4().hex[:12]  # keys unique per run: a long-lived cluster never reuses results
    keys = [f"{type(task).__name__}-{run}-{b}" for b in block_ids]
    futures = client.map(task, list(block_ids), key=keys)
    first_error: BaseException | None = None
    for future in as_completed(futures, loop=client.loop):
        if future.status == "error" and first_error is None:
            first_error = future.exception()
            client.cancel(futures)
        elif future.status == "finished":
            bar.update()
    if first_error is not None:
        raise first_error
