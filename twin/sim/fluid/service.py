"""A station's sojourn-time law at one tick, evaluated on the latency histogram's bin edges.

At a tick the fluid engine describes a station's requests by three numbers: `p`, the chance
an arrival waits in the stationary queue; `theta`, the rate of that (exponential) wait; and
`d`, the deterministic delay of the fluid backlog ahead of it. The sojourn is then

    T = d + W0 + S,   W0 = 0 w.p. 1 - p, Exp(theta) w.p. p,   S the service time,

so its CDF is (1 - p) F_S(x - d) + p H(x - d) with H(y) = P(Exp(theta) + S <= y). H has a
closed form for exponential service (twin.analytic.waiting.hypoexp_sf); for any other law
the service is a set of weighted atoms s_j and H(y) = sum over s_j <= y of
w_j (1 - e^(-theta (y - s_j))), computed for many ticks at once by a running sum over atoms.
`ServiceShape` also draws service times for the engine's probe requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from twin.analytic.waiting import hypoexp_sf
from twin.config.network import ServiceTime
from twin.sim.distributions import block_function, quantiles
from twin.sim.sketch import EDGES

__all__ = ["ServiceShape", "sojourn_histograms", "truncated_wait_sf"]

_ATOMS = 400  # quantile atoms for lognormal and gamma service: the tail is refined below
_TAIL_ATOMS = 100


@dataclass(frozen=True)
class ServiceShape:
    """The service-time law of a station, ready for vectorized CDFs and sampling."""

    service: ServiceTime
    atoms: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)

    @classmethod
    def of(cls, service: ServiceTime) -> ServiceShape:
        atoms, weights = _atoms(service)
        return cls(service=service, atoms=atoms, weights=weights)

    @property
    def mean(self) -> float:
        return self.service.mean

    @property
    def scv(self) -> float:
        return self.service.scv

    def cdf(self, y: np.ndarray) -> np.ndarray:
        """P(S <= y), exact for every law (atoms only enter H)."""
        s = self.service
        y = np.asarray(y, dtype=float)
        if s.dist == "exponential":
            return -np.expm1(-np.maximum(y, 0.0) / s.mean)
        if s.dist == "gamma":
            return special.gammainc(1.0 / s.scv, np.maximum(y, 0.0) / (s.mean * s.scv))
        if s.dist == "lognormal":
            sigma = math.sqrt(math.log1p(s.scv))
            mu = math.log(s.mean) - sigma * sigma / 2.0
            with np.errstate(divide="ignore"):
                return special.ndtr((np.log(np.maximum(y, 0.0)) - mu) / sigma)
        cum = np.concatenate(([0.0], np.cumsum(self.weights)))
        return cum[np.searchsorted(self.atoms, y, side="right")]

    def sampler(self, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
        """A function drawing `n` service times."""
        return block_function(self.service, rng)

    def wait_plus_service_cdf(self, y: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """H(y) = P(Exp(theta) + S <= y) for rows of ticks (theta: (r, 1), y: (r, e))."""
        if self.service.dist == "exponential":
            return 1.0 - hypoexp_sf(np.maximum(y, 0.0), theta, 1.0 / self.service.mean)
        return _atom_convolution(y, theta, self.atoms, self.weights)


def _atoms(service: ServiceTime) -> tuple[np.ndarray, np.ndarray]:
    """Weighted atoms standing for the service law (sorted, weights summing to 1)."""
    if service.dist == "deterministic":
        return np.array([service.mean]), np.array([1.0])
    if service.dist == "empirical":
        values, counts = np.unique(np.asarray(service.values, dtype=float), return_counts=True)
        return values, counts / counts.sum()
    # Quantile midpoints, with the top 1 % cut ten times finer so p99s of S keep their digits.
    body = (np.arange(_ATOMS) + 0.5) / _ATOMS * 0.99
    tail = 0.99 + (np.arange(_TAIL_ATOMS) + 0.5) / _TAIL_ATOMS * 0.01
    probs = np.concatenate((body, tail))
    weights = np.concatenate(
        (np.full(_ATOMS, 0.99 / _ATOMS), np.full(_TAIL_ATOMS, 0.01 / _TAIL_ATOMS))
    )
    return quantiles(service, probs), weights


def _atom_convolution(
    y: np.ndarray, theta: np.ndarray, atoms: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """sum_{s_j <= y} w_j (1 - exp(-theta (y - s_j))), stable for any theta.

    T_J = sum_{j <= J} w_j exp(-theta (s_J - s_j)) obeys T_J = T_{J-1} exp(-theta (s_J -
    s_{J-1})) + w_J, one array operation per atom over every row at once.
    """
    rows = theta.shape[0]
    th = theta[:, 0]
    running = np.zeros((rows, len(atoms)))
    t = np.zeros(rows)
    for j in range(len(atoms)):
        gap = atoms[j] - atoms[j - 1] if j else 0.0
        t = t * np.exp(-th * gap) + weights[j]
        running[:, j] = t
    cum = np.cumsum(weights)
    last = np.searchsorted(atoms, y, side="right") - 1  # (r, e): last atom at or below y
    ok = last >= 0
    at = np.maximum(last, 0)
    gathered = np.take_along_axis(running, at, axis=1)
    with np.errstate(over="ignore"):
        tail = np.exp(-theta * (y - atoms[at])) * gathered
    return np.where(ok, cum[at] - tail, 0.0)


def truncated_wait_sf(x: np.ndarray, r: np.ndarray, rate: np.ndarray, room: int) -> np.ndarray:
    """P(W > x | the request waits) in M/M/c/K: W is Erlang(J + 1, c mu) with J geometric
    (ratio r) cut at the room K. Summing the geometric mixture of Erlang tails in closed form:

        (e^{-b x} Q(K, c mu r x) - r^K Q(K, c mu x)) / (1 - r^K),   b = c mu (1 - r),

    Q the regularized upper incomplete gamma function.
    """
    x = np.maximum(x, 0.0)
    rk = r**room
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        top = np.exp(-rate * (1.0 - r) * x) * special.gammaincc(room, rate * r * x)
        sf = (top - rk * special.gammaincc(room, rate * x)) / (1.0 - rk)
    return np.clip(sf, 0.0, 1.0)


def _truncated_plus_service(
    shape: ServiceShape, y: np.ndarray, r: np.ndarray, rate: np.ndarray, room: int
) -> np.ndarray:
    """P(W + S <= y) for the truncated wait W, summed over the service's atoms."""
    total = np.zeros_like(y)
    for s, w in zip(shape.atoms, shape.weights, strict=True):
        x = y - s
        total += w * np.where(x >= 0, 1.0 - truncated_wait_sf(x, r, rate, room), 0.0)
    return total


