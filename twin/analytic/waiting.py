"""Waiting- and sojourn-time distributions of the FIFO M/M/c queue.

An arrival waits with probability C (Erlang C); given that it waits, its wait is exponential
with rate theta = c*mu - lam, the rate at which the queue drains while every server is busy.
The sojourn adds an independent exponential service of rate mu, so its tail mixes a plain
exponential (no wait) with the sum of two exponentials (a hypoexponential). Every function
takes floats or NumPy arrays and broadcasts, so the fluid engine can ask for thousands of
ticks at once; `twin.analytic.erlang.MMc` wraps them for one queue.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["hypoexp_sf", "sojourn_quantile", "sojourn_sf", "wait_quantile", "wait_sf"]

FloatArray = NDArray[np.float64]
_BISECTIONS = 80  # halves the bracket to ~1e-24 of its width: far below float resolution


def wait_sf(t: ArrayLike, prob_wait: ArrayLike, theta: ArrayLike) -> FloatArray:
    """P(Wq > t) = C * exp(-theta * t) for t >= 0 (and 1 before 0)."""
    t, c, th = _floats(t, prob_wait, theta)
    with np.errstate(over="ignore", invalid="ignore"):
        tail = c * np.exp(-th * np.maximum(t, 0.0))
    return np.where(t < 0, 1.0, tail)


def wait_quantile(p: ArrayLike, prob_wait: ArrayLike, theta: ArrayLike) -> FloatArray:
    """The p-quantile of the wait: 0 while p <= 1 - C, else ln(C / (1 - p)) / theta."""
    p, c, th = _floats(p, prob_wait, theta)
    _check_probability(p)
    waits = p > 1.0 - c
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.log(c / (1.0 - p)) / th
    return np.where(waits, np.where(p >= 1.0, np.inf, t), 0.0)


def hypoexp_sf(t: ArrayLike, rate_a: ArrayLike, rate_b: ArrayLike) -> FloatArray:
    """P(X + Y > t) for independent exponentials X ~ Exp(a), Y ~ Exp(b); a == b allowed.

    The textbook form (b e^{-at} - a e^{-bt}) / (b - a) cancels catastrophically as b -> a.
    Written around the smaller rate lo as e^{-lo t} (1 + lo t g((hi - lo) t)), with
    g(d) = (1 - e^{-d}) / d and g(0) = 1, it is exact at a == b ((1 + a t) e^{-a t}, the
    Erlang-2 tail) and loses no digits near it.
    """
    t, a, b = _floats(t, rate_a, rate_b)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    t = np.maximum(t, 0.0)
    d = (hi - lo) * t
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where(d > 1e-8, -np.expm1(-d) / d, 1.0 - d / 2.0)
    return np.exp(-lo * t) * (1.0 + lo * t * g)


def sojourn_sf(t: ArrayLike, prob_wait: ArrayLike, theta: ArrayLike, mu: ArrayLike) -> FloatArray:
    """P(W > t) for the sojourn W = Wq + S: (1 - C) e^{-mu t} + C P(Exp(theta) + Exp(mu) > t)."""
    t, c, th, m = _floats(t, prob_wait, theta, mu)
    tail = (1.0 - c) * np.exp(-m * np.maximum(t, 0.0)) + c * hypoexp_sf(t, th, m)
    return np.where(t < 0, 1.0, tail)


def sojourn_quantile(
    p: ArrayLike, prob_wait: ArrayLike, theta: ArrayLike, mu: ArrayLike
) -> FloatArray:
    """The p-quantile of the sojourn, by bisection on its (strictly decreasing) tail.

    The bracket is closed form: the tail is at most (1 + x) e^{-x} <= 1.22 e^{-x/2} with
    x = t * min(mu, theta), so t = 2 ln(1.22 / (1 - p)) / min(mu, theta) is past the quantile.
    """
    p, c, th, m = _floats(p, prob_wait, theta, mu)
    _check_probability(p)
    q = 1.0 - p
    with np.errstate(divide="ignore"):
        high = 2.0 * np.log(1.22 / q) / np.minimum(th, m)
    low = np.zeros_like(high)
    high = np.where(np.isfinite(high), high, 0.0)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (low + high)
        above = sojourn_sf(mid, c, th, m) > q
        low = np.where(above, mid, low)
        high = np.where(above, high, mid)
    return np.where(p >= 1.0, np.inf, np.where(p <= 0.0, 0.0, 0.5 * (low + high)))


def _floats(*values: ArrayLike) -> list[FloatArray]:
    arrays: Any = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in values))
    return list(arrays)


def _check_probability(p: FloatArray) -> None:
    if np.any(~((p >= 0.0) & (p <= 1.0))):
        raise ValueError("a quantile's probability must be within [0, 1]")
