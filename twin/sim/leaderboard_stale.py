"""When the leaderboard a rider sees is stale, and the sessions that spoils (both engines).

A leaderboard shows the newest sample that has reached its store. At time t it is stale when
that sample was taken more than `STALE_LAG_S` before t: during a backlog the samples arrive
late, during an outage none arrive at all, and either way a rider racing the others sees a
board that no longer moves with them. A session is spoiled by it when its leaderboard was
stale for `STALE_SHARE` or more of the class: the exact engine counts each session's polls
that found it stale, the fluid engine the expected sessions whose riding time overlapped stale
ticks for that share (`twin.sim.fluid.stale_sessions`). Both read staleness the same way, from
when samples were taken and when they reached the store (`staleness`).
"""

from __future__ import annotations

import numpy as np

__all__ = ["STALE_LAG_S", "STALE_SHARE", "stale_by_tick", "staleness"]

# A live leaderboard refreshes every few seconds and a batch waits up to 5 s on the bike: half
# a minute behind, the rider is racing people where they were, not where they are.
STALE_LAG_S = 30.0
# The same share as the video cause (twin.sim.exact.rider_experience.SPOILED_STALL_SHARE): a
# tenth of a class (3 minutes of a 30-minute ride) with a frozen board is noticed.
STALE_SHARE = 0.10


def staleness(times: np.ndarray, born: np.ndarray, arrived: np.ndarray) -> np.ndarray:
    """Age (s) of the newest sample on the leaderboard at each of `times`: t minus the latest
    birth among the samples that reached the store by t (t itself before any had)."""
    times = np.asarray(times, dtype=float)
    order = np.argsort(arrived, kind="stable")
    newest = np.maximum.accumulate(np.asarray(born, dtype=float)[order]) if len(order) else born
    k = np.searchsorted(np.asarray(arrived, dtype=float)[order], times, side="right")
    seen = np.where(k > 0, newest[np.maximum(k - 1, 0)] if len(order) else 0.0, 0.0)
    return times - seen


def stale_by_tick(born: np.ndarray, arrived: np.ndarray, ticks: int, tick_s: float) -> np.ndarray:
    """Whether the leaderboard was stale (past `STALE_LAG_S`) at each tick's middle; never
    when no sample reached it at all (a platform that feeds no leaderboard)."""
    if not len(born):
        return np.zeros(ticks, bool)
    middles = (np.arange(ticks) + 0.5) * tick_s
    return staleness(middles, born, arrived) > STALE_LAG_S
