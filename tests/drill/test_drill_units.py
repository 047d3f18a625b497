"""Pure pieces of the drill: compression, dithering, tracking, recorder, HLS, lag, incidents."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from twin.drill.incidents import stream_backlog
from twin.drill.lag import LagScrape, bucket_quantile, lag_figures, lag_since, parse_metrics
from twin.drill.measure import Measured, latency_block, merge_records
from twin.drill.plan import compress, dither, drill_duration
from twin.drill.timeline import intervals_of, timeline
from twin.drill.tracking import read_series, tracking, write_series
from twin.errors import InputError
from twin.report.series import check_columns

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "locustfiles"))
from drill_hls import parse_media_playlist
from drill_recorder import Recorder, new_histogram, new_window_histogram


def test_compress_averages_each_drill_seconds_window():
    series = np.arange(12, dtype=float)  # 1 s ticks
    assert compress(series, 1.0, 4.0, 3).tolist() == [1.5, 5.5, 9.5]
    # ticks longer than a drill second's window: each second reads its own tick
    assert compress(np.array([1.0, 2.0]), 5.0, 2.5, 4).tolist() == [1.0, 1.0, 2.0, 2.0]


def test_dither_keeps_the_running_sum_within_half_a_user():
    target = np.full(100, 7.4)
    levels = dither(target)
    assert set(levels.tolist()) == {7, 8}
    assert np.all(np.abs(np.cumsum(levels) - np.cumsum(target)) <= 0.5 + 1e-9)
    assert levels.mean() == pytest.approx(7.4, abs=0.01)


def test_drill_duration_refuses_running_past_the_scenario():
    assert drill_duration(3600, 60, None) == 60
    assert drill_duration(3600, 60, 30) == 30
    with pytest.raises(InputError, match="--duration"):
        drill_duration(3600, 60, 61)
    with pytest.raises(InputError, match="--speedup"):
        drill_duration(3600, 0, None)


def test_tracking_error_per_window():
    req = np.full(20, 10.0)
    got = np.concatenate([np.full(10, 10.0), np.full(10, 11.0)])
    out = tracking(req, got, req * 2, got * 2, window=10)
    assert [w["riders_error"] for w in out["windows"]] == [0.0, 0.1]
    assert out["rate_error_max"] == pytest.approx(0.1)
    assert out["met"] is False
    # 200 requests expected in a window (20/s for 10 s): counting noise 1/sqrt(200)
    assert out["windows"][0]["rate_noise"] == pytest.approx(200**-0.5, rel=1e-5)


def test_recorder_measures_from_the_intended_send_time(tmp_path):
    rec = Recorder(t0=1000.0)
    # meant to go at 1000.0, sent late at 1002.0 (a stalled client), answered at 1002.010
    rec.record("leaderboard", 1000.0, 1002.0, 1002.010, True)
    rec.record("leaderboard", 1003.0, 1003.0, 1003.020, False)
    rec.dump(tmp_path)
    measured = merge_records(tmp_path)
    m = measured.types["leaderboard"]
    assert (m.count, m.errors) == (2, 1)
    assert m.intended.get_max_value() == pytest.approx(2_010_000, rel=1e-3)
    assert m.service.get_max_value() == pytest.approx(20_000, rel=1e-3)
    assert latency_block(m.intended)["max"] == pytest.approx(2010.0, rel=1e-3)
    assert m.series(5).tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]


def test_recorder_keeps_the_intended_latency_of_each_window(tmp_path):
    from drill_recorder import window_seconds

    assert window_seconds(60) == 1.0 and window_seconds(3600) == 30.0
    rec = Recorder(t0=1000.0, window_s=2.0)
    rec.record("join", 1000.5, 1000.5, 1000.510, True)  # window 0
    rec.record("join", 1001.9, 1001.9, 1001.930, True)  # window 0
    rec.record("join", 1002.0, 1004.0, 1004.001, True)  # sent late: window 2, 2001 ms
    doc = json.loads(rec.dump(tmp_path).read_text())
    assert doc["window_s"] == 2.0 and sorted(doc["names"]["join"]["windows"]) == ["0", "2"]
    m = merge_records(tmp_path).types["join"]
    assert sorted(m.windows) == [0, 2]
    assert m.windows[0].get_total_count() == 2 and m.windows[2].get_total_count() == 1
    assert m.windows[2].get_max_value() == pytest.approx(2_001_000, rel=1e-2)  # 1 % windows
    # a later dump re-encodes only the windows recorded into since, and loses none
    rec.record("join", 1000.0, 1001.0, 1001.005, True)  # window 0 again
    assert rec.names["join"].changed == {0}
    rec.dump(tmp_path)
    assert rec.names["join"].changed == set()
    m = merge_records(tmp_path).types["join"]
    assert [m.windows[k].get_total_count() for k in (0, 2)] == [3, 1]


def test_the_request_log_gets_every_request_once_across_dumps(tmp_path):
    import csv
    import os

    from twin.drill.request_log import REQUEST_LOG_COLUMNS, merge_request_logs

    rec = Recorder(t0=1000.0, log=True)
    rec.record("join", 1000.5, 1000.5, 1000.510, True, 120, 201, "rider-3")
    rec.dump(tmp_path)
    # a stalled send: its latency runs from when it was meant to go, its service from when
    # it went; a row is written when the request is done, so it may come before an earlier send
    rec.record("leaderboard", 1001.0, 1003.0, 1003.004, False, 0, 503, "rider-1")
    rec.record("recommend", 1000.25, 1000.25, 1000.252, True, 80, 200, "rider-2")
    rec.dump(tmp_path)
    rec.dump(tmp_path)  # nothing new: nothing appended
    own = tmp_path / f"requests-{os.getpid()}.csv"
    lines = own.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(REQUEST_LOG_COLUMNS) and len(lines) == 4
    other = tmp_path / "requests-7.csv"  # another process's log
    other.write_text(",".join(REQUEST_LOG_COLUMNS) + "\n1.000000,segment,5.000,5.000,200,1,"
                     "3000000,rider-9\n", encoding="utf-8")  # fmt: skip
    out = tmp_path / "requests.csv"
    assert merge_request_logs(tmp_path, out) == 4
    with out.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["type"] for r in rows] == ["recommend", "join", "segment", "leaderboard"]
    assert [r["process"] for r in rows] == [str(os.getpid())] * 2 + ["7", str(os.getpid())]
    late = rows[-1]
    assert (late["latency_ms"], late["service_ms"], late["status"], late["ok"]) == (
        "2004.000", "4.000", "503", "0")
    assert Recorder(t0=0.0).rows is None  # without `log`, no rows are kept


def test_a_request_log_that_is_not_one_is_named(tmp_path):
    from twin.drill.request_log import merge_request_logs

    (tmp_path / "requests-1.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"requests-1\.csv"):
        merge_request_logs(tmp_path, tmp_path / "requests.csv")
    assert not (tmp_path / "requests.csv").exists()
    assert merge_request_logs(tmp_path / "none", tmp_path / "r.csv") == 0  # no log: no file


def test_media_playlist_sequence_numbers():
    text = (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:4\n#EXT-X-MEDIA-SEQUENCE:17\n"
        "#EXTINF:4.000,\n17.ts\n#EXTINF:2.500,\n18.ts\n#EXT-X-ENDLIST\n"
    )
    media = parse_media_playlist(text)
    assert media.segments == ((17, 4.0, "17.ts"), (18, 2.5, "18.ts"))
    assert (media.target_s, media.ended, media.last_seq) == (4.0, True, 18)
    with pytest.raises(ValueError):
        parse_media_playlist("<html>")


def test_bucket_quantile_interpolates_like_prometheus():
    bounds = [1.0, 2.0, float("inf")]
    assert bucket_quantile(bounds, [0, 10, 10], 0.5) == pytest.approx(1.5)
    assert bucket_quantile(bounds, [10, 10, 10], 0.99) == pytest.approx(0.99)


def test_lag_from_two_scrapes():
    def text(b1: int, b5: int, inf: int) -> str:
        return (
            f'twin_leaderboard_lag_seconds_bucket{{le="1.0"}} {b1}\n'
            f'twin_leaderboard_lag_seconds_bucket{{le="5.0"}} {b5}\n'
            f'twin_leaderboard_lag_seconds_bucket{{le="+Inf"}} {inf}\n'
            'twin_leaderboard_lag_last_seconds{shard="0"} 3.5\n'
            'twin_ingest_backlog{shard="0"} 2.0\n'
        )

    first, last = parse_metrics(text(5, 5, 5)), parse_metrics(text(5, 105, 105))
    assert last is not None and last.backlog_total == 2.0
    figures = lag_figures(first, last)
    assert figures is not None
    assert figures["p50"] == pytest.approx(3.0)  # 100 new samples, all between 1 and 5 s
    assert figures["samples"] == 100
    assert parse_metrics("other_metric 1\n") is None


def test_stream_backlog_grows_with_the_excess_and_drains():
    offered = np.array([12.0, 12.0, 8.0, 8.0, 8.0])
    backlog = stream_backlog(offered, np.full(5, 10.0), 1.0)
    assert backlog.tolist() == [2.0, 4.0, 2.0, 0.0, 0.0]


def test_iot_overload_pauses_consumers_and_its_fix_does_not():
    from twin.drill.incidents import fault_timeline
    from twin.drill.run import DrillOptions, compile_drill

    def faults(name: str) -> list:
        root = Path(__file__).resolve().parents[2]
        options = DrillOptions(scenario=root / f"scenarios/{name}.yaml", out=Path("unused"),
                               target="local", scale=1e-4, speedup=480)  # fmt: skip
        _, _, compiled, work = compile_drill(options)
        return fault_timeline(compiled, work, consumers=4)

    overloaded = faults("iot-pipeline-overload")
    assert max(doc["paused_consumers"] for _, doc in overloaded) >= 1
    assert overloaded[-1][1]["paused_consumers"] == 0  # the backlog drains before midnight
    assert faults("iot-pipeline-overload-fixed") == []


def test_live_joins_spread_each_class_riders_over_the_twin_join_curve():
    from types import SimpleNamespace

    from twin.drill.plan import live_joins
    from twin.platform.demand import join_cdf

    cls = SimpleNamespace(start_s=600.0, duration_s=1800, riders=120.0)
    joins = live_joins([cls], speedup=60.0, seconds=60)  # 3600 scenario seconds
    per_second = np.zeros(60)
    for k, sec in enumerate(joins):
        for i, w in sec:
            assert i == 0
            per_second[k] += w
    assert per_second.sum() == pytest.approx(120.0, rel=1e-6)  # everyone joins once
    # joins start 5 min before the class (drill second 5) and stop at its end (second 40)
    assert per_second[:5].sum() == 0 and per_second[40:].sum() == 0
    # the spike: the drill second holding the start takes what the curve says it does
    norm = join_cdf(np.array([1800.0]))[0]
    spike = (join_cdf(np.array([60.0]))[0] - join_cdf(np.array([0.0]))[0]) / norm
    assert per_second[10] == pytest.approx(120.0 * spike, rel=1e-4)


def test_od_lengths_weight_the_library_by_popularity():
    from types import SimpleNamespace

    from twin.drill.plan import od_lengths

    lib = [SimpleNamespace(duration_s=d, popularity=p)
           for d, p in ((1200, 1.0), (1830, 2.0), (2700, 1.0))]  # fmt: skip
    got = dict(od_lengths(SimpleNamespace(on_demand=lib)))
    assert got == pytest.approx({1200.0: 0.25, 1800.0: 0.5, 2700.0: 0.25})


def test_on_demand_playlist_loads_speed_up_with_the_sessions():
    from types import SimpleNamespace

    from twin.drill.plan import drill_workload

    n, x, scale = 120, 30.0, 0.01
    live, starts_od = np.full(n, 400.0), np.full(n, 2.0)
    sessions = SimpleNamespace(
        starts_live=np.full((1, n), 1.0), starts_od=starts_od[None, :],
        active_live=live[None, :], active_od=np.full((1, n), 600.0),
        ends_live=np.full((1, n), 1.0),
    )  # fmt: skip
    cp = SimpleNamespace(
        tick_s=1.0, active_riders=np.full(n, 1000.0),
        telemetry_samples_per_s=np.full(n, 500.0),
        demand={"playlist": live / 4.0 + starts_od, "join": np.full(n, 3.0),
                "segment": np.full(n, 250.0)},
    )  # fmt: skip
    sessions.live_classes = ()
    work = drill_workload(cp, sessions, scale=scale, speedup=x, seconds=4)
    # live reloads keep their real-time pace; each on-demand start's one load comes x as often
    assert work.rates["playlist"] == pytest.approx(np.full(4, scale * (100.0 + x * 2.0)))
    assert work.rates["join"] == pytest.approx(np.full(4, scale * x * 3.0))
    assert work.rates["segment"] == pytest.approx(np.full(4, scale * 250.0))


def _journey_plan(**changes):
    from drill_plan import LiveClass, Plan

    base = dict(
        t0=0.0, duration_s=100, speedup=60.0, users=(1,) * 100, spawn_rate=10.0,
        live_start_share=(0.0,) * 100, active_live_share=(0.0,) * 100,
        scenario_live=(LiveClass("s", 0.0, 30.0, 1.0),), live_joins=((),) * 100,
        od_lengths=((1200.0, 1.0),), target_live=(), on_demand={"od-1": 600.0},
        riders=(), out_dir="", segment_s=4.0, telemetry_batch_s=5.0, leaderboard_live_s=5.0,
        leaderboard_od_s=10.0, feedback_share=0.0, seed=0, profile=_reference_profile(),
    )  # fmt: skip
    return Plan(**{**base, **changes})


def _reference_profile():
    from twin.drill.profile import load_profile

    return load_profile()[0].to_wire()


class _FakeClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, s):
        self.now += s


def _rider(plan, clock, sent):
    import random

    from drill_journey import Reply, Rider

    def http(method, url, name, headers, body, ok):
        sent.append(name)
        return Reply(
            200, "#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:4.0,\n0.ts\n#EXT-X-ENDLIST", 10
        )

    rider = {"rider_id": "rider-1", "device_id": "app-1", "device": "app", "rider_token": "t"}
    return Rider(plan, rider, http, Recorder(0.0), random.Random(1), clock.sleep, clock,
                 reconnect=lambda: sent.append("connect"))  # fmt: skip


def test_on_demand_sessions_last_the_twins_length_not_the_class():
    clock, sent = _FakeClock(10.0), []
    r = _rider(_journey_plan(), clock, sent)
    r.first = False  # not a just-spawned rider: no stagger (see the test below)
    r.session()
    # 1200 scenario s at 60x is 20 drill s (the target's class is 600 s long: 10 drill s)
    assert clock.now == pytest.approx(30.0, abs=0.01)
    assert sent.count("segment") == 5  # one per 4 s segment over 20 s, wrapping the class
    # the app opens on a new connection, as a phone's does, whoever the Locust user is
    assert sent[:3] == ["connect", "recommend", "join"] and sent[-1] == "workout"


def test_new_riders_of_one_spawn_tick_start_spread_over_the_second():
    # Locust spawns a tick's new users together; their first requests must not go out as one
    # burst but at uniform moments of the second (the twin's Poisson starts, given the count)
    starts = []
    for k in range(400):
        clock, sent = _FakeClock(10.0), []
        r = _rider(_journey_plan(seed=k), clock, sent)
        r.rng.seed(k)
        real = r.http

        def http(method, url, name, headers, body, ok, clock=clock, real=real):
            if name == "recommend":
                starts.append(clock.now - 10.0)
            return real(method, url, name, headers, body, ok)

        r.http = http
        r.session()
    assert len(starts) == 400 and min(starts) >= 0.0 and max(starts) < 1.0
    deciles = np.histogram(starts, bins=10, range=(0.0, 1.0))[0]
    assert deciles.min() >= 20 and deciles.max() <= 60  # uniform: 40 expected in each
    # a later session of the same rider starts when the previous one ends, with no wait
    clock, sent = _FakeClock(10.0), []
    r = _rider(_journey_plan(), clock, sent)
    r.session()
    ended = clock.now
    r.session()
    assert sent.count("recommend") == 2 and clock.now == pytest.approx(ended + 20.0, abs=0.01)
    assert sent.count("connect") == 2  # each app open connects anew


def test_a_resumed_session_does_not_open_the_app_again():
    clock, sent = _FakeClock(10.0), []
    r = _rider(_journey_plan(), clock, sent)
    r.current = r.choose(10.0, False)
    r.current.variants = ("/v1/live/od-1/720p/index.m3u8",)
    r.current.vod = ((0, 4.0, "0.ts"),) * 150
    r.current.vod_base = "/v1/live/od-1/720p/index.m3u8"
    r.current.vod_variant = 0
    clock.now = 15.0  # a new user takes the rider over five seconds into the session
    r.session()
    assert "recommend" not in sent and "join" not in sent and "playlist" not in sent
    assert "connect" not in sent  # the resumed player keeps its connection
    assert clock.now == pytest.approx(30.0, abs=0.01) and sent[-1] == "workout"
    assert r.current is None


def _live_plan(share, target_live=True):
    """A plan whose scenario has a class taking joiners all through, `share` of riders live."""
    from drill_plan import LiveClass

    return _journey_plan(
        active_live_share=(share,) * 100, live_start_share=(0.0,) * 100,
        scenario_live=(LiveClass("s", 0.0, 50.0, 1.0),), live_joins=(((0, 1.0),),) * 100,
        target_live=(LiveClass("ch-1", -100.0, 1000.0, 1.0),) if target_live else (),
    )  # fmt: skip


def _riders(plan, n):
    import random

    from drill_journey import Reply, Rider

    recorder, clock = Recorder(0.0), _FakeClock(10.0)
    http = lambda *a: Reply(200, "", 0)  # noqa: E731
    rider = {"rider_id": "rider-1", "device_id": "app-1", "device": "app", "rider_token": "t"}
    return [Rider(plan, rider, http, recorder, random.Random(k), clock.sleep, clock)
            for k in range(n)], recorder  # fmt: skip


def test_the_sessions_are_counted_by_kind():
    import numpy as np

    plan = _live_plan(0.3)
    plan = replace(plan, live_start_share=(0.3,) * 100)
    riders, recorder = _riders(plan, 400)
    sessions = [r.choose(10.0, False) for r in riders]
    live = sum(s.live for s in sessions)
    assert recorder.experience["sessions_live"] == live
    assert recorder.experience["sessions_on_demand"] == 400 - live
    assert abs(live - 120) < 3 * np.sqrt(400 * 0.3 * 0.7)  # the scenario's share of starts


def test_a_live_session_the_target_cannot_serve_rides_on_demand_and_is_counted():
    plan = replace(_live_plan(1.0, target_live=False), live_start_share=(1.0,) * 100)
    riders, recorder = _riders(plan, 5)
    assert not any(r.choose(10.0, False).live for r in riders)
    assert recorder.experience["live_unjoinable"] == 5
    assert recorder.experience["sessions_on_demand"] == 5


def test_dither_with_a_hold_changes_level_a_third_as_often():
    target = np.full(60, 7.5)
    plain, held = dither(target), dither(target, hold=3)
    assert int(np.abs(np.diff(plain)).sum()) == 59
    assert int(np.abs(np.diff(held)).sum()) == 19
    assert set(held.tolist()) == {7, 8} and held.mean() == pytest.approx(7.5, abs=0.05)
    assert np.all(np.abs(np.cumsum(held) - np.cumsum(target)) <= 2.0)
    # a real rise is followed at once, not held
    rise = dither(np.concatenate([np.full(5, 7.0), np.full(5, 12.0)]), hold=3)
    assert rise[5] == 12


def test_quantile_ci_covers_the_true_quantile_95_percent_of_the_time():
    """The order-statistics interval against the exponential law's own quantiles: over 400
    drills of 200 samples, the p50 and p95 intervals cover -ln(1 - q) (ms) about 95 % of the
    time (the binomial spread of 400 trials at 0.95 is +-2.2 points)."""
    from twin.drill.measure import quantile_ci

    rng = np.random.default_rng(7)
    covered = {0.5: 0, 0.95: 0}
    for _ in range(400):
        hist = new_histogram()
        for v in rng.exponential(1000.0, 200):  # microseconds: mean 1 ms
            hist.record_value(max(1, round(v)))
        for q in covered:
            lo, hi = quantile_ci(hist, q)
            covered[q] += lo <= -math.log1p(-q) <= hi
    for q, n in covered.items():
        assert 0.90 <= n / 400 <= 0.99, (q, n)
    # exact order statistics of 1..1000 us: the p50's interval is the 469th to 531st value
    hist = new_histogram()
    for v in range(1, 1001):
        hist.record_value(v)
    assert quantile_ci(hist, 0.5) == pytest.approx([0.469, 0.531], abs=0.0015)
    assert quantile_ci(new_histogram(), 0.5) is None


def _clustered_drill(rng, sigma, windows=60, per_window=4):
    """A drill whose requests share a slowdown within each 1 s window: exponential latencies
    (mean 1 ms) times a per-window lognormal(0, sigma) level. Returns (windows, pooled)."""
    hists, pooled = {}, new_histogram()
    for w in range(windows):
        hists[w] = new_window_histogram()
        for v in rng.exponential(1000.0 * rng.lognormal(0.0, sigma), per_window):
            hists[w].record_value(max(1, round(v)))
            pooled.record_value(max(1, round(v)))
    return hists, pooled


def _mixture_quantile(q, sigma):
    """The q quantile (ms) of Exp(1) x lognormal(0, sigma), by Gauss-Hermite quadrature."""
    z, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()

    def cdf(x):
        return float(np.sum(w * -np.expm1(-x / np.exp(sigma * z))))

    lo, hi = 0.0, 1000.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return lo


def test_window_ci_covers_what_the_order_statistics_miss_when_requests_cluster():
    """Requests of a window share its slowdown, so they are not independent samples. Over 120
    drills of 48 windows x 20 requests, the order-statistics interval of the p95 covers the
    true p95 of the mixture about three times in four; the block bootstrap over windows covers
    it about as often as it claims (95 %; a binomial spread of +-2 points at 120 trials). With
    no clustering the two agree."""
    from twin.drill.measure import quantile_ci, window_ci

    rng = np.random.default_rng(11)
    truth = _mixture_quantile(0.95, 0.5)
    covered = {"iid": 0, "windows": 0}
    for _ in range(120):
        windows, pooled = _clustered_drill(rng, 0.5, windows=48, per_window=20)
        lo, hi = quantile_ci(pooled, 0.95)
        covered["iid"] += lo <= truth <= hi
        lo, hi = window_ci(windows, 0.95, rng, resamples=1000)
        covered["windows"] += lo <= truth <= hi
    assert covered["iid"] / 120 <= 0.85 and covered["windows"] / 120 >= 0.88, covered
    # independent requests: the bootstrap is about as wide as the order statistics
    windows, pooled = _clustered_drill(rng, 0.0, per_window=20)
    iid, boot = quantile_ci(pooled, 0.5), window_ci(windows, 0.5, rng)
    assert (boot[1] - boot[0]) == pytest.approx(iid[1] - iid[0], rel=0.35)
    assert window_ci(dict(list(windows.items())[:20]), 0.5, rng) is None  # 7 blocks
    # a window before the drill's t0 (a request sent early) joins the first block
    from twin.drill.measure import _block_counts

    values, matrix = _block_counts({-1: windows[0], 1: windows[1], 5: windows[5]}, 3)
    assert matrix.shape[0] == 2 and matrix[0].sum() == 40 and matrix[1].sum() == 20
    assert np.all(np.diff(values) > 0)


def test_tracking_series_round_trips_with_unseen_seconds_empty(tmp_path):
    riders, seen = np.array([1.5, 2.0, 2.5]), np.array([np.nan, 2.0, 3.0])
    write_series(tmp_path / "t.csv", {"t_s": np.arange(3.0), "riders_requested": riders,
                                      "riders_achieved": seen, "rate_requested": riders * 3,
                                      "rate_achieved": np.array([0.0, 6.0, 8.0])})  # fmt: skip
    back = read_series(tmp_path / "t.csv")
    assert back is not None and np.isnan(back["riders_achieved"][0])
    assert back["rate_requested"].tolist() == [4.5, 6.0, 7.5]
    assert back["rate_achieved"].tolist() == [0.0, 6.0, 8.0]
    assert read_series(tmp_path / "missing.csv") is None


def _recorded(tmp_path: Path, name: str, rows: list[tuple[float, float, bool]],
              window_s: float = 2.0) -> Measured:  # fmt: skip
    """A run's records: (sent at drill second, latency s, ok) of one request name."""
    rec = Recorder(t0=1000.0, window_s=window_s)
    for at, latency, ok in rows:
        rec.record(name, 1000.0 + at, 1000.0 + at, 1000.0 + at + latency, ok)
    tmp_path.mkdir()
    rec.dump(tmp_path)
    return merge_records(tmp_path)


