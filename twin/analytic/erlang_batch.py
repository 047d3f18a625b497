"""Erlang C for many arrival rates at once: the M/M/c formulas over NumPy arrays.

The fluid engine asks for the queueing delay of every service at every tick (thousands of
ticks, thousands of servers). A Python recursion per value would dominate its run time, so
here Erlang C comes in closed form from the Poisson law: with A = lam/mu and rho = A/c,

    C = P(N = c) / (P(N = c) + (1 - rho) P(N <= c - 1)),   N ~ Poisson(A),

the pmf taken in log space and the cdf from the regularized incomplete gamma function
(`scipy.special.pdtr`), so each value costs O(1) whatever c is and nothing overflows.
For A < c the cdf term is never small, so the ratio is accurate; the tests check it against
the recursion in `twin.analytic.erlang` and against exact rational sums.

Unlike the scalar functions, overload is not an error here: a tick may be overloaded while
the backlog drains later. Where lam >= c*mu the record says so (`stable` False,
`prob_wait` 1, infinite mean wait) and the engine handles the backlog itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from twin.analytic import waiting

__all__ = ["MMcBatch", "erlang_c_many", "mmc_many"]

FloatArray = NDArray[np.float64]


def erlang_c_many(servers: ArrayLike, load: ArrayLike) -> FloatArray:
    """Erlang C for arrays of server counts and offered loads (erlangs); 1 where load >= c."""
    c, a = _servers(servers), np.asarray(load, dtype=np.float64)
    c, a = np.broadcast_arrays(c, a)
    if np.any(~np.isfinite(a)) or np.any(a < 0):
        raise ValueError("offered loads must be finite and >= 0")
    stable = a < c
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        pmf = np.exp(special.xlogy(c, a) - a - special.gammaln(c + 1.0))
        below = special.pdtr(c - 1.0, a)
        result = pmf / (pmf + (1.0 - a / c) * below)
    return np.where(stable, result, 1.0)


@dataclass(frozen=True, slots=True)
class MMcBatch:
    """M/M/c steady states for arrays of arrival rates (seconds, per second).

    Fields are arrays of one broadcast shape. Where `stable` is False (lam >= c*mu) there
    is no steady state: `prob_wait` is 1 and the means are infinite.
    """

    arrival_rate: FloatArray
    service_rate: FloatArray
    servers: NDArray[np.int64]
    stable: NDArray[np.bool_]
    utilization: FloatArray
    prob_wait: FloatArray
    wait_mean: FloatArray
    sojourn_mean: FloatArray
    queue_mean: FloatArray

    @property
    def drain_rate(self) -> FloatArray:
        """c*mu - lam (negative where overloaded)."""
        return self.servers * self.service_rate - self.arrival_rate

    def wait_quantile(self, p: float) -> FloatArray:
        """The p-quantile of the wait at each entry (inf where unstable)."""
        q = waiting.wait_quantile(p, self.prob_wait, np.where(self.stable, self.drain_rate, 1.0))
        return np.where(self.stable, q, np.inf)

    def sojourn_quantile(self, p: float) -> FloatArray:
        """The p-quantile of the sojourn at each entry (inf where unstable)."""
        theta = np.where(self.stable, self.drain_rate, 1.0)
        q = waiting.sojourn_quantile(p, self.prob_wait, theta, self.service_rate)
        return np.where(self.stable, q, np.inf)


def mmc_many(arrival_rate: ArrayLike, service_rate: ArrayLike, servers: ArrayLike) -> MMcBatch:
    """M/M/c for arrays of lam (and optionally mu and c), broadcast together."""
    lam = np.asarray(arrival_rate, dtype=np.float64)
    mu = np.asarray(service_rate, dtype=np.float64)
    if np.any(~np.isfinite(mu)) or np.any(mu <= 0):
        raise ValueError("service rates must be finite and > 0")
    lam, mu, c = np.broadcast_arrays(lam, mu, _servers(servers))
    prob_wait = erlang_c_many(c, lam / mu)
    stable = lam < c * mu
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = np.where(stable, prob_wait / (c * mu - lam), np.inf)
    return MMcBatch(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        stable=stable,
        utilization=lam / (c * mu),
        prob_wait=prob_wait,
        wait_mean=wait,
        sojourn_mean=wait + 1.0 / mu,
        queue_mean=lam * wait,  # inf where unstable (lam > 0 there)
    )


def _servers(servers: ArrayLike) -> NDArray[np.int64]:
    c = np.asarray(servers)
    if not np.issubdtype(c.dtype, np.integer) or np.any(c < 1):
        raise ValueError("server counts must be integers >= 1")
    return c.astype(np.int64)
