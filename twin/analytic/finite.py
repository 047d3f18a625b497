"""The M/M/c/K queue: c exponential servers and room for `queue_capacity` waiting requests.

An arrival that finds K = c + queue_capacity requests in the station is dropped. This is
what a station with `queue_capacity` set becomes, and it is stable at any load: past
utilization 1 the queue stays full and the excess is blocked. With queue_capacity 0 it is
Erlang's loss system (blocking = Erlang B).

The stationary law is p_n proportional to A^n / n! up to c and to p_c r^(n-c) beyond, with
A = lam/mu and r = A/c. Normalising by p_c uses Erlang B for the states up to c (their
weights sum to 1/B) and geometric sums for the queue; when r > 1 the weights are taken
relative to the full state instead, so nothing overflows for any capacity.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from twin.analytic.erlang import check_rate, check_servers, erlang_b

__all__ = ["MMcK", "mmck"]

_SERIES_BELOW = 1e-4  # n*|log r| under which the truncated-geometric mean uses its series


@dataclass(frozen=True, slots=True)
class MMcK:
    """The steady state of an M/M/c/K queue (times in seconds, rates per second).

    `blocking` is the probability an arrival is dropped (the queue is full); `throughput`
    = lam (1 - blocking) is what gets served. `utilization` is the busy fraction of the
    servers. `prob_wait`, `wait_mean` and `sojourn_mean` are for admitted requests.
    """

    arrival_rate: float
    service_rate: float
    servers: int
    queue_capacity: int
    blocking: float
    throughput: float
    utilization: float
    prob_wait: float
    wait_mean: float
    sojourn_mean: float
    queue_mean: float
    in_system_mean: float


def mmck(arrival_rate: float, service_rate: float, servers: int, queue_capacity: int) -> MMcK:
    """Solve M/M/c/K with K = servers + queue_capacity."""
    check_rate("arrival_rate", arrival_rate, allow_zero=True)
    check_rate("service_rate", service_rate)
    check_servers(servers)
    if (
        isinstance(queue_capacity, bool)
        or not isinstance(queue_capacity, int)
        or queue_capacity < 0
    ):
        raise ValueError(f"'queue_capacity' must be an integer >= 0, got {queue_capacity!r}")
    if arrival_rate == 0:
        return _record(arrival_rate, service_rate, int(servers), queue_capacity, (0.0, 0.0, 0.0))
    law = _queue_law(arrival_rate / service_rate, int(servers), queue_capacity)
    return _record(arrival_rate, service_rate, int(servers), queue_capacity, law)


def _queue_law(load: float, c: int, m: int) -> tuple[float, float, float]:
    """(P(full), P(all servers busy), mean number waiting) of the stationary law."""
    r = load / c
    inv_b = 1.0 / erlang_b(c, load)
    if r <= 1.0 or m == 0:  # weights relative to p_c: the queue's r^j never exceed 1
        x = math.log(r)
        g0, g1 = _geometric(x, m)
        s0, s1 = r * g0, r * (g1 + g0)  # sums of r^j and j r^j over j = 1..m
        z = inv_b + s0
        return math.exp(m * x) / z, (1.0 + s0) / z, s1 / z
    x = -math.log(r)  # weights relative to p_K: r^(j-m) over the queue, r^-m / B below
    t0, t1 = _geometric(x, m)
    below = math.exp(m * x) * inv_b
    z = below + t0
    return 1.0 / z, (math.exp(m * x) + t0) / z, (m * t0 - t1) / z


def _geometric(x: float, n: int) -> tuple[float, float]:
    """(sum of e^(ix), sum of i e^(ix)) over i = 0..n-1, for x <= 0, without cancellation."""
    if n == 0:
        return 0.0, 0.0
    u = -x
    if u * n < _SERIES_BELOW:
        mean = (n - 1) / 2.0 - u * (n * n - 1) / 12.0
        total = n * (1.0 - u * (n - 1) / 2.0)
        return total, mean * total
    total = -math.expm1(-u * n) / -math.expm1(-u)
    tail = 0.0 if u * n > 700 else n / math.expm1(u * n)
    mean = 1.0 / math.expm1(u) - tail
    return total, mean * total


def _record(lam: float, mu: float, c: int, m: int, law: tuple[float, float, float]) -> MMcK:
    full, busy, waiting = law
    throughput = lam * (1.0 - full)
    admitted = 1.0 - full
    wait = waiting / throughput if throughput > 0 else 0.0
    return MMcK(
        arrival_rate=lam,
        service_rate=mu,
        servers=c,
        queue_capacity=m,
        blocking=full,
        throughput=throughput,
        utilization=throughput / (c * mu),
        prob_wait=(busy - full) / admitted if admitted > 0 else 1.0,
        wait_mean=wait,
        sojourn_mean=wait + 1.0 / mu,
        queue_mean=waiting,
        in_system_mean=waiting + throughput / mu,
    )
