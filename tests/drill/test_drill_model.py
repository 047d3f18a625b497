"""The twin's side of a drill: the compressed prediction and calibration."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from twin.drill.fit import (
    Fit,
    FitTarget,
    calibrated_yaml,
    fit_services,
    lognormal_from_quantiles,
    no_wait_quantiles,
    prediction_errors,
)

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scenarios/architectures/reference-platform.yaml"


@pytest.fixture(scope="module")
def drill_model():
    from twin.drill.predict import compile_target, drill_platform, target_architecture
    from twin.drill.run import DrillOptions, compile_drill

    options = DrillOptions(scenario=ROOT / "scenarios/daily-peak.yaml", out=Path("."),
                           target="local", scale=3e-4, speedup=180.0)  # fmt: skip
    scenario, _arch, _compiled, work = compile_drill(options)
    arch = target_architecture("reference-platform", options.scenario)
    return scenario, arch, work, drill_platform(compile_target(scenario, arch), work)


def test_the_drill_platform_carries_the_drills_own_workload(drill_model):
    _scenario, arch, work, platform = drill_model
    assert platform.tick_s == 1.0 and platform.t.size == work.duration_s == 20
    for rtype, rate in work.rates.items():
        if rtype in ("recommend", "join"):  # a class end's restarts move to it: same totals
            assert platform.demand[rtype].sum() == pytest.approx(rate.sum())
        else:
            assert platform.demand[rtype] == pytest.approx(rate)
    # every request crosses the event loop once; the ingest path adds nothing to it
    api = platform.services["api"]
    assert api.arrivals == pytest.approx(np.sum(list(platform.demand.values()), axis=0))
    assert api.arrivals.sum() == pytest.approx(work.total_rate.sum())
    assert api.servers == pytest.approx(np.ones(20))  # the target's one loop, not scaled
    # the stream's consumers take the drill's telemetry records (one per batch)
    records = platform.services["processor"].arrivals
    assert records.mean() == pytest.approx(work.rates["telemetry"].mean(), rel=1e-6)
    assert (
        platform.services["origin"].servers[0]
        == arch.components["origin"].station.servers_per_instance
    )


def test_the_drills_live_shares_follow_its_own_clock(drill_model):
    # live players reload and fetch every segment length of wall clock; on-demand starts (one
    # playlist each) come `--speedup` times as often: the live share of playlists is the
    # drill's live riders / 4 s over its playlist rate, not the scenario's (which is ~1 here)
    _scenario, _arch, work, platform = drill_model
    live = work.riders * work.active_live_share / 4.0
    expected = np.minimum(live / work.rates["playlist"], 1.0)
    assert platform.live_playlist_share == pytest.approx(expected)
    assert 0.2 < platform.live_playlist_share.mean() < 0.9
    assert platform.live_segment_share == pytest.approx(np.minimum(live / work.rates["segment"],
                                                                   1.0))  # fmt: skip
    # the journey sends these right behind a response: they find the server's loop awake
    awake = platform.awake  # twin.drill.predict.awake_shares
    assert awake["join"] == awake["feedback"] == 1.0
    playlists = work.rates["playlist"]
    assert awake["playlist"] == pytest.approx(
        float(((1.0 - expected) * playlists).sum() / playlists.sum())
    )
    assert "telemetry" not in awake  # sent when a timer fires
    # an app open follows the rider's last session at once, but for a new user's first
    from twin.drill.predict import fresh_app_opens

    fresh = fresh_app_opens(work.users).sum()
    opens = work.rates["recommend"].sum()
    assert 0 < fresh < opens
    assert awake["recommend"] == pytest.approx(1.0 - fresh / opens)


def test_the_prediction_takes_the_live_riders_the_drill_rode(drill_model):
    from twin.drill.predict import drill_platform, ridden

    _scenario, _arch, work, platform = drill_model
    planned = float((work.riders * work.active_live_share).sum()) / 4.0  # live reloads
    # a drill that rode half the plan's live riders: its reloads are the playlists beyond
    # its master playlists, plus one for each live session's master
    measured = {"requests": {"playlist": {"count": 400 + planned / 2 - 30},
                             "master": {"count": 400}},
                "drill": {"sessions": {"live": 30}}}  # fmt: skip
    half = ridden(work, measured)
    assert half.active_live_share == pytest.approx(work.active_live_share / 2)
    assert half.rates is work.rates and half.users is work.users  # the load is the plan's
    # with the plan's share of its app opens as its live starts, when it did not count them
    starts = float((work.rates["recommend"] * work.live_start_share).sum())
    older = {"requests": {"playlist": {"count": 400 + planned - starts},
                          "master": {"count": 400}}, "replications": 1}  # fmt: skip
    assert ridden(work, older).active_live_share == pytest.approx(work.active_live_share)
    # pooled repeats count twice the requests
    twice = {"requests": {"playlist": {"count": 2 * (400 + planned / 2 - 30)},
                          "master": {"count": 800}},
             "drill": {"sessions": {"live": 60}}, "replications": 2}  # fmt: skip
    assert ridden(work, twice).active_live_share == pytest.approx(work.active_live_share / 2)
    # fewer live riders: fewer live playlists, so more of them find the loop awake
    from twin.drill.predict import compile_target

    scenario, arch = drill_model[0], drill_model[1]
    fewer = drill_platform(compile_target(scenario, arch), half)
    assert fewer.live_playlist_share == pytest.approx(platform.live_playlist_share / 2)
    assert fewer.awake["playlist"] > platform.awake["playlist"]
    assert ridden(work, {}) is work  # no counts: the plan's


def test_fresh_app_opens_are_new_users_that_resume_no_parked_rider():
    from twin.drill.predict import fresh_app_opens

    # second 1: spawned within IN_PROGRESS_S (mid-session, no app open); second 3: two new
    # users open the app; second 5: one stops (its rider parked), second 8: two spawn, one
    # resumes the parked rider, one opens; second 20: one stops, second 27 (past PARK_S):
    # the new one finds no parked rider and opens the app
    users = [0, 4, 4, 6, 6, 5, 5, 5, 7] + [7] * 11 + [6] * 7 + [7] * 3
    fresh = fresh_app_opens(np.array(users))
    assert fresh.tolist() == [0, 0, 0, 2, 0, 0, 0, 0, 1] + [0] * 18 + [1, 0, 0]


def test_the_prediction_is_the_sum_of_service_times_at_low_load(drill_model):
    from twin.drill.predict import predict

    scenario, arch, work, platform = drill_model
    predicted = predict(scenario, arch, work, seed=3, replications=2)
    assert predicted["engine"] == "exact" and predicted["prediction"]["engine"] == "exact"
    for rtype, block in predicted["requests"].items():
        # Poisson counts of the requested rate over 20 s, two replications
        expected = 2 * float(work.rates[rtype].sum())
        assert abs(block["count"] - expected) <= 4 * math.sqrt(expected) + 2, rtype
        # each hop's time for this type: its own (a segment's per-MB transfer), else listed;
        # the load generator's timer only for the requests not sent right behind a response
        on_own = 1.0 - platform.awake.get(rtype, 0.0)
        hops = [spec.service_by_request.get(rtype, spec.own_service or spec.service)
                for spec in (platform.services[h] for h in arch.routes[rtype])]  # fmt: skip
        shares = [on_own if h in platform.timers else 1.0 for h in arch.routes[rtype]]
        # and waking the server's loop, where the request finds it asleep and was not sent
        # right behind a response: (1 - rho) W / (1 + lam tau) on average (the loop's
        # idle periods are exponential at its arrival rate lam)
        penalty, tau = platform.services["api"].wake
        lam = float(platform.services["api"].arrivals.mean())
        woken = on_own * penalty / (1.0 + lam * tau)
        api = platform.services["api"].service
        mean = sum(h.mean * s for h, s in zip(hops, shares, strict=True)) + woken * (
            1.0 - lam * api.mean)
        spread = math.sqrt((sum(h.mean**2 * h.scv for h in hops) + penalty**2 / 4)
                           / block["count"])  # fmt: skip
        # the loops are a few % busy: the mean is the sum of the service times and the
        # wake-up, waiting adding a little, within four standard errors of the sample mean
        got = block["latency_ms"]["mean"] / 1e3
        assert mean - 4 * spread <= got, rtype
        # a class end's requests arrive at one instant (`platform.bursts`): the ones behind
        # the first wait for it, and for the loop it woke, so only the others are bounded
        if rtype not in platform.bursts:
            assert got <= 1.1 * mean + 4 * spread, rtype


def test_a_request_behind_a_response_skips_the_timer_and_the_wake_up(drill_model):
    """A type partly sent right behind a response is two streams of one name: those skip the
    load generator's timer and never wake the server's loop; the others cross both. With a
    timer of 50 ms and a wake-up of 20 ms that any idle gap pays in full, a playlist takes
    either under 20 ms (behind its master playlist) or over 50 ms (a live reload): never in
    between, which independent draws at the two stations would give."""
    from dataclasses import replace

    from twin.config.network import ServiceTime
    from twin.runs.engines import simulate
    from twin.sim.exact.model import from_platform

    _scenario, _arch, work, platform = drill_model
    share = platform.awake["playlist"]
    assert 0.2 < share < 0.9 and platform.timers == frozenset({"timer", "wakeup"})
    model = from_platform(platform, "t", 1, 1.0)
    parts = [s for s in model.sources if s.name == "playlist"]
    assert [(s.stream, s.awake) for s in parts] == [("playlist", 0.0), ("playlist:behind", 1.0)]
    assert [h for h, _ in parts[0].path[:2]] == ["timer", "wakeup"]
    assert not {"timer", "wakeup"} & {h for h, _ in parts[1].path}
    total = parts[0].schedule.total(20.0) + parts[1].schedule.total(20.0)
    assert parts[1].schedule.total(20.0) == pytest.approx(share * total)
    assert total == pytest.approx(float(work.rates["playlist"].sum()), rel=1e-6)
    # a type sent only on a timer, or only behind a response, stays one source
    assert [s.stream for s in model.sources if s.name in ("telemetry", "join")] == ["", ""]

    services = dict(platform.services)
    services["timer"] = replace(services["timer"],
                                service=ServiceTime(dist="deterministic", mean_s=0.05))
    # the server's loop with servers enough that nothing queues behind a wake-up, which any
    # idle gap pays in full
    api = services["api"]
    services["api"] = replace(api, wake=(0.02, 1e-9), servers=api.servers * 1000)
    result = simulate(replace(platform, services=services), engine="exact", name="t",
                      seed=5, replications=2)  # fmt: skip
    from twin.sim.sketch import EDGES

    low, high = np.concatenate(([0.0], EDGES)), np.concatenate((EDGES, [np.inf]))
    hist = np.asarray(result.latency_hist["playlist"], dtype=float)
    n = hist.sum()
    # the share sent on a timer, within four binomial standard errors
    late = hist[low >= 0.05].sum() / n
    assert abs(late - (1.0 - share)) <= 4 * math.sqrt(share * (1 - share) / n)
    assert hist[(low >= 0.02) & (high <= 0.05)].sum() == 0
    assert hist[low >= 0.07].sum() > 0.5 * late * n  # most woke the loop too
    # every telemetry batch waits for its timer; no join does
    for rtype, waits in (("telemetry", 1.0), ("join", 0.0)):
        h = np.asarray(result.latency_hist[rtype], dtype=float)
        assert h[low >= 0.05].sum() / h.sum() == waits, rtype


def test_only_the_app_opens_that_miss_the_cache_are_scored(drill_model):
    from twin.drill.predict import fresh_app_opens, recommendation_misses

    _scenario, _arch, work, platform = drill_model
    opens = float(work.rates["recommend"].sum())
    share = recommendation_misses(work.users, opens)
    # each rider's first app open misses: the new users' and the riders' in progress
    expected = (fresh_app_opens(work.users).sum() + max(work.users[0], work.users[1])) / opens
    assert share == pytest.approx(min(expected, 1.0)) and 0.2 < share < 1.0
    assert dict(platform.visits["recommend"]) == pytest.approx(
        {"wakeup": 1.0, "client": 1.0, "api": 1.0, "recommender": 1.0, "scoring": share})
    assert recommendation_misses(work.users, 0.0) == 1.0  # no app opens: nothing cached


@pytest.mark.parametrize("folder", sorted((ROOT / "scenarios/validation-evening").iterdir()))
def test_the_predicted_misses_are_the_targets_own(folder):
    """Against `twin serve`'s own counters (`recommendation_cache_total`, which the drill's
    summary keeps as `drill.target_counters`): the plan's share of app opens that miss the
    cache, within 0.1."""
    import json

    from twin.drill.calibration import _scenario_file
    from twin.drill.predict import recommendation_misses
    from twin.drill.run import DrillOptions, compile_drill

    measured = json.loads((folder / "summary.json").read_text())
    d = measured["drill"]
    options = DrillOptions(scenario=_scenario_file(d.get("scenario_file"), measured["scenario"]),
                           out=folder, target="local", scale=d["scale"], speedup=d["speedup"],
                           duration=d["duration_s"])  # fmt: skip
    work = compile_drill(options)[3]
    counters = d["target_counters"]
    hit, miss = counters["recommendation_cache_hit"], counters["recommendation_cache_miss"]
    predicted = recommendation_misses(work.users, float(work.rates["recommend"].sum()))
    assert abs(predicted - miss / (hit + miss)) <= 0.1


def test_a_slower_machine_scales_every_service_time(drill_model):
    """`speed_index`: the drill's Locust CPU over what the calibration drills spent for as many
    requests and MB; the prediction's service times (loops, delays, per-MB segments) scale by
    it, so at low load the predicted latencies scale by it too."""
    from twin.config.architecture import LoadCpu
    from twin.drill.predict import predict, scaled_services, speed_index

    scenario, arch, work, platform = drill_model
    ref = LoadCpu(per_request_s=0.001, per_mb_s=0.002)
    summary = {"drill": {"load_cpu_s": 6.6, "requests_total": 3000},
               "requests": {"segment": {"bytes": 1_500_000_000}, "join": {"bytes": 0}}}  # fmt: skip
    assert speed_index(summary, ref) == pytest.approx(6.6 / (3.0 + 3.0))
    assert speed_index(summary, None) is None
    assert speed_index({"drill": {"load_cpu_s": None}}, ref) is None
    slow = scaled_services(platform, 2.0)
    for name, spec in platform.services.items():
        assert slow.services[name].service.mean == pytest.approx(2 * spec.service.mean)
        for rtype, own in spec.service_by_request.items():
            assert slow.services[name].service_by_request[rtype].mean == pytest.approx(2 * own.mean)
            assert slow.services[name].service_by_request[rtype].scv == pytest.approx(own.scv)
    # waking an idle loop is the hardware's and the scheduler's, not CPU work: not scaled
    assert slow.services["api"].wake == platform.services["api"].wake is not None
    assert arch.load_cpu is not None  # the shipped file carries its speed reference
    api = arch.components["api"]
    asleep = api.model_copy(update={"station": api.station.model_copy(update={"wake": None})})
    arch = arch.model_copy(update={"components": {**arch.components, "api": asleep}})
    one = predict(scenario, arch, work, seed=3, replications=2)
    two = predict(scenario, arch, work, seed=3, replications=2, speed=2.0)
    assert two["prediction"]["speed_index"] == 2.0 and one["prediction"]["speed_index"] is None
    for rtype in ("segment", "playlist", "leaderboard"):
        ratio = (
            two["requests"][rtype]["latency_ms"]["p50"]
            / one["requests"][rtype]["latency_ms"]["p50"]
        )
        assert 1.8 <= ratio <= 2.3, (rtype, ratio)  # a little more waiting at twice the load


def test_lognormal_from_quantiles_round_trips():
    fit = lognormal_from_quantiles(0.004, 0.012)
    sigma = math.sqrt(math.log1p(fit.cv**2))
    mu = math.log(fit.mean_s) - sigma**2 / 2
    assert math.exp(mu) == pytest.approx(0.004)
    assert math.exp(mu + 1.6448536 * sigma) == pytest.approx(0.012, rel=1e-6)


def test_fit_recovers_known_service_times():
    truth = {"api": Fit(0.002, 0.3), "db": Fit(0.004, 1.2), "video": Fit(0.010, 0.6)}
    routes = {"join": (("api", 1.0), ("db", 1.0)), "segment": (("api", 1.0), ("video", 1.0))}
    seen = no_wait_quantiles(truth, {t: FitTarget(h, 1, 1, 1) for t, h in routes.items()},
                             np.random.default_rng(11))  # fmt: skip
    targets = {t: FitTarget(routes[t], p50, p95, 400) for t, (p50, p95) in seen.items()}
    start = {"api": truth["api"], "db": Fit(0.001, 1.0), "video": Fit(0.001, 1.0)}
    got = fit_services(start, targets, np.random.default_rng(5), fixed=frozenset({"api"}))
    for name in ("db", "video"):
        assert got[name].mean_s == pytest.approx(truth[name].mean_s, rel=0.15), name
        assert got[name].cv == pytest.approx(truth[name].cv, rel=0.3), name


def test_loose_p95s_still_set_a_services_spread():
    """A service whose types' p95s no drill pinned down takes its cv from them, weakly, rather
    than keeping its first guess (the busiest drill's p95, a class-end stampede's included)."""
    from twin.drill.fit import LOOSE_P95_WEIGHT, P95_WEIGHT, targets_from_summary

    truth = {"api": Fit(0.0005, 0.3), "rec": Fit(0.002, 0.4)}
    hops = (("api", 1.0), ("rec", 1.0))
    (p50, p95), = no_wait_quantiles(truth, {"r": FitTarget(hops, 1, 1, 1)},
                                    np.random.default_rng(3)).values()  # fmt: skip
    # three quiet drills measured the truth; the busiest's p95 is a stampede's, 4x
    targets = {f"{i}:r": FitTarget(hops, p50, p95, 60, LOOSE_P95_WEIGHT) for i in range(3)}
    targets["3:r"] = FitTarget(hops, p50, 4 * p95, 200, LOOSE_P95_WEIGHT)
    start = {"api": truth["api"], "rec": Fit(0.002, 2.0)}  # the busiest drill's guess
    got = fit_services(start, targets, np.random.default_rng(5), fixed=frozenset({"api"}))
    assert got["rec"].cv < 1.0  # from 2.0: the quiet drills' spread outvotes the one stampede
    assert got["rec"].mean_s == pytest.approx(0.002, rel=0.3)
    # unweighted, the p95s say nothing and the guess stands
    flat = {k: FitTarget(hops, t.p50, t.p95, t.count, 0.0) for k, t in targets.items()}
    kept = fit_services(start, flat, np.random.default_rng(5), fixed=frozenset({"api"}))
    assert kept["rec"].cv > 1.5
    # which weight a drill's p95 gets: pinned down or not
    def weight(ci95: list[float]) -> float:
        block = {"count": 400, "latency_ms": {"p50": 2.0, "p95": 9.0},
                 "latency_ci95_ms": {"p50": [1.9, 2.1], "p95": ci95}}  # fmt: skip
        found = targets_from_summary({"requests": {"r": block}}, {"r": list(hops)})
        return found["r"].p95_weight

    assert weight([8.0, 10.0]) == P95_WEIGHT
    assert weight([6.0, 14.0]) == LOOSE_P95_WEIGHT < P95_WEIGHT


def test_calibrated_yaml_rewrites_service_lines_and_keeps_the_file_valid(tmp_path):
    from twin.config.architecture import load_architecture

    text = REFERENCE.read_text(encoding="utf-8")
    out = calibrated_yaml(text, {"origin": Fit(0.0123, 0.7)}, ["from a test"], {"origin": "x"})
    modeline = "# yaml-language-server: $schema=../schema/architecture.schema.json\n"
    assert out.startswith(modeline + "# CALIBRATED from a test\n")  # the schema line stays first
    assert "mean_s: 0.0123, cv: 0.7}   # calibrated: x" in out
    assert out.count("# CALIBRATED") == 1  # a second calibration replaces the header
    again = calibrated_yaml(out, {"origin": Fit(0.02, 0.5)}, ["again"], {})
    assert again.count("# CALIBRATED") == 1 and "mean_s: 0.02, cv: 0.5}" in again
    assert again.startswith(modeline + "# CALIBRATED again\n") and again.count(modeline) == 1
    path = tmp_path / "a.yaml"
    path.write_text(again, encoding="utf-8")
    arch = load_architecture(path)
    assert arch.components["origin"].station.service.mean_s == 0.02
    assert arch.components["api"].station.service == load_architecture(
        REFERENCE).components["api"].station.service  # fmt: skip
    # the speed reference is written once, at the top level, and read back
    from twin.config.architecture import LoadCpu

    ref = LoadCpu(per_request_s=0.0011, per_mb_s=0.0019, per_s=0.007)
    twice = calibrated_yaml(calibrated_yaml(again, {}, ["x"], {}, load_cpu=ref), {}, ["y"], {},
                            load_cpu=ref)  # fmt: skip
    assert twice.count("load_cpu:") == 1
    path.write_text(twice, encoding="utf-8")
    assert load_architecture(path).load_cpu == ref


def test_prediction_errors_are_relative_to_the_measurement():
    m = {"requests": {"join": {"count": 50, "latency_ms": {"p50": 4.0, "p95": 10.0}}}}
    p = {"requests": {"join": {"count": 50, "latency_ms": {"p50": 5.0, "p95": 8.0}}}}
    assert prediction_errors(m, p) == {"join": {"p50": 0.25, "p95": -0.2}}


def _drill_doc(requests: int, mb: float, client_cpu: float | None, target_cpu: float | None):
    """A drill summary with just what `loop_costs` reads: volumes and CPU seconds."""
    return {"drill": {"requests_total": requests, "load_cpu_s": client_cpu,
                      "target_cpu_s": target_cpu},
            "requests": {"segment": {"count": requests // 3, "bytes": mb * 1e6},
                         "playlist": {"count": requests - requests // 3, "bytes": 0}}}  # fmt: skip


def test_loop_costs_split_cpu_into_per_request_and_per_mb():
    from twin.drill.calibration import loop_costs

    # client 1.2 ms per request + 1.9 ms per MB; target 1.4 ms + 0.3 ms per MB (noise-free)
    volumes = [(3000, 4200.0), (800, 1700.0), (3100, 6800.0)]
    docs = [_drill_doc(n, mb, 1.2e-3 * n + 1.9e-3 * mb, 1.4e-3 * n + 0.3e-3 * mb)
            for n, mb in volumes]  # fmt: skip
    costs = loop_costs(docs)
    assert costs["client"].per_request_s == pytest.approx(1.2e-3, rel=1e-6)
    assert costs["client"].per_mb_s == pytest.approx(1.9e-3, rel=1e-6)
    assert costs["api"].per_request_s == pytest.approx(1.4e-3, rel=1e-6)
    assert costs["api"].mean_s(4.0) == pytest.approx(1.4e-3 + 4 * 0.3e-3, rel=1e-6)


def test_loop_costs_take_a_per_second_term_from_three_drills():
    """Locust spends CPU every second whatever the load (statistics, timers). With three
    drills or more `loop_costs` fits it, so a nearly idle drill's few requests do not carry
    it; `speed_index` then counts it for the drill's seconds."""
    from twin.config.architecture import LoadCpu
    from twin.drill.calibration import loop_costs
    from twin.drill.predict import speed_index

    volumes = [(3000, 4200.0, 60), (800, 1700.0, 60), (3100, 6800.0, 60), (6000, 8000.0, 120)]
    docs = []
    for n, mb, seconds in volumes:
        doc = _drill_doc(n, mb, 0.84e-3 * n + 1.97e-3 * mb + 7e-3 * seconds, 1.0e-3 * n)
        doc["drill"]["duration_s"] = seconds
        docs.append(doc)
    client = loop_costs(docs)["client"]
    assert (client.per_request_s, client.per_mb_s, client.per_s) == pytest.approx(
        (0.84e-3, 1.97e-3, 7e-3), rel=1e-6
    )
    # an idle 60 s drill: 290 requests, 389 MB; without the per-second term it looks 40 % slow
    idle = _drill_doc(290, 389.0, 0.84e-3 * 290 + 1.97e-3 * 389 + 7e-3 * 60, None)
    idle["drill"]["duration_s"] = 60
    ref = LoadCpu(per_request_s=client.per_request_s, per_mb_s=client.per_mb_s, per_s=client.per_s)
    assert speed_index(idle, ref) == pytest.approx(1.0, rel=1e-6)
    assert speed_index(idle, LoadCpu(per_request_s=0.84e-3, per_mb_s=1.97e-3)) > 1.35


