"""An exact run's expected station visits, known before it starts, and the limit on them."""

from __future__ import annotations

import time

import pytest

from tests.factories import scenario, single_queue, station
from twin.errors import InputError
from twin.sim.exact import run_exact
from twin.sim.exact.model import from_network
from twin.sim.exact.work import expected_visits


def test_one_queue_is_visited_once_per_arrival() -> None:
    model = from_network(single_queue(rate=3.6, servers=4, duration_s=200_000.0))
    assert expected_visits(model) == pytest.approx(720_000)


def test_feedback_multiplies_visits_as_the_traffic_equations_say() -> None:
    # api -> db with 0.5, db -> api with 0.5: lambda_api = 2 + 0.5 lambda_db, lambda_db =
    # 0.5 lambda_api, so lambda_api = 8/3 and lambda_db = 4/3 per second: 4 per arrival of 2.
    net = {
        "sources": [{"name": "r", "rate_per_s": [[0, 2.0], [50, 0.0]], "to": "api"}],
        "stations": {
            "api": station(routes={"db": 0.5, "exit": 0.5}),
            "db": station(routes={"api": 0.5, "exit": 0.5}),
        },
    }
    model = from_network(scenario(net, duration_s=100.0))
    assert expected_visits(model) == pytest.approx(2.0 * 50 * 2)  # 100 arrivals, 2 visits each


def test_a_run_past_the_limit_is_refused_before_any_event() -> None:
    big = single_queue(rate=1e8, servers=1000, mean_s=1e-6, duration_s=10.0)
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        run_exact(big, replications=1)
    assert time.perf_counter() - started < 1.0
    assert (caught.value.source, caught.value.field) == ("--engine", "exact")
    assert caught.value.message.startswith(
        "single: expected station visits 1,000,000,000 is over the limit of 100,000,000"
    )
    assert "use --engine fluid" in caught.value.message