def sojourn_histograms(
    shape: ServiceShape,
    p: np.ndarray,
    theta: np.ndarray,
    d: np.ndarray,
    ratio: np.ndarray | None = None,
    rate: np.ndarray | None = None,
    room: int = 0,
) -> np.ndarray:
    """One latency histogram row (length BINS, summing to 1) per tick's (p, theta, d).

    Rows with `ratio` > 0 wait by a finite queue's truncated law (`truncated_wait_sf`,
    with that tick's drain `rate` and the station's `room`) instead of Exp(theta).
    """
    p, theta, d = (np.asarray(a, dtype=float)[:, None] for a in (p, theta, d))
    y = EDGES[None, :] - d
    theta = np.where(np.isfinite(theta) & (theta > 0), theta, 1e300)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        waited = shape.wait_plus_service_cdf(y, theta)
        if ratio is not None and rate is not None and room > 0:
            cut = np.flatnonzero(np.asarray(ratio) > 0)
            if len(cut):
                r, a = np.asarray(ratio)[cut, None], np.asarray(rate)[cut, None]
                waited[cut] = _truncated_plus_service(shape, y[cut], r, a, room)
        cdf = (1.0 - p) * shape.cdf(y) + p * waited
    cdf = np.clip(np.maximum.accumulate(cdf, axis=1), 0.0, 1.0)
    first = cdf[:, :1]
    inner = np.diff(cdf, axis=1)
    last = 1.0 - cdf[:, -1:]
    return np.concatenate((first, inner, last), axis=1)