def test_the_timeline_pools_repeats_window_by_window(tmp_path):
    """Two runs of 6 s in 2 s windows: counts are per run, latency histograms add up, the
    leaderboard lag is the worst run's, and a window with no request has no percentile."""
    one = _recorded(tmp_path / "1", "join", [(0.5, 0.010, True), (1.5, 0.030, False),
                                              (4.2, 0.020, True)])  # fmt: skip
    two = _recorded(tmp_path / "2", "join", [(0.2, 0.050, True), (4.9, 0.020, True)])
    lags = [[(0.4, 1.0, 10.0), (1.4, 3.0, 4.0), (4.0, 2.0, 0.0)], [(0.9, 2.5, 7.0)]]
    ts = timeline([one, two], lags, seconds=6)
    assert ts["t_s"].tolist() == [0.0, 2.0, 4.0] and set(ts["interval_s"]) == {2.0}
    assert ts["arrivals"].tolist() == [1.5, 0.0, 1.0]  # (2 + 1) / 2 runs, 0, (1 + 1) / 2
    assert ts["dropped"].tolist() == [0.5, 0.0, 0.0] and ts["completed"].tolist() == [1.0, 0, 1]
    # window 0 pools 10, 30 and 50 ms: its p50 is 30 ms; window 1 had nothing
    assert ts["latency_ms_p50"][0] == pytest.approx(30.0, rel=0.01)
    assert ts["latency_ms_p99"][0] == pytest.approx(50.0, rel=0.01)
    assert math.isnan(ts["latency_ms_p95"][1])
    assert ts["leaderboard_lag_s"].tolist()[0] == 3.0 and ts["ingest_backlog"][0] == 10.0
    assert math.isnan(ts["leaderboard_lag_s"][1]) and ts["leaderboard_lag_s"][2] == 2.0
    check_columns(ts)  # what the run report reads


