"""What one replication of an engine hands back: per-interval arrays per station and source.

Both engines fill the same records, so one summary builder serves them. Every array has one
entry per report interval; `fine_*` arrays have several entries per interval and exist only
to let MSER-5 find the end of the warm-up. Areas are time integrals (number x seconds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from twin.sim.sketch import BINS

__all__ = ["Grid", "ReplicationRecord", "SourceRecord", "StationRecord"]


@dataclass(frozen=True)
class Grid:
    """The time grid of a run: `n` report intervals of `width_s`, each cut in `fine` slices."""

    duration_s: float
    n: int
    fine: int

    @classmethod
    def for_run(cls, duration_s: float, interval_s: float, fine_total: int = 1000) -> Grid:
        n = max(1, int(np.ceil(duration_s / interval_s - 1e-9)))
        fine = max(1, int(np.ceil(fine_total / n)))
        return cls(duration_s=duration_s, n=n, fine=fine)

    @property
    def width_s(self) -> float:
        return self.duration_s / self.n

    @property
    def fine_width_s(self) -> float:
        return self.width_s / self.fine


def _zeros(n: int) -> np.ndarray:
    return np.zeros(n, dtype=float)


@dataclass
class StationRecord:
    """One station in one replication."""

    servers: int
    arrivals: np.ndarray
    completed: np.ndarray
    dropped: np.ndarray
    queue_area: np.ndarray
    system_area: np.ndarray
    busy_area: np.ndarray
    capacity_area: np.ndarray
    wait_sum: np.ndarray
    latency_sum: np.ndarray
    latency_hist: np.ndarray
    fine_completed: np.ndarray
    fine_latency_sum: np.ndarray
    in_system: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def empty(cls, grid: Grid, servers: int) -> StationRecord:
        n, nf = grid.n, grid.n * grid.fine
        return cls(
            servers=servers,
            arrivals=_zeros(n),
            completed=_zeros(n),
            dropped=_zeros(n),
            queue_area=_zeros(n),
            system_area=_zeros(n),
            busy_area=_zeros(n),
            capacity_area=_zeros(n),
            wait_sum=_zeros(n),
            latency_sum=_zeros(n),
            latency_hist=np.zeros((n, BINS)),
            fine_completed=_zeros(nf),
            fine_latency_sum=_zeros(nf),
            in_system=_zeros(n + 1),
        )


@dataclass
class SourceRecord:
    """One source's requests end to end (arrival in the network to exit) in one replication."""

    arrivals: np.ndarray
    completed: np.ndarray
    errors: np.ndarray
    latency_sum: np.ndarray
    latency_hist: np.ndarray
    fine_completed: np.ndarray
    fine_latency_sum: np.ndarray

    @classmethod
    def empty(cls, grid: Grid) -> SourceRecord:
        n, nf = grid.n, grid.n * grid.fine
        return cls(
            arrivals=_zeros(n),
            completed=_zeros(n),
            errors=_zeros(n),
            latency_sum=_zeros(n),
            latency_hist=np.zeros((n, BINS)),
            fine_completed=_zeros(nf),
            fine_latency_sum=_zeros(nf),
        )


@dataclass
class ReplicationRecord:
    """Everything one replication measured."""

    grid: Grid
    stations: dict[str, StationRecord]
    sources: dict[str, SourceRecord]
