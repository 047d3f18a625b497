"""Class-end stampedes: the requests a live class's end sends at one instant.

Every rider of a live class rides to its end (`twin.platform.demand`: they all leave when the
class ends), so at that instant each saves the ride (`workout`), some rate it (`feedback`), and
the riders who go on open the app again for their next session (`recommend`, `join`). A drill
does exactly this: its live sessions end at the class end on the drill's clock. Measured on the
music launch at 2.4/1000 and 60x, one class end sent 59 workouts, 11 ratings, 43 app opens and
43 joins within the same drill second, and every request type's p95 in that second rose
3-8x (leaderboard 83 ms, tempo 109 ms, against 8-15 ms around it): both event loops and the
one SQLite writer queue them. A per-second Poisson stream at the same counts spreads them
over the second and sees no queue.

`class_end_bursts` says, per request type, how many requests arrive at which drill instant
(in the order a rider sends them, which the exact engine keeps at one instant);
`moved_demand` moves the app opens and joins the plan had spread over the seconds after a class
end to the end itself (a rider that has just restarted is busy: the plan's later starts are
the ones it already made), so a type's total over the drill is unchanged.

Pure calculation over a `DrillWorkload`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from twin.platform.workload import FEEDBACK_SHARE

__all__ = ["END_TYPES", "RESTART_TYPES", "class_end_bursts", "class_ends", "moved_demand"]

END_TYPES = {"workout": 1.0, "feedback": FEEDBACK_SHARE}  # per rider whose class ended
RESTART_TYPES = ("recommend", "join")  # per rider who goes on to a next session


def class_ends(work: Any) -> dict[int, list[tuple[float, float]]]:
    """Per drill second, the live classes ending in it: (drill instant, riders as weight)."""
    out: dict[int, list[tuple[float, float]]] = {}
    for c in work.live_classes:
        end = float(c.start_s + c.duration_s) / float(work.speedup)
        if 0.0 < end < work.duration_s:  # a class ending at the start has no drill riders
            out.setdefault(int(end), []).append((end, max(float(c.riders), 1e-12)))
    return out


def _go_on(riders: np.ndarray, k: int) -> float:
    """The share of riders still riding after second `k - 1` (the plan drops as many users as
    the twin's riders drop, and Locust stops them whatever they were doing)."""
    if k == 0 or riders[k - 1] <= 0:
        return 1.0
    return float(min(1.0, riders[k] / riders[k - 1]))


def _per_type(work: Any, k: int) -> dict[str, float]:
    """Expected requests of each type that second `k`'s class ends send at once."""
    ended = float(work.live_ends[k])
    out = {name: min(ended * share, float(work.rates[name][k]))
           for name, share in END_TYPES.items() if name in work.rates}  # fmt: skip
    restart = ended * _go_on(np.asarray(work.riders, dtype=float), k)
    out.update({name: restart for name in RESTART_TYPES if name in work.rates})
    return out


def class_end_bursts(work: Any) -> dict[str, tuple[tuple[float, float], ...]]:
    """Per request type, `(drill instant, expected requests)` at each live class end (split
    between classes ending in the same second by their riders). Empty without live ends."""
    if getattr(work, "live_ends", None) is None:
        return {}
    out: dict[str, list[tuple[float, float]]] = {}
    for k, ends in sorted(class_ends(work).items()):
        if work.live_ends[k] <= 1e-9:
            continue
        weight = sum(w for _, w in ends)
        for name, count in _per_type(work, k).items():
            out.setdefault(name, []).extend((at, count * w / weight) for at, w in ends)
    # in the order a rider sends them: the save, the rating, the next app open, the join
    chain = (*END_TYPES, *RESTART_TYPES)
    return {name: tuple((float(at), float(n)) for at, n in out[name] if n > 1e-9)
            for name in chain if name in out}  # fmt: skip


def moved_demand(
    rates: Mapping[str, np.ndarray], bursts: Mapping[str, tuple[tuple[float, float], ...]]
) -> tuple[dict[str, np.ndarray], dict[str, tuple[tuple[float, float], ...]]]:
    """`rates` (requests per drill second) with each restart burst's requests taken from the
    seconds from its own on and put in its second (totals unchanged), and the bursts, each no
    larger than what those seconds held."""
    out = {name: np.asarray(r, dtype=float).copy() for name, r in rates.items()}
    kept = dict(bursts)
    for name in RESTART_TYPES:
        if name not in out or name not in bursts:
            continue
        rate, moved = out[name], []
        for at, count in bursts[name]:
            taken = _take(rate, int(at), count)
            rate[int(at)] += taken
            moved.append((at, taken))
        kept[name] = tuple(b for b in moved if b[1] > 1e-9)
    return out, kept


def _take(rate: np.ndarray, k: int, count: float) -> float:
    """Take up to `count` from `rate[k:]`, earliest first; how much was taken."""
    left = count
    for j in range(k, rate.size):
        got = min(rate[j], left)
        rate[j] -= got
        left -= got
        if left <= 1e-12:
            break
    return count - left