def test_a_timeline_without_lag_metrics_has_no_lag_columns(tmp_path):
    ts = timeline([_recorded(tmp_path / "1", "segment", [(0.1, 0.2, True)])], [[]], seconds=2)
    assert "leaderboard_lag_s" not in ts.columns and ts["arrivals"].tolist() == [1.0]


def test_lag_since_reads_the_samples_applied_between_two_scrapes():
    before = LagScrape(buckets={1.0: 10.0, 5.0: 10.0, math.inf: 10.0})
    now = LagScrape(buckets={1.0: 10.0, 5.0: 20.0, math.inf: 20.0})  # 10 more, all in (1, 5]
    assert lag_since(before, now, 0.5) == pytest.approx(3.0)  # Prometheus: linear in a bucket
    assert math.isnan(lag_since(now, now, 0.99))  # nothing applied: no lag to tell


def test_a_light_drill_gets_wider_timeline_intervals_but_keeps_twenty(tmp_path):
    light = _recorded(tmp_path / "1", "segment", [(k / 1.7, 0.01, True) for k in range(102)],
                      window_s=1.0)  # fmt: skip
    assert intervals_of([light], 60) == 3  # 1.7 a second wants 6 s; 60 s keeps 20 points
    assert intervals_of([light], 300) == 15  # 102 requests in 300 s: capped at 20 points
    busy = _recorded(tmp_path / "2", "segment", [(k / 20, 0.01, True) for k in range(1200)])
    assert intervals_of([busy], 60) == 1  # 20 a second: every 1 s window holds 20
    assert intervals_of([busy, busy, busy], 60) == 1  # repeats: per run, not per pool of runs
    assert intervals_of([light, light], 60) == 3
    ts = timeline([light], [[]], seconds=60)
    assert set(ts["interval_s"]) == {3.0} and len(ts) == 20
    assert ts["arrivals"].sum() == 102


