"""The block grid of a volume and the regions read around each block."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Region = tuple[slice, ...]


@dataclass(frozen=True)
class BlockGrid:
    """A regular grid of blocks covering ``shape``; the last block along an axis may be smaller.

    Examples
    --------
    >>> grid = BlockGrid((5, 3), (4, 4))
    >>> len(grid), grid.region(1)
    (2, (slice(4, 5, None), slice(0, 3, None)))
    """

    shape: tuple[int, ...]
    block_shape: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.block_shape) != len(self.shape) or min(self.block_shape, default=0) < 1:
            raise ValueError(
                f"`block_shape` {tuple(self.block_shape)} needs {len(self.shape)} positive values, "
                f"one per spatial axis of the volume {tuple(self.shape)}"
            )

    @property
    def counts(self) -> tuple[int, ...]:
        """Blocks per axis."""
        return tuple(math.ceil(s / b) for s, b in zip(self.shape, self.block_shape, strict=True))

    def __len__(self) -> int:
        return math.prod(self.counts)

    def position(self, block_id: int) -> tuple[int, ...]:
        """Grid position (one index per axis) of a block id (C order)."""
        return tuple(int(i) for i in _unravel(block_id, self.counts))

    def block_id(self, position: Sequence[int]) -> int:
        """Block id of a grid position, or -1 outside the grid."""
        if any(not 0 <= p < c for p, c in zip(position, self.counts, strict=True)):
            return -1
        block = 0
        for p, c in zip(position, self.counts, strict=True):
            block = block * c + p
        return block

    def region(self, block_id: int) -> Region:
        """The slices of a block."""
        return tuple(
            slice(p * b, min((p + 1) * b, s))
            for p, b, s in zip(self.position(block_id), self.block_shape, self.shape, strict=True)
        )

    def upper_neighbour(self, block_id: int, axis: int) -> int:
        """The block after ``block_id`` along ``axis``, or -1 at the volume's end."""
        position = list(self.position(block_id))
        position[axis] += 1
        return self.block_id(position)


def _unravel(index: int, counts: Sequence[int]) -> list[int]:
    position = []
    for count in reversed(counts):
        index, p = divmod(index, count)
        position.append(p)
    return position[::-1]


def grow(region: Region, margin: Sequence[int], shape: Sequence[int]) -> Region:
    """``region`` grown by ``margin`` on both sides, clipped to ``shape``."""
    return tuple(
        slice(max(r.start - m, 0), min(r.stop + m, s))
        for r, m, s in zip(region, margin, shape, strict=True)
    )


def within(region: Region, outer: Region) -> Region:
    """``region`` in the coordinates of ``outer`` (which contains it)."""
    return tuple(
        slice(r.start - o.start, r.stop - o.start) for r, o in zip(region, outer, strict=True)
    )


def aligned_read(
    region: Region,
    halo: Sequence[int],
    minimum: Sequence[int],
    step: Sequence[int],
    shape: Sequence[int],
) -> Region:
    """The region a network reads to predict ``region``: grown by its halo, the start moved
    down to its size grid (a multiple of ``step``), and grown further to its minimum size.

    A read region that ends at the volume's border is then padded by the network exactly as
    the whole volume is, so blockwise predictions reproduce whole-volume ones there too.
    """
    outer = []
    for r, h, low, st, size in zip(region, halo, minimum, step, shape, strict=True):
        grid = max(st, 1)
        start = max(r.start - h, 0) // grid * grid
        stop = min(r.stop + h, size)
        if stop - start < low:
            stop = min(start + low, size)
            start = max(stop - low, 0) // grid * grid
        outer.append(slice(start, stop))
    return tuple(outer)
