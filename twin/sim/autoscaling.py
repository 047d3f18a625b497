"""Reactive target-tracking autoscaling: the policy both engines run.

Like a cloud target-tracking policy: every `EVALUATION_S` the scaler is given the service's
utilization over that window, asks for ceil(in service x utilization / target) instances
within [min, max], launches the missing ones (they serve after the provisioning delay) and,
once the cooldown since its last change has passed, retires instances the load no longer
needs. How utilization is measured is the engine's: the fluid engine's served share of
capacity (a standing backlog counts as 100 %, twin.sim.fluid.autoscale), the exact engine's
busy server-seconds (twin.sim.exact.autoscale). Instances are counted per tick.
"""

from __future__ import annotations

import math

import numpy as np

from twin.config.architecture import Autoscaling

__all__ = ["EVALUATION_S", "Autoscaler"]

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
