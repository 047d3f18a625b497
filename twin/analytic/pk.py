"""Mean waits for general service times: Pollaczek-Khinchine (M/G/1) and Allen-Cunneen (M/G/c).

M/G/1 (Poisson arrivals, one server, any service law) has the exact Pollaczek-Khinchine
mean wait, which needs only the service time's mean E[S] and squared coefficient of
variation scv = Var[S] / E[S]^2:

    Wq = rho (1 + scv) / (2 (1 - rho)) E[S]

so deterministic service (scv 0) waits half as long as exponential (scv 1).

M/G/c has no exact closed form. The Allen-Cunneen approximation scales the M/M/c (Erlang C)
wait by (ca^2 + cs^2) / 2 with ca^2 = 1 for Poisson arrivals, i.e. by (1 + scv) / 2. It is
exact for c = 1 (it is P-K there) and for exponential service, and good to a few percent
at moderate to heavy load otherwise; the record says `approximate=True`.
"""

from __future__ import annotations

from dataclasses import dataclass

from twin.analytic.erlang import check_rate, check_servers, erlang_c
from twin.errors import UnstableError

__all__ = ["ALLEN_CUNNEEN", "PK", "MeanQueue", "mg1", "mgc_allen_cunneen"]

PK = "M/G/1 P-K"
ALLEN_CUNNEEN = "M/G/c Allen-Cunneen (approx.)"


@dataclass(frozen=True, slots=True)
class MeanQueue:
    """Mean values of a queue with general service (seconds, per second).

    `method` names the formula; `approximate` is True when it is not exact for this queue.
    """

    arrival_rate: float
    service_mean: float
    service_scv: float
    servers: int
    utilization: float
    wait_mean: float
    sojourn_mean: float
    queue_mean: float
    in_system_mean: float
    method: str
    approximate: bool


def mg1(arrival_rate: float, service_mean: float, scv: float, *, name: str = "queue") -> MeanQueue:
    """M/G/1 by Pollaczek-Khinchine. Raises `UnstableError` naming `name` when rho >= 1."""
    _check(arrival_rate, service_mean, scv)
    rho = arrival_rate * service_mean
    if rho >= 1.0:
        raise UnstableError(name, rho)
    wait = rho * (1.0 + scv) / (2.0 * (1.0 - rho)) * service_mean
    return _record(arrival_rate, service_mean, scv, 1, wait, PK, approximate=False)


def mgc_allen_cunneen(
    arrival_rate: float, service_mean: float, scv: float, servers: int, *, name: str = "queue"
) -> MeanQueue:
    """M/G/c by the Allen-Cunneen approximation: the Erlang C wait times (1 + scv) / 2."""
    _check(arrival_rate, service_mean, scv)
    check_servers(servers)
    load = arrival_rate * service_mean
    c = erlang_c(servers, load, name=name)
    wait_mmc = c * service_mean / (servers - load)  # C / (c mu - lam), with mu = 1 / E[S]
    wait = wait_mmc * (1.0 + scv) / 2.0
    exact = servers == 1 or scv == 1.0
    return _record(
        arrival_rate, service_mean, scv, int(servers), wait, ALLEN_CUNNEEN, approximate=not exact
    )


def _check(arrival_rate: float, service_mean: float, scv: float) -> None:
    check_rate("arrival_rate", arrival_rate, allow_zero=True)
    check_rate("service_mean", service_mean)
    check_rate("scv", scv, allow_zero=True)


def _record(
    lam: float, mean: float, scv: float, c: int, wait: float, method: str, *, approximate: bool
) -> MeanQueue:
    sojourn = wait + mean
    return MeanQueue(
        arrival_rate=lam,
        service_mean=mean,
        service_scv=scv,
        servers=c,
        utilization=lam * mean / c,
        wait_mean=wait,
        sojourn_mean=sojourn,
        queue_mean=lam * wait,
        in_system_mean=lam * sojourn,
        method=method,
        approximate=approximate,
    )
