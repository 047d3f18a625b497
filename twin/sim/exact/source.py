"""Poisson sources with piecewise-constant rates, as SimPy processes.

Within a segment of constant rate, gaps are exponential. A gap that would cross into the next
segment is cut at the boundary and drawn again at the new rate: by memorylessness this is an
exact non-homogeneous Poisson process, with no thinning needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import Any

import numpy as np
import simpy

from twin.config.network import RateSchedule
from twin.sim.distributions import BlockSampler

__all__ = ["poisson_source"]


def poisson_source(
    env: simpy.Environment,
    schedule: RateSchedule,
    rng: np.random.Generator,
    emit: Callable[[], None],
) -> Generator[simpy.Event, Any, None]:
    """Call `emit()` at each arrival of a Poisson process following `schedule`."""
    unit = BlockSampler(lambda n: rng.exponential(1.0, n))
    points = schedule.points
    segment = 0
    while True:
        now = env.now
        while segment + 1 < len(points) and points[segment + 1][0] <= now:
            segment += 1
        rate = points[segment][1]
        boundary = points[segment + 1][0] if segment + 1 < len(points) else math.inf
        if rate <= 0:
            if math.isinf(boundary):
                return
            yield env.timeout(boundary - now)
            continue
        gap = unit.draw() / rate
        if now + gap >= boundary:
            yield env.timeout(boundary - now)
            continue
        yield env.timeout(gap)
        emit()
