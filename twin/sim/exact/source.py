"""Poisson sources with piecewise-constant rates, as SimPy processes.

Within a segment of constant rate, gaps are exponential. A gap that would cross into the next
segment is cut at the boundary and drawn again at the new rate: by memorylessness this is an
exact non-homogeneous Poisson process, with no thinning needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np
import simpy

from twin.config.network import RateSchedule
from twin.sim.distributions import BlockSampler

__all__ = ["burst_source", "poisson_source"]


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


def burst_source(
    env: simpy.Environment,
    instants: Sequence[tuple[float, Sequence[tuple[int, float]]]],
    rng: np.random.Generator,
    emit: Sequence[Callable[..., None]],
) -> Generator[simpy.Event, Any, None]:
    """Riders who send requests together (a live class's riders finishing at its end), each
    one request after another.

    At each `(time, steps)` of `instants`, with `steps` the `(source, expected requests)` in the
    order a rider sends them: a Poisson number of riders (mean: the largest step's) start at
    once; each sends step j with probability its mean over the largest, the next when the
    last is answered or lost (`emit[source](continuation)`: the network calls
    `continuation(ok)` then). Each step's expected count is its mean.
    """
    for at, steps in instants:
        if at > env.now:
            yield env.timeout(at - env.now)
        top = max(mean for _, mean in steps)
        for _ in range(int(rng.poisson(top))):
            _send([source for source, mean in steps if rng.random() < mean / top], emit)


def _send(chain: list[int], emit: Sequence[Callable[..., None]]) -> None:
    """Send the chain's first request; the rest when it is answered or lost."""
    if chain:
        emit[chain[0]](lambda _ok: _send(chain[1:], emit))
