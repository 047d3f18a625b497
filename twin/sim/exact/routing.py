"""Probabilistic routing: a station's `routes` become a fast choice of the next hop."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping

import numpy as np

from twin.config.network import EXIT
from twin.sim.distributions import BlockSampler

__all__ = ["EXIT_INDEX", "router"]

EXIT_INDEX = -1


def router(
    routes: Mapping[str, float], index: Mapping[str, int], rng: np.random.Generator
) -> Callable[[], int]:
    """A function returning the next station's index (EXIT_INDEX to leave) for each request."""
    targets = [EXIT_INDEX if name == EXIT else index[name] for name, p in routes.items() if p > 0]
    probs = [p for p in routes.values() if p > 0]
    if len(targets) == 1:
        only = targets[0]
        return lambda: only
    cumulative = np.cumsum(probs)
    cumulative = (cumulative / cumulative[-1]).tolist()
    uniform = BlockSampler(lambda n: rng.random(n))
    last = len(targets) - 1

    def choose() -> int:
        return targets[min(bisect.bisect_right(cumulative, uniform.draw()), last)]

    return choose