def test_loop_costs_are_left_to_the_file_when_the_drills_cannot_split_them():
    from twin.drill.calibration import loop_costs

    # the same MB per request in both drills: per request and per MB cannot be told apart
    assert (
        loop_costs([_drill_doc(1000, 1400.0, 3.0, 1.0), _drill_doc(3000, 4200.0, 9.0, 4.0)]) == {}
    )
    assert loop_costs([_drill_doc(1000, 1400.0, 3.0, 1.0)]) == {}  # one drill: neither
    # one drill did not measure the target's CPU: only the client's cost is split
    docs = [_drill_doc(1000, 1400.0, 3.0, None), _drill_doc(3000, 8400.0, 9.0, 4.0)]
    assert sorted(loop_costs(docs)) == ["client"]


def test_calibrated_yaml_writes_the_per_mb_line_once(tmp_path):
    from twin.config.architecture import load_architecture

    text = REFERENCE.read_text(encoding="utf-8")
    fits = {"transfer": Fit(1e-6, 0.5), "client": Fit(0.0012, 3.0)}
    out = calibrated_yaml(text, fits, ["h"], {}, per_mb={"transfer": 0.0025, "client": 0.0})
    again = calibrated_yaml(out, fits, ["h"], {}, per_mb={"transfer": 0.003})
    assert again.count("service_per_mb_s: 0.003 ") == 1
    assert "service_per_mb_s: 0.0025" not in again
    path = tmp_path / "ref.yaml"
    path.write_text(again, encoding="utf-8")
    arch = load_architecture(path)
    assert arch.components["transfer"].station.service_per_mb_s == 0.003
    assert arch.components["client"].station.service_per_mb_s == 0.0
    assert arch.components["client"].station.service.cv == 3.0
