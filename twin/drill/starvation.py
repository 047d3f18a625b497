"""How much longer every service time runs on a CPU-starved machine (pure; the figures come
from `twin.drill.schedstat` through a drill's summary).

A loop that needs `c` CPU seconds for a request holds it for `c` plus whatever it waited, runnable,
for a core meanwhile. Over a drill, the processes measured (the load generator, and the target
when the drill knows its process) spent `C` CPU seconds and waited `W` on the run queue:
`r = W / C` seconds of wait per CPU second, so a request's `c` takes `c (1 + r)` of wall time,
the time its latency sees. The calibrated file's service times were fitted to drills whose
processes waited `r_cal` per CPU second (`load_cpu.wait_per_cpu`, pooled the same way), so they
already hold `(1 + r_cal)`; on a drill that waited `r` they are `(1 + r) / (1 + r_cal)` as long.
That factor multiplies the CPU index (`twin.drill.predict.speed_index`): the CPU index sees a
processor that does the work in less or more CPU time, this one a processor the process gets
less of. Waits are spread over requests in proportion to their CPU, as the scheduler's slices
are; a wait that falls on an idle loop delays nothing, so on a lightly loaded loop the rule
overstates, and the tests of the README bound it by real drills.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["WAIT_KEYS", "pooled_wait_ratio", "stall_factor", "wait_ratio", "wait_totals"]

# (wait, CPU) keys of a drill summary's `drill` block, per process measured
WAIT_KEYS = (("load_wait_s", "load_cpu_s"), ("target_wait_s", "target_cpu_s"))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def wait_totals(drill: Mapping[str, Any]) -> tuple[float, float] | None:
    """(run-queue wait s, CPU s) of the processes a drill measured both of: the load
    generator's (needed: None without it) plus the target's when its pair is known."""
    out = []
    for wait_key, cpu_key in WAIT_KEYS:
        wait, cpu = _number(drill.get(wait_key)), _number(drill.get(cpu_key))
        if wait is not None and cpu is not None and cpu > 0:
            out.append((wait, cpu))
        elif wait_key == "load_wait_s":
            return None
    return sum(w for w, _ in out), sum(c for _, c in out)


def wait_ratio(drill: Mapping[str, Any]) -> float | None:
    """Seconds waited for a CPU per CPU second used, in a drill (`r`); None if not measured."""
    totals = wait_totals(drill)
    return None if totals is None else totals[0] / totals[1]


def pooled_wait_ratio(drills: Sequence[Mapping[str, Any]]) -> float | None:
    """The calibration drills' `r_cal`: their waits over their CPU, pooled (a drill's weight
    is its CPU); None when any drill did not measure it (the drills would not agree on what
    the file's service times hold)."""
    totals = [wait_totals(d) for d in drills]
    if not totals or any(t is None for t in totals):
        return None
    cpu = sum(t[1] for t in totals if t is not None)
    return sum(t[0] for t in totals if t is not None) / cpu if cpu > 0 else None


def stall_factor(ratio: float | None, reference: float | None) -> float | None:
    """`(1 + r) / (1 + r_cal)`: how much longer service times run than in calibration for
    want of a CPU; None unless both are known."""
    if ratio is None or reference is None or ratio < 0 or reference < 0:
        return None
    return (1.0 + ratio) / (1.0 + reference)
