"""The loops' costs, measured: the CPU each side of a drill spent, split over the drills.

`twin calibrate`'s first step (`twin.drill.calibration`). The model a drill is calibrated into
has two *loops*, single servers every request crosses: `client` (the load generator's event
loop) and `api` (the target's). Their service times are not fitted: the CPU seconds each
process spent under the drills' load (`drill.load_cpu_s`, `drill.target_cpu_s`) are split by
least squares over the drills into seconds per request, per MB moved and per second.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import nnls

from twin.config.architecture import LoadCpu, TargetCpu
from twin.drill.fit import API
from twin.drill.predict import drill_seconds, drill_volume
from twin.drill.starvation import pooled_wait_ratio

__all__ = ["BLOCKING", "CLIENT", "LOOPS", "MEASURED", "TRANSFER", "LoopCost", "load_cpu",
           "loop_costs", "measured_costs", "target_cpu"]  # fmt: skip

CLIENT = "client"
LOOPS = (CLIENT, API)
TRANSFER = "transfer"  # moving a segment's bytes: interleaved on both loops, so a delay
# Loops that read a segment's bytes without yielding (gevent's recv returns while data is
# buffered): their per-MB cost is service there. The server hands a segment to its transport,
# which sends it as the socket drains between other work, so its per-MB cost is a delay
# (`transfer`).
BLOCKING = frozenset({CLIENT})
MEASURED = (*LOOPS, TRANSFER)  # services whose times come from the drills' CPU, not a fit
_TINY_S = 1e-6
_CPU_KEYS = {CLIENT: "load_cpu_s", API: "target_cpu_s"}
_MIN_SPREAD = 0.1  # MB per request must differ by 10 % across drills to tell the two costs apart


@dataclass(frozen=True)
class LoopCost:
    """A loop's CPU per request: `per_request_s` plus `per_mb_s` for each MB it moves; and
    `per_s`, what its process spends per second whatever the load (timers, statistics)."""

    per_request_s: float
    per_mb_s: float
    per_s: float = 0.0

    def mean_s(self, mb: float) -> float:
        return self.per_request_s + self.per_mb_s * mb


def loop_costs(measured: Sequence[Mapping[str, Any]]) -> dict[str, LoopCost]:
    """Each measured loop's CPU cost, least squares (non-negative) over the drills.

    Only drills whose MB per request differ by `_MIN_SPREAD` can split the cost into per
    request and per MB; otherwise a loop is left out (the file's costs stand). With three
    drills or more a per-second term takes the process's background work (Locust's
    statistics, the server's timers): without it a light drill's few requests carry it all."""

    out = {}
    for loop, key in _CPU_KEYS.items():
        cpu = [m.get("drill", {}).get(key) for m in measured]
        if not all(c is not None and c > 0 for c in cpu):
            continue
        rows = np.array([drill_volume(m) for m in measured])
        ratio = rows[:, 1] / np.maximum(rows[:, 0], 1.0)
        if len(rows) < 2 or ratio.max() <= (1.0 + _MIN_SPREAD) * max(ratio.min(), 1e-12):
            continue
        seconds = np.array([drill_seconds(m) for m in measured])
        if len(rows) >= 3 and np.all(seconds > 0):
            rows = np.column_stack([rows, seconds])
        coef, _ = nnls(rows, np.array(cpu, dtype=float))
        if coef[0] > 0:
            out[loop] = LoopCost(*(float(c) for c in coef))
    return out


def measured_costs(file_costs: Mapping[str, LoopCost],
                    measured: Mapping[str, LoopCost]) -> dict[str, LoopCost]:  # fmt: skip
    """The loops' measured costs over the file's: a `BLOCKING` loop keeps its per-MB cost as
    service, the others' per-MB costs make the `transfer` delay (when every loop was measured)."""
    costs = {**file_costs, **{n: LoopCost(c.per_request_s, c.per_mb_s if n in BLOCKING else 0.0)
                             for n, c in measured.items() if n in file_costs}}  # fmt: skip
    if TRANSFER in costs and all(n in measured for n in LOOPS if n in file_costs):
        costs[TRANSFER] = LoopCost(_TINY_S, sum(c.per_mb_s for n, c in measured.items()
                                                if n not in BLOCKING))  # fmt: skip
    return costs


def load_cpu(summaries: Sequence[Mapping[str, Any]],
             measured: Mapping[str, LoopCost]) -> LoadCpu | None:  # fmt: skip
    """The calibration drills' Locust CPU per request, MB and second, and what they waited for
    a CPU per CPU second (the stall factor's reference), from their `summaries`; None when the
    client loop's CPU was not measured."""
    if CLIENT not in measured:
        return None
    client = measured[CLIENT]
    wait = pooled_wait_ratio([m.get("drill") or {} for m in summaries])
    return LoadCpu(per_request_s=client.per_request_s, per_mb_s=client.per_mb_s,
                   per_s=client.per_s, wait_per_cpu=wait)  # fmt: skip


def target_cpu(measured: Mapping[str, LoopCost], declared: TargetCpu | None) -> TargetCpu | None:
    """The calibration drills' target CPU per request, MB and second (the `api` loop's split,
    `loop_costs`) for the components the file `declared` as the target's; None when the file
    declares none or the target's CPU was not measured."""
    if declared is None or API not in measured:
        return None
    api = measured[API]
    return TargetCpu(components=list(declared.components), per_request_s=api.per_request_s,
                     per_mb_s=api.per_mb_s, per_s=api.per_s)  # fmt: skip
