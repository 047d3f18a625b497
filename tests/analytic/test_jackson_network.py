"""Open Jackson networks from scenarios, against traffic equations solved by hand."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from twin.analytic.erlang import mmc
from twin.analytic.finite import mmck
from twin.analytic.jackson import MMC, MMCK, analyze_network, mean_rate
from twin.analytic.pk import ALLEN_CUNNEEN, PK, mg1
from twin.config.network import NetworkScenario, RateSchedule
from twin.errors import UnstableError


def scenario(
    sources: list[dict[str, Any]], stations: dict[str, Any], **top: Any
) -> NetworkScenario:
    data = {"name": "t", "duration_s": 1000, "network": {"sources": sources, "stations": stations}}
    return NetworkScenario.model_validate({**data, **top})


def exp_station(servers: int, mean_s: float, **extra: Any) -> dict[str, Any]:
    return {"servers": servers, "service": {"dist": "exponential", "mean_s": mean_s}, **extra}


FEEDBACK = {
    "api": exp_station(2, 0.2, routes={"db": 0.3, "exit": 0.7}),
    "db": exp_station(1, 0.1, routes={"api": 1.0}),
}


def test_feedback_network_matches_hand_solved_traffic_equations() -> None:
    # lambda_api = 3 + lambda_db and lambda_db = 0.3 lambda_api, so lambda_api = 3 / 0.7
    # = 4.2857/s and lambda_db = 1.2857/s. A request visits api 1/0.7 times, db 0.3/0.7 times.
    # api is M/M/2 (mu 5): rho = 0.42857, P(wait) = 2 rho^2 / (1 + rho), Wq = C / (2 mu - lam).
    # db is M/M/1 (mu 10): W = 1 / (mu - lam).
    result = analyze_network(scenario([{"name": "web", "rate_per_s": 3.0, "to": "api"}], FEEDBACK))
    lam_api, lam_db = 3 / 0.7, 0.9 / 0.7
    rho = lam_api / 10
    w_api = 2 * rho**2 / (1 + rho) / (10 - lam_api) + 0.2
    w_db = 1 / (10 - lam_db)
    api, db = result.stations["api"], result.stations["db"]
    assert api.arrival_rate == pytest.approx(lam_api, rel=1e-12)
    assert db.arrival_rate == pytest.approx(lam_db, rel=1e-12)
    assert api.utilization == pytest.approx(rho, rel=1e-12)
    assert api.sojourn_mean == pytest.approx(w_api, rel=1e-12)
    assert db.sojourn_mean == pytest.approx(w_db, rel=1e-12)
    web = result.sources["web"]
    assert dict(web.visits) == pytest.approx({"api": 1 / 0.7, "db": 0.3 / 0.7}, rel=1e-12)
    assert web.latency_mean == pytest.approx(w_api / 0.7 + w_db * 0.3 / 0.7, rel=1e-12)
    assert web.completed_fraction == pytest.approx(1.0)
    assert api.method == db.method == MMC and not api.approximate and not db.approximate


def test_two_sources_and_littles_law_over_the_network() -> None:
    srcs = [
        {"name": "web", "rate_per_s": 3.0, "to": "api"},
        {"name": "jobs", "rate_per_s": 1.0, "to": "db"},
    ]
    result = analyze_network(scenario(srcs, FEEDBACK))
    # From db a request goes to api, so it visits each 1/0.7 times.
    assert dict(result.sources["jobs"].visits) == pytest.approx({"api": 1 / 0.7, "db": 1 / 0.7})
    assert result.stations["api"].arrival_rate == pytest.approx(4 / 0.7)
    # Requests in the network, counted per station and per source, must agree.
    per_station = sum(s.arrival_rate * s.sojourn_mean for s in result.stations.values())
    per_source = sum(s.rate * s.latency_mean for s in result.sources.values())
    assert per_source == pytest.approx(per_station, rel=1e-12)


def test_mean_and_peak_rates_of_a_schedule() -> None:
    assert mean_rate(RateSchedule(points=((0, 1.0), (600, 4.0))), 1000) == pytest.approx(2.2)
    beyond = RateSchedule(points=((0, 2.0), (500, 10.0), (2000, 100.0)))
    assert mean_rate(beyond, 1000) == pytest.approx(6.0)
    src = [{"name": "web", "rate_per_s": [[0, 1.0], [600, 4.0]], "to": "api"}]
    net = {"api": exp_station(8, 1.0)}
    assert analyze_network(scenario(src, net)).stations["api"].arrival_rate == pytest.approx(2.2)
    peak = analyze_network(scenario(src, net), at_peak=True)
    assert peak.stations["api"].arrival_rate == pytest.approx(4.0)
    assert peak.as_dict()["rates"] == "peak"


def test_the_most_loaded_unstable_station_is_named() -> None:
    src = [{"name": "web", "rate_per_s": 4.4, "to": "api"}]
    net = {"api": exp_station(4, 1.0, routes={"db": 1.0}), "db": exp_station(2, 0.4)}
    with pytest.raises(UnstableError, match="'api'") as info:
        analyze_network(scenario(src, net))  # api at 4.4 / 4 = 1.1, db at 4.4 * 0.4 / 2 = 0.88
    assert info.value.utilization == pytest.approx(1.1)
    net["db"] = exp_station(2, 0.6)  # db now at 4.4 * 0.6 / 2 = 1.32: the worse of the two
    with pytest.raises(UnstableError, match="'db'"):
        analyze_network(scenario(src, net))


def test_a_loop_without_exit_is_refused_when_the_scenario_is_built() -> None:
    # Issue 17: refused by the scenario's validation, before any run (the simulation of such
    # a loop never ends), no longer only by the theory after it.
    net = {
        "api": exp_station(4, 0.1, routes={"db": 0.5, "exit": 0.5}),
        "db": exp_station(1, 0.1, routes={"cache": 1.0}),
        "cache": exp_station(1, 0.1, routes={"db": 1.0}),
    }
    with pytest.raises(ValidationError, match=r"stations\.db\.routes") as info:
        scenario([{"name": "web", "rate_per_s": 1, "to": "api"}], net)
    assert "requests at db, cache can never leave the network" in str(info.value)


def test_stations_no_source_reaches_are_idle() -> None:
    net = {
        "api": exp_station(1, 0.1),
        "orphan": exp_station(1, 0.5, routes={"lost": 1.0}),
        "lost": exp_station(1, 0.5, routes={"orphan": 1.0}),
    }
    result = analyze_network(scenario([{"name": "web", "rate_per_s": 2, "to": "api"}], net))
    assert result.stations["orphan"].arrival_rate == 0.0
    assert result.stations["orphan"].sojourn_mean == pytest.approx(0.5)
    assert result.sources["web"].latency_mean == pytest.approx(1 / (10 - 2))


def test_finite_queue_downstream_blocks_and_completed_latency_excludes_drops() -> None:
    # a: M/M/1 (mu 4) feeds b: M/M/1/K with room for 2 waiting (K = 3), mu 3, at 2/s.
    # b drops (1 - r) r^3 / (1 - r^4) of arrivals, r = 2/3; served requests spend W_a + W_b.
    src = [{"name": "web", "rate_per_s": 2.0, "to": "a"}]
    net = {
        "a": exp_station(1, 0.25, routes={"b": 1.0}),
        "b": exp_station(1, 1 / 3, queue_capacity=2),
    }
    result = analyze_network(scenario(src, net))
    r = 2 / 3
    dropped = (1 - r) * r**3 / (1 - r**4)
    b = result.stations["b"]
    assert b.blocking == pytest.approx(dropped, rel=1e-12)
    assert b.method == MMCK and b.approximate  # fed by a, not by a Poisson source
    w_b = mmck(2.0, 3.0, 1, 2).sojourn_mean
    web = result.sources["web"]
    assert web.latency_mean == pytest.approx(1 / (4 - 2) + w_b, rel=1e-12)
    assert web.completed_fraction == pytest.approx(1 - dropped, rel=1e-12)


def test_blocking_upstream_thins_the_flow_downstream() -> None:
    src = [{"name": "web", "rate_per_s": 6.0, "to": "a"}]
    net = {"a": exp_station(2, 0.5, queue_capacity=3, routes={"b": 1.0}), "b": exp_station(3, 0.2)}
    result = analyze_network(scenario(src, net))
    served = mmck(6.0, 2.0, 2, 3).throughput
    assert result.stations["b"].arrival_rate == pytest.approx(served, rel=1e-12)
    assert result.stations["a"].blocking == pytest.approx(1 - served / 6.0, rel=1e-12)
    assert result.stations["b"].approximate  # downstream of a lossy queue


def test_blocking_in_a_feedback_loop_is_a_consistent_fixed_point() -> None:
    net = {
        "api": exp_station(2, 0.2, routes={"db": 0.5, "exit": 0.5}),
        "db": exp_station(1, 0.25, queue_capacity=2, routes={"api": 1.0}),
    }
    result = analyze_network(scenario([{"name": "web", "rate_per_s": 4.0, "to": "api"}], net))
    api, db = result.stations["api"], result.stations["db"]
    blocked = mmck(db.arrival_rate, 4.0, 1, 2).blocking
    assert db.blocking == pytest.approx(blocked, rel=1e-9)
    assert db.arrival_rate == pytest.approx(0.5 * api.arrival_rate, rel=1e-12)
    assert api.arrival_rate == pytest.approx(4.0 + db.arrival_rate * (1 - blocked), rel=1e-9)


def test_general_service_picks_pk_or_allen_cunneen() -> None:
    net = {
        "edge": {"servers": 1, "service": {"dist": "deterministic", "mean_s": 0.1},
                 "routes": {"app": 1.0}},
        "app": {"servers": 3, "service": {"dist": "gamma", "mean_s": 0.2, "cv": 0.5}},
    }  # fmt: skip
    result = analyze_network(scenario([{"name": "web", "rate_per_s": 5.0, "to": "edge"}], net))
    edge, app = result.stations["edge"], result.stations["app"]
    assert edge.method == PK and not edge.approximate  # fed by a Poisson source: exact
    assert edge.wait_mean == pytest.approx(mg1(5.0, 0.1, 0.0).wait_mean, rel=1e-12)
    assert app.method == ALLEN_CUNNEEN and app.approximate
    want = mmc(5.0, 5.0, 3).wait_mean * (1 + 0.25) / 2
    assert app.wait_mean == pytest.approx(want, rel=1e-12)


def test_json_form_uses_milliseconds_and_the_contract_keys() -> None:
    result = analyze_network(scenario([{"name": "web", "rate_per_s": 3.0, "to": "api"}], FEEDBACK))
    data = result.as_dict()
    api = data["stations"]["api"]
    assert set(api) >= {
        "arrival_rate_per_s", "servers", "utilization", "wait_ms_mean", "latency_ms_mean", "method"
    }  # fmt: skip
    assert api["wait_ms_mean"] == pytest.approx(result.stations["api"].wait_mean * 1000)
    assert api["servers"] == 2 and api["method"] == MMC
    assert data["sources"]["web"]["latency_ms_mean"] == pytest.approx(
        result.sources["web"].latency_mean * 1000
    )


routing = st.floats(0.0, 0.8)


@settings(max_examples=60, deadline=None)
@given(
    p=st.lists(st.lists(routing, min_size=3, max_size=3), min_size=3, max_size=3),
    rates=st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3),
)
def test_what_enters_leaves_and_littles_law_holds(p: list[list[float]], rates: list[float]) -> None:
    names = ["a", "b", "c"]
    stations = {}
    for i, name in enumerate(names):
        total = sum(p[i])
        scale = 0.8 / total if total > 0.8 else 1.0  # at least 20% leave from every station
        routes = {names[j]: p[i][j] * scale for j in range(3) if p[i][j] * scale > 0}
        routes["exit"] = 1.0 - sum(routes.values())
        stations[name] = exp_station(2, 0.1, routes=routes)
    srcs = [{"name": f"s{i}", "rate_per_s": r, "to": names[i]} for i, r in enumerate(rates)]
    result = analyze_network(scenario(srcs, stations))
    leaving = sum(result.stations[n].arrival_rate * stations[n]["routes"]["exit"] for n in names)
    assert leaving == pytest.approx(sum(rates), rel=1e-9, abs=1e-12)
    in_network = sum(s.arrival_rate * s.sojourn_mean for s in result.stations.values())
    by_source = sum(s.rate * s.latency_mean for s in result.sources.values())
    assert by_source == pytest.approx(in_network, rel=1e-9, abs=1e-12)
