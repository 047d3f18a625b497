"""Live classes' joiners per tick, kept only over the ticks each class takes joiners.

A class takes joiners from five minutes before its start to twenty minutes after (or its end),
so over a long run almost every (class, tick) cell is zero: six weeks of minute ticks and a
few thousand classes made a dense devices x classes x ticks array of gigabytes, and the
expected-stale-sessions sum over it some more (the fluid covid-growth run reached 14.5 GB).
`ClassWeights` keeps each class's block of ticks alone and hands out the dense views the
engines read: one tick's devices x classes, or the rows of a set of (device, tick) draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ClassWeights"]


@dataclass(frozen=True)
class ClassWeights:
    """Class c's joiners by device over ticks first[c] .. first[c] + blocks[c].shape[1] - 1
    (zero elsewhere), over a run of `ticks` ticks and `devices` devices."""

    devices: int
    ticks: int
    first: np.ndarray
    blocks: tuple[np.ndarray, ...]

    @classmethod
    def from_dense(cls, dense: np.ndarray) -> ClassWeights:
        """The nonzero span of each class of a devices x classes x ticks array."""
        devices, classes, ticks = dense.shape
        first, blocks = np.zeros(classes, np.int64), []
        for c in range(classes):
            live = np.flatnonzero(dense[:, c, :].any(axis=0))
            lo, hi = (int(live[0]), int(live[-1]) + 1) if live.size else (0, 0)
            first[c] = lo
            blocks.append(np.array(dense[:, c, lo:hi], dtype=float))
        return cls(devices, ticks, first, tuple(blocks))

    @classmethod
    def from_blocks(
        cls, devices: int, ticks: int, first: Sequence[int], blocks: Sequence[np.ndarray]
    ) -> ClassWeights:
        return cls(devices, ticks, np.asarray(first, np.int64), tuple(blocks))

    @property
    def classes(self) -> int:
        return len(self.blocks)

    @property
    def last(self) -> np.ndarray:
        """One past each class's last tick of joiners."""
        return self.first + np.array([b.shape[1] for b in self.blocks], np.int64)

    @property
    def nbytes(self) -> int:
        return int(sum(b.nbytes for b in self.blocks) + self.first.nbytes)

    def at(self, k: int) -> np.ndarray:
        """Devices x classes at tick k."""
        out = np.zeros((self.devices, self.classes))
        for c in np.flatnonzero((self.first <= k) & (k < self.last)):
            out[:, c] = self.blocks[c][:, k - self.first[c]]
        return out

    def rows(self, devices: np.ndarray, ticks: np.ndarray) -> np.ndarray:
        """Draws x classes: each (device, tick) draw's row of class weights."""
        out = np.zeros((len(ticks), self.classes))
        for c, (lo, block) in enumerate(zip(self.first, self.blocks, strict=True)):
            inside = (ticks >= lo) & (ticks < lo + block.shape[1])
            if inside.any():
                out[inside, c] = block[devices[inside], ticks[inside] - lo]
        return out

    def totals(self) -> np.ndarray:
        """Devices x ticks: the joiners of every class summed."""
        out = np.zeros((self.devices, self.ticks))
        for lo, block in zip(self.first, self.blocks, strict=True):
            out[:, lo : lo + block.shape[1]] += block
        return out

    def dense(self) -> np.ndarray:
        """Devices x classes x ticks (for checks; the engines never build it)."""
        out = np.zeros((self.devices, self.classes, self.ticks))
        for c, (lo, block) in enumerate(zip(self.first, self.blocks, strict=True)):
            out[:, c, lo : lo + block.shape[1]] = block
        return out