def test_a_drill_of_another_host_needs_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    from twin.drill.profile import load_profile
    from twin.drill.run import _secret
    from twin.errors import InputError

    reference, nginx = load_profile()[0], load_profile("nginx-hls")[0]
    monkeypatch.delenv("TWIN_SECRET", raising=False)
    with pytest.raises(InputError, match="TWIN_SECRET: must be at least 32 bytes, got 0"):
        _secret(None, reference)
    assert len(_secret(None, nginx)) >= 32  # a profile without signed tokens needs none
    monkeypatch.setenv("TWIN_SECRET", "k" * 32)
    assert _secret(None, reference) == "k" * 32


def test_the_targets_cache_counters_are_read_and_differenced():
    from twin.drill.lag import counters_since, target_counters

    page = (
        "# HELP recommendation_cache_total Recommendation cache lookups\n"
        'recommendation_cache_total{result="miss"} 34.0\n'
        'recommendation_cache_total{result="hit"} 209.0\n'
        'recommendation_cache_created{result="hit"} 1.79e+09\n'
        'twin_http_requests_total{method="GET",route="recommend",status="200"} 243.0\n'
    )
    before = target_counters('recommendation_cache_total{result="hit"} 9.0\n')
    assert before == {"recommendation_cache_hit": 9.0}
    assert counters_since(before, target_counters(page)) == {
        "recommendation_cache_miss": 34.0, "recommendation_cache_hit": 200.0}  # fmt: skip
    assert target_counters("process_cpu_seconds_total 3.0\n") == {}
    assert counters_since({}, target_counters(None)) is None  # a target that exports none
