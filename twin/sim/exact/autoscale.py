"""Reactive autoscaling in the exact engine: the shared policy (twin.sim.autoscaling) run
over a SimPy station, its utilization measured as busy server-seconds over the window.

The scaler wakes once per tick: it starts the instances that became ready, applies the
policy every `EVALUATION_S`, and sets the station's servers to instances x servers per
instance x the share incidents leave up (so an outage and the scaler's instances compose,
as in the fluid engine). A station with a scaler has no other server schedule.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from twin.config.architecture import Autoscaling
from twin.sim.autoscaling import EVALUATION_S, Autoscaler
from twin.sim.exact.station import Station

__all__ = ["Scaling", "scaler_process"]


@dataclass(frozen=True)
class Scaling:
    """A station's reactive scaling: the policy, instances at t = 0, servers per instance,
    and the share of capacity incidents leave up per tick."""

    policy: Autoscaling
    initial: float
    per_instance: int
    up: np.ndarray
    tick_s: float

    def scaler(self) -> Autoscaler:
        return Autoscaler(self.policy, self.initial, len(self.up), self.tick_s)

    def servers(self, instances: float, k: int) -> int:
        return max(math.floor(instances * self.per_instance * float(self.up[k]) + 1e-9), 0)


def scaler_process(
    env: simpy.Environment, station: Station, scaling: Scaling, scaler: Autoscaler
) -> Generator[simpy.Event, Any, None]:
    """Scale `station` by `scaler`'s policy for the whole run (see the module's docstring)."""
    tick_s = scaling.tick_s
    window = max(1, round(EVALUATION_S / tick_s))
    busy_before, capacity = station.busy_seconds(env.now), 0.0
    for k in range(len(scaling.up)):
        if k * tick_s > env.now:
            yield env.timeout(k * tick_s - env.now)
        if k and k % window == 0:
            busy = station.busy_seconds(env.now)
            scaler.evaluate(k, (busy - busy_before) / capacity if capacity > 0 else 1.0)
            busy_before, capacity = busy, 0.0
        scaler.advance(k)
        servers = scaling.servers(scaler.in_service, k)
        if servers != station.servers:
            station.set_servers(servers)
        capacity += servers * tick_s
