"""Reactive target-tracking autoscaling of a fluid station, as a SimPy process.

Like a cloud target-tracking policy: every `EVALUATION_S` the scaler reads the station's
utilization over that window (a standing backlog counts as 100 %), asks for
ceil(in service x utilization / target) instances within [min, max], launches the missing
ones (they serve after the provisioning delay) and, once the cooldown since its last change
has passed, retires instances the load no longer needs.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from twin.config.architecture import Autoscaling
from twin.sim.fluid.flow import FluidStation

__all__ = ["EVALUATION_S", "Autoscaler", "autoscaler_process"]

EVALUATION_S = 60.0  # one CloudWatch period: target tracking acts on 1-minute metrics


class Autoscaler:
    """Instances of one service over time: in service, launching, and the policy."""

    def __init__(self, policy: Autoscaling, initial: float, ticks: int, tick_s: float) -> None:
        self.policy = policy
        self.tick_s = tick_s
        self.in_service = float(np.clip(initial, policy.min, policy.max))
        self.pending: list[tuple[int, float]] = []  # (tick it starts serving, instances)
        self.last_change = -math.inf
        self.instances = np.zeros(ticks)

    def advance(self, k: int) -> None:
        """Instances launched earlier that are ready by tick k start serving."""
        ready = [n for at, n in self.pending if at <= k]
        if ready:
            self.in_service += sum(ready)
            self.pending = [(at, n) for at, n in self.pending if at > k]
        self.instances[k] = self.in_service

    def evaluate(self, k: int, utilization: float) -> None:
        """Apply the policy at tick k to the window's measured utilization."""
        p = self.policy
        desired = min(
            max(math.ceil(self.in_service * utilization / p.target_utilization), p.min), p.max
        )
        coming = sum(n for _, n in self.pending)
        if desired > self.in_service + coming:
            delay = math.ceil(p.provisioning_delay_s / self.tick_s)
            self.pending.append((k + delay, desired - self.in_service - coming))
            self.last_change = k * self.tick_s
        elif desired < self.in_service and k * self.tick_s - self.last_change >= p.cooldown_s:
            self.in_service = float(desired)
            self.last_change = k * self.tick_s


def window_utilization(station: FluidStation, k: int, window: int) -> float:
    """Busy share of the station's capacity over the `window` ticks before tick k."""
    lo = max(0, k - window)
    log = station.log
    if k <= lo:
        return 0.0
    if log.backlog[k - 1] > 0:
        return 1.0
    capacity = float(log.servers[lo:k].sum()) * station.rate * station.tick_s
    return float(log.served[lo:k].sum()) / capacity if capacity > 0 else 1.0


def autoscaler_process(
    env: simpy.Environment, scaler: Autoscaler, station: FluidStation, ticks: int
) -> Generator[simpy.Event, Any, None]:
    """Run `scaler` over the station, before the station's own step at each tick."""
    window = max(1, round(EVALUATION_S / scaler.tick_s))
    for k in range(ticks):
        yield env.timeout(k * scaler.tick_s - env.now)
        if k and k % window == 0:
            scaler.evaluate(k, window_utilization(station, k, window))
        scaler.advance(k)
