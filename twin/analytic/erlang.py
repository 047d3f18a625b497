"""Erlang's formulas for the M/M/c queue, unbounded (Erlang C) and with a finite queue (M/M/c/K).

Poisson arrivals at rate lam, c servers each exponential at rate mu, FIFO. These are the
exact results the engines are checked against. Erlang B comes from its recursion
B(k) = A B(k-1) / (k + A B(k-1)), whose every step stays within [0, 1]: the textbook sums of
A^k / k! overflow past ~170 servers, the recursion is exact for any number. Erlang C and the
finite queue are built from B. Functions take plain numbers and return frozen records; bad
parameters raise `ValueError`, an unbounded queue at utilization >= 1 raises `UnstableError`.
For many arrival rates at once see `twin.analytic.erlang_batch`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from twin.analytic import waiting
from twin.errors import UnstableError

__all__ = ["MMc", "erlang_b", "erlang_c", "mmc"]


def erlang_b(servers: int, load: float) -> float:
    """Blocking probability of the loss system M/M/c/c offered `load` = lam/mu erlangs."""
    check_servers(servers)
    check_rate("load", load, allow_zero=True)
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = load * b / (k + load * b)
    return b


def erlang_c(servers: int, load: float, *, name: str = "queue") -> float:
    """Probability that an arrival waits in M/M/c offered `load` erlangs: cB / (c - A(1 - B)).

    Raises `UnstableError` (naming `name`) when load >= servers: the queue grows without end.
    """
    b = erlang_b(servers, load)
    if load >= servers:
        raise UnstableError(name, load / servers)
    return servers * b / (servers - load * (1.0 - b))


@dataclass(frozen=True, slots=True)
class MMc:
    """The steady state of an M/M/c queue (times in seconds, rates per second).

    `prob_wait` is Erlang C; `wait_mean` (Wq) is the mean time in queue, `sojourn_mean` (W)
    adds the mean service; `queue_mean` (Lq) and `in_system_mean` (L) follow by Little's law.
    The methods give the distributions: a wait is 0 with probability 1 - C and otherwise
    exponential at `drain_rate` = c*mu - lam.
    """

    arrival_rate: float
    service_rate: float
    servers: int
    utilization: float
    prob_wait: float
    wait_mean: float
    sojourn_mean: float
    queue_mean: float
    in_system_mean: float

    @property
    def drain_rate(self) -> float:
        """c*mu - lam: the rate at which a wait ends once all servers are busy."""
        return self.servers * self.service_rate - self.arrival_rate

    def wait_sf(self, t: float) -> float:
        """P(Wq > t)."""
        return float(waiting.wait_sf(t, self.prob_wait, self.drain_rate))

    def wait_cdf(self, t: float) -> float:
        """P(Wq <= t)."""
        return 1.0 - self.wait_sf(t)

    def wait_quantile(self, p: float) -> float:
        """The smallest t with P(Wq <= t) >= p (0 when p <= 1 - C)."""
        return float(waiting.wait_quantile(p, self.prob_wait, self.drain_rate))

    def sojourn_sf(self, t: float) -> float:
        """P(W > t) for the sojourn W = wait + service."""
        return float(waiting.sojourn_sf(t, self.prob_wait, self.drain_rate, self.service_rate))

    def sojourn_cdf(self, t: float) -> float:
        """P(W <= t)."""
        return 1.0 - self.sojourn_sf(t)

    def sojourn_quantile(self, p: float) -> float:
        """The t with P(W <= t) = p."""
        rates = (self.prob_wait, self.drain_rate, self.service_rate)
        return float(waiting.sojourn_quantile(p, *rates))


def mmc(arrival_rate: float, service_rate: float, servers: int, *, name: str = "queue") -> MMc:
    """Solve M/M/c. Raises `UnstableError` naming `name` when lam >= c*mu."""
    check_rate("arrival_rate", arrival_rate, allow_zero=True)
    check_rate("service_rate", service_rate)
    load = arrival_rate / service_rate
    c = erlang_c(servers, load, name=name)
    wait = c / (servers * service_rate - arrival_rate)
    sojourn = wait + 1.0 / service_rate
    return MMc(
        arrival_rate=arrival_rate,
        service_rate=service_rate,
        servers=int(servers),
        utilization=load / servers,
        prob_wait=c,
        wait_mean=wait,
        sojourn_mean=sojourn,
        queue_mean=arrival_rate * wait,
        in_system_mean=arrival_rate * sojourn,
    )


def check_servers(servers: int) -> None:
    """Refuse a server count that is not a positive integer."""
    if isinstance(servers, bool) or not isinstance(servers, numbers.Integral) or servers < 1:
        raise ValueError(f"'servers' must be an integer >= 1, got {servers!r}")


def check_rate(field: str, value: float, *, allow_zero: bool = False) -> None:
    """Refuse a rate (or load, or mean) that is not finite and positive (or zero if allowed)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{field!r} must be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{field!r} must be {bound}, got {value!r}")
