"""Reactive autoscaling of a fluid station, as a SimPy process (the policy is
twin.sim.autoscaling's): utilization is the served share of the window's capacity, and a
standing backlog counts as 100 %."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from twin.sim.autoscaling import EVALUATION_S, Autoscaler
from twin.sim.fluid.flow import FluidStation

__all__ = ["autoscaler_process", "window_utilization"]


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
