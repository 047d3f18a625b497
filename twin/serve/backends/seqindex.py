"""Which seqs of each device are stored: the embedded backend's idempotency check, in memory.

A device numbers its samples 0, 1, 2, ... and sends them in batches, so what is stored of it is
almost always one run of consecutive seqs. `SeqIndex` keeps, per device, the sorted disjoint
half-open ranges `[start, end)` as one flat list `[s0, e0, s1, e1, ...]`: a seq is stored when
`bisect_right` lands on an odd position. A batch of consecutive new seqs (the common case) is
checked with one bisection and added by moving one boundary; anything else seq by seq.

It is rebuilt from SQLite at start-up and changed only by the thread that writes SQLite, inside
the transaction that stores the samples: `snapshot`/`restore` undo a transaction that failed.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence

__all__ = ["SeqIndex"]


class SeqIndex:
    """The stored seqs of every device, as sorted runs."""

    def __init__(self) -> None:
        self._bounds: dict[str, list[int]] = {}

    def __contains__(self, item: tuple[str, int]) -> bool:
        device, seq = item
        return bisect_right(self._bounds.get(device, ()), seq) % 2 == 1

    def stored(self, device: str, seqs: Sequence[int]) -> set[int]:
        """The seqs of `seqs` (distinct) already stored for `device`."""
        bounds = self._bounds.get(device)
        if not bounds:
            return set()
        lo, hi = min(seqs), max(seqs)
        i = bisect_right(bounds, lo)
        if i % 2 == 0 and (i == len(bounds) or hi < bounds[i]):
            return set()  # the whole span falls in one gap
        return {s for s in seqs if bisect_right(bounds, s) % 2 == 1}

    def add(self, device: str, seqs: Iterable[int]) -> None:
        """Mark `seqs` (none of them stored yet) as stored."""
        ordered = sorted(seqs)
        if not ordered:
            return
        bounds = self._bounds.setdefault(device, [])
        start = prev = ordered[0]
        for seq in ordered[1:]:
            if seq != prev + 1:
                _add_run(bounds, start, prev + 1)
                start = seq
            prev = seq
        _add_run(bounds, start, prev + 1)

    def snapshot(self, devices: Iterable[str]) -> dict[str, list[int] | None]:
        """Copies of these devices' runs, for `restore`."""
        return {d: (list(b) if (b := self._bounds.get(d)) is not None else None) for d in devices}

    def restore(self, saved: dict[str, list[int] | None]) -> None:
        for device, bounds in saved.items():
            if bounds is None:
                self._bounds.pop(device, None)
            else:
                self._bounds[device] = bounds

    def runs(self, device: str) -> list[tuple[int, int]]:
        """The device's stored runs as `(start, end)`, end exclusive."""
        bounds = self._bounds.get(device, [])
        return list(zip(bounds[::2], bounds[1::2], strict=True))

    def __len__(self) -> int:
        """Devices with something stored."""
        return len(self._bounds)


def _add_run(bounds: list[int], start: int, end: int) -> None:
    """Insert the new run `[start, end)` (it overlaps no stored run), merging neighbours."""
    i = bisect_right(bounds, start)  # even: start is in a gap (perhaps at a run's end)
    joins_left = i > 0 and bounds[i - 1] == start
    joins_right = i < len(bounds) and bounds[i] == end
    if joins_left and joins_right:
        del bounds[i - 1 : i + 1]
    elif joins_left:
        bounds[i - 1] = end
    elif joins_right:
        bounds[i] = start
    else:
        bounds[i:i] = [start, end]
