"""Service-time samplers: a `ServiceTime` and a generator become a fast `draw()`; its quantiles.

Draws are made in NumPy blocks and handed out one by one, because an engine asks for one
value per request and a NumPy call per value would cost more than the event itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

from twin.config.network import ServiceTime

__all__ = ["BlockSampler", "block_function", "quantiles", "service_sampler"]

_BLOCK = 4096


def block_function(service: ServiceTime, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
    """A function drawing `n` service times (seconds) from `service` with `rng`."""
    mean = service.mean
    if service.dist == "exponential":
        return lambda n: rng.exponential(mean, n)
    if service.dist == "deterministic":
        return lambda n: np.full(n, mean)
    if service.dist == "lognormal":
        sigma2 = math.log1p(service.scv)
        mu = math.log(mean) - sigma2 / 2.0
        sigma = math.sqrt(sigma2)
        return lambda n: rng.lognormal(mu, sigma, n)
    if service.dist == "gamma":
        shape = 1.0 / service.scv
        scale = mean * service.scv
        return lambda n: rng.gamma(shape, scale, n)
    values = np.asarray(service.values, dtype=float)
    return lambda n: rng.choice(values, n)


class BlockSampler:
    """Hands out one draw at a time from blocks of `_BLOCK` draws."""

    __slots__ = ("_buffer", "_draw_block", "_index")

    def __init__(self, draw_block: Callable[[int], np.ndarray]) -> None:
        self._draw_block = draw_block
        self._buffer: list[float] = []
        self._index = 0

    def draw(self) -> float:
        index = self._index
        if index == len(self._buffer):
            self._buffer = self._draw_block(_BLOCK).tolist()
            index = 0
        self._index = index + 1
        return self._buffer[index]


def service_sampler(service: ServiceTime, rng: np.random.Generator) -> BlockSampler:
    """A one-at-a-time sampler of `service` drawing from `rng`."""
    return BlockSampler(block_function(service, rng))


def quantiles(service: ServiceTime, probs: np.ndarray) -> np.ndarray:
    """The service time's quantiles at `probs` (each in (0, 1))."""
    p = np.asarray(probs, dtype=float)
    if service.dist == "deterministic":
        return np.full(p.shape, service.mean)
    if service.dist == "empirical":
        assert service.values is not None
        values = np.sort(np.asarray(service.values, dtype=float))
        return values[np.minimum((p * len(values)).astype(int), len(values) - 1)]
    if service.dist == "exponential":
        return -service.mean * np.log1p(-p)
    if service.dist == "gamma":
        shape = 1.0 / service.scv
        return special.gammaincinv(shape, p) * service.mean * service.scv
    sigma = math.sqrt(math.log1p(service.scv))  # lognormal
    return service.mean * math.exp(-sigma * sigma / 2.0) * np.exp(sigma * special.ndtri(p))
