"""The fluid engine's clients: failed attempts come back as retries, then give up.

Against a station that loses every request (no servers, no waiting room), each first attempt
is tried `retries` more times and then given up: attempts are (retries + 1) x the first ones.
Against a route that loses a fixed share p, the expected attempts are a geometric sum,
first x (1 + p + ... + p^R), and p^(R + 1) of them give up: the expectation the exact
engine's clients reach by sampling.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.config.clients import Clients
from twin.sim.fluid.clients import FluidClient, client_process, generations
from twin.sim.fluid.flow import FluidStation, TickLog, station_process

TICKS = 200


def _run(client: FluidClient, stations: list[FluidStation]) -> None:
    env = simpy.Environment()
    env.process(client_process(env, client, TICKS, 1.0))
    for station in stations:
        env.process(station_process(env, station, TICKS))
    env.run()


def _dead_station() -> FluidStation:
    return FluidStation(
        ticks=TICKS, tick_s=1.0, mean_s=0.01, queue_capacity=0, servers=lambda _k: 0.0
    )


def test_every_lost_attempt_is_retried_then_given_up() -> None:
    base = np.zeros(TICKS)
    base[0] = 100.0
    policy = Clients(retries=3, backoff_base_s=1.0, backoff_cap_s=4.0, jitter=False)
    station = _dead_station()
    client = FluidClient("telemetry", base, [(station, 1.0)], policy, 10.0, 1.0)
    _run(client, [station])
    attempts = client.attempts
    # lost at once: back after 1 tick + the ceiling (1, 2, 4 s)
    assert np.flatnonzero(attempts).tolist() == [0, 2, 5, 10]
    assert attempts.sum() == pytest.approx(400.0)
    assert client.retries == pytest.approx(300.0) and client.gave_up == pytest.approx(100.0)
    assert station.log.arrivals.sum() == pytest.approx(400.0)  # the retries load the station


class _Lossy:
    """A station that loses share `p` of whatever arrives (a fixed log)."""

    def __init__(self, p: float) -> None:
        self.rate = 1.0
        self.log = TickLog.empty(TICKS)
        self.p = p

    def receive(self, k: int, count: float) -> None:
        self.log.arrivals[k] += count
        self.log.dropped[k] += count * self.p
        self.log.servers[k] = 1e9

    def passes(self, _k: int) -> float:
        return 1.0 - self.p


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_a_route_losing_a_share_makes_geometric_retries(p: float) -> None:
    base = np.full(TICKS, 10.0)
    base[TICKS // 2 :] = 0.0  # every retry comes back inside the run
    policy = Clients(retries=4, backoff_base_s=0.5, backoff_cap_s=8.0)
    client = FluidClient("workout", base, [(_Lossy(p), 1.0)], policy, 10.0, 1.0)
    env = simpy.Environment()
    env.process(client_process(env, client, TICKS, 1.0))
    env.run()
    first = base.sum()
    assert client.attempts.sum() == pytest.approx(first * sum(p**j for j in range(5)))
    assert client.gave_up == pytest.approx(first * p**5)


def test_periodic_calls_are_not_retried_and_joins_follow_patience() -> None:
    policy = Clients(backoff_base_s=1.0, backoff_cap_s=4.0, join_patience_s=20.0, jitter=False)
    assert generations(policy, "segment") == 0 and generations(policy, "leaderboard") == 0
    assert generations(policy, "workout") == policy.retries
    # backoffs 1, 2, 4, 4, 4, 4 add up to 19 s: six retries fit in 20 s of patience
    assert generations(policy, "join") == 6
    # with full jitter a backoff averages half its ceiling: 0.5, 1, 2, 2, ... fit eleven
    assert generations(policy.model_copy(update={"jitter": True}), "join") == 11


def test_nothing_lost_nothing_retried() -> None:
    base = np.full(TICKS, 5.0)
    client = FluidClient("join", base, [(_Lossy(0.0), 1.0)], Clients(), 10.0, 1.0)
    env = simpy.Environment()
    env.process(client_process(env, client, TICKS, 1.0))
    env.run()
    assert np.array_equal(client.attempts, base)
    assert client.retries == client.gave_up == client.timeouts == 0.0
