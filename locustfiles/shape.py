"""The drill's load shape: Locust's user count follows the scenario's active riders.

`twin drill` writes the plan (users per drill second: the scenario's active riders times
`--scale`, on a clock compressed by `--speedup`, surges and class-start spikes included) and
names it in `TWIN_DRILL_PLAN`. `DrillShape.tick()` answers Locust's question every second with
the users planned for the current drill second, on the wall clock shared with the riders
(`plan.t0`), and ends the test after the last planned second.
"""

from __future__ import annotations

import time

from drill_plan import Plan, load_plan
from locust import LoadTestShape

__all__ = ["DrillShape"]


class DrillShape(LoadTestShape):
    """Users per drill second from the plan; `None` (stop) once the plan is over."""

    def __init__(self, plan: Plan | None = None, clock: object = time.time) -> None:
        super().__init__()
        self._plan = plan
        self.clock = clock

    @property
    def plan(self) -> Plan:
        """The plan (read when first asked: only the process that runs the shape, the master
        or a lone runner, has a plan file; a remote worker gets its plan from the master)."""
        if self._plan is None:
            self._plan = load_plan()
        return self._plan

    def tick(self) -> tuple[int, float] | None:
        # Locust asks once a second at an arbitrary phase: answer for the drill second that
        # most of the coming second belongs to.
        tau = self.clock() - self.plan.t0 + 0.5  # type: ignore[operator]
        if tau >= self.plan.duration_s:
            return None
        if tau < 0:
            return (0, self.plan.spawn_rate)
        return (int(self.plan.at(self.plan.users, tau)), self.plan.spawn_rate)
