"""The exact engine's clients: timeouts, retries with capped exponential backoff, patience.

A fake network (a SimPy process that answers, loses or ignores each attempt as the test says)
stands in for the stations, so every time below is known exactly: with jitter off, attempt
k + 1 is sent `timeout + min(cap, base * 2^(k-1))` after attempt k when nothing answers.
"""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from twin.config.clients import Clients
from twin.sim.exact.clients import ClientPool

NAMES = ["join", "telemetry", "segment"]


class FakeNetwork:
    """Answers each attempt after `delay` (None: never; a negative number: lost at once)."""

    def __init__(self, env: simpy.Environment, delays: list[float | None]) -> None:
        self.env, self.delays = env, list(delays)
        self.sent: list[tuple[str, float]] = []
        self.pool: ClientPool | None = None

    def emitter(self, name: str):
        def emit(token) -> None:
            self.sent.append((name, self.env.now))
            delay = self.delays.pop(0) if self.delays else None
            if delay is None:
                return
            request = [0, self.env.now, self.env.now, 0, token]
            if delay < 0:
                self.pool.settle(request, False)
                return
            event = self.env.timeout(delay)
            event.callbacks.append(lambda _e: self.pool.settle(request, True))

        return emit


def _pool(delays, **policy) -> tuple[simpy.Environment, FakeNetwork, ClientPool]:
    env = simpy.Environment()
    net = FakeNetwork(env, delays)
    net.pool = ClientPool(
        env,
        names=NAMES,
        emit=[net.emitter(n) for n in NAMES],
        policy=Clients(jitter=False, **policy),
        segment_s=4.0,
        rng=np.random.default_rng(1),
    )
    return env, net, net.pool


def test_an_answer_within_the_timeout_is_a_success_with_its_latency() -> None:
    env, _net, pool = _pool([0.25])
    results = []
    pool.send(1, lambda ok, took: results.append((ok, took)))
    env.run(until=60)
    assert results == [(True, pytest.approx(0.25))]
    assert pool.stats["telemetry"] == {"retries": 0, "timeouts": 0, "gave_up": 0}


def test_silence_times_out_and_retries_with_capped_exponential_backoff() -> None:
    env, net, pool = _pool([None] * 10, timeout_s={"telemetry": 2.0}, retries=4,
                           backoff_base_s=0.5, backoff_cap_s=1.5)  # fmt: skip
    results = []
    pool.send(1, lambda ok, took: results.append((ok, took)))
    env.run(until=120)
    times = [t for _, t in net.sent]
    gaps = np.diff(times)
    # timeout 2 s (on a 50 ms timer wheel: exact here) + ceilings 0.5, 1.0, 1.5 (capped), 1.5
    assert gaps == pytest.approx([2.5, 3.0, 3.5, 3.5])
    assert len(times) == 5  # the first attempt and four retries
    assert results == [(False, pytest.approx(times[-1] + 2.0))]
    assert pool.stats["telemetry"] == {"retries": 4, "timeouts": 5, "gave_up": 1}


def test_a_lost_request_is_retried_at_once_after_its_backoff() -> None:
    env, net, pool = _pool([-1.0, -1.0, 0.1], retries=3, backoff_base_s=1.0, backoff_cap_s=8.0)
    results = []
    pool.send(1, lambda ok, took: results.append((ok, took)))
    env.run(until=60)
    assert [t for _, t in net.sent] == pytest.approx([0.0, 1.0, 3.0])
    assert results == [(True, pytest.approx(3.1))]


def test_an_answer_after_the_timeout_is_ignored() -> None:
    env, net, pool = _pool([3.0, 0.5], timeout_s={"telemetry": 2.0}, backoff_base_s=1.0)
    results = []
    pool.send(1, lambda ok, took: results.append((ok, took)))
    env.run(until=60)
    # the first answer (at 3 s) came after its 2 s timeout; the retry (sent at 3 s) is answered
    assert [t for _, t in net.sent] == pytest.approx([0.0, 3.0])
    assert results == [(True, pytest.approx(3.5))]
    assert pool.stats["telemetry"]["timeouts"] == 1


def test_a_join_is_retried_until_the_riders_patience_runs_out() -> None:
    env, net, pool = _pool([-1.0] * 100, retries=1, backoff_base_s=1.0, backoff_cap_s=4.0,
                           join_patience_s=20.0)  # fmt: skip
    results = []
    pool.send(0, lambda ok, took: results.append((ok, took)))
    env.run(until=600)
    times = [t for _, t in net.sent]
    # lost at once each time: waits 1, 2, 4, 4, 4 ... while the next attempt is within 20 s
    assert times == pytest.approx([0.0, 1.0, 3.0, 7.0, 11.0, 15.0, 19.0])
    assert len(times) > 1 + 1  # more than `retries`: a join follows patience, not the budget
    assert results == [(False, pytest.approx(19.0))]


def test_periodic_calls_are_not_retried() -> None:
    env, net, pool = _pool([-1.0])
    results = []
    pool.send(2, lambda ok, took: results.append(ok))
    env.run(until=60)
    assert len(net.sent) == 1 and results == [False]


def test_a_segment_times_out_after_one_segment_duration_by_default() -> None:
    assert Clients().timeout_for("segment", 4.0) == 4.0
    assert Clients().timeout_for("join", 4.0) == 10.0


@pytest.mark.parametrize(
    "field, value",
    [("backoff_base_s", -1), ("retries", 1_000_000_000), ("retries", -1), ("backoff_cap_s", 0),
     ("join_patience_s", float("inf")), ("timeout_s", {"jion": 1.0})],
)  # fmt: skip
def test_bad_client_settings_name_the_field(field: str, value) -> None:
    with pytest.raises(ValueError, match=field.split("_s")[0]):
        Clients.model_validate({field: value})
