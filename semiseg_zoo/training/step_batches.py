"""Batches that are a pure function of (seed, step), so that a resumed run sees the same data.

Every patch dataset is a :class:`PatchSampler`: it draws one training item from a
``numpy.random.Generator``. :class:`StepBatches` turns a sampler into batch number ``k`` drawn
with a generator seeded by ``(seed, stream, k)``; a run resumed at step ``k`` therefore gets
exactly the batches an uninterrupted run would have seen, without storing any iterator state.
Optional worker processes prepare the next batches while the network trains.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch


class PatchSampler(torch.utils.data.IterableDataset):
    """A source of random training items: subclasses implement :meth:`sample`.

    Iterating gives an endless stream (one generator seeded by ``seed``, ``stream`` and the
    DataLoader worker id), as the datasets did before step-indexed batches existed.
    """

    seed: int = 0
    #: Distinguishes the streams of different datasets that share a seed.
    stream: int = 0

    def sample(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...] | torch.Tensor:
        """One training item drawn with ``rng``."""
        raise NotImplementedError

    def __iter__(self) -> Iterator[Any]:
        worker = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, self.stream, 0 if worker is None else worker.id])
        while True:
            yield self.sample(rng)


def _collate(items: Sequence[Any]) -> Any:
    if isinstance(items[0], torch.Tensor):
        return torch.stack(list(items))
    return tuple(torch.stack([item[i] for item in items]) for i in range(len(items[0])))


class _StepDataset(torch.utils.data.Dataset):
    """Map-style view of a sampler: item ``k`` is the whole batch of step ``k``."""

    def __init__(self, sampler: PatchSampler, batch_size: int, seed: int, stream: int) -> None:
        self.sampler, self.batch_size, self.seed, self.stream = sampler, batch_size, seed, stream

    def __len__(self) -> int:  # steps are unbounded; DataLoader only needs the sampler's range
        return 2**62

    def __getitem__(self, step: int) -> Any:
        rng = np.random.default_rng([self.seed, self.stream, int(step)])
        return _collate([self.sampler.sample(rng) for _ in range(self.batch_size)])


class StepBatches:
    """Batch ``k`` of ``sampler`` for any step ``k``, the same on every call and after a resume.

    Parameters
    ----------
    sampler:
        The dataset (a :class:`PatchSampler`).
    batch_size:
        Items per batch.
    seed:
        Seed of the stream (default: the sampler's).
    workers:
        Worker processes that prepare batches ahead of the training step (0: in this process).

    Examples
    --------
    >>> batches = StepBatches(sampler, 4)           # doctest: +SKIP
    >>> for step, batch in batches.iterate(start=1, stop=100):  # doctest: +SKIP
    ...     ...
    """

    def __init__(
        self,
        sampler: PatchSampler,
        batch_size: int,
        *,
        seed: int | None = None,
        workers: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be at least 1, got {batch_size}")
        if workers < 0:
            raise ValueError(f"`workers` must be 0 or more, got {workers}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.seed = sampler.seed if seed is None else seed
        self.workers = workers
        self._dataset = _StepDataset(sampler, batch_size, self.seed, sampler.stream)

    def batch(self, step: int) -> Any:
        """The batch of ``step`` (a tensor, or a tuple of tensors), computed in this process."""
        return self._dataset[step]

    def iterate(self, start: int, stop: int) -> Iterator[tuple[int, Any]]:
        """``(step, batch)`` for ``step`` in ``start..stop`` (inclusive), prefetched by the
        worker processes if there are any."""
        steps = range(start, stop + 1)
        if self.workers == 0:
            for step in steps:
                yield step, self.batch(step)
            return
        loader = torch.utils.data.DataLoader(
            self._dataset,
            batch_size=None,
            sampler=steps,
            num_workers=self.workers,
            prefetch_factor=2,
            persistent_workers=False,
        )
        yield from zip(steps, loader, strict=True)


__all__ = ["PatchSampler", "StepBatches"]
