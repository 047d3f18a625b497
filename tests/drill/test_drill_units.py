"""Pure pieces of the drill: compression, dithering, tracking, recorder, HLS, lag, incidents."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from twin.drill.incidents import stream_backlog
from twin.drill.lag import bucket_quantile, lag_figures, parse_metrics
from twin.drill.measure import latency_block, merge_records
from twin.drill.plan import compress, dither, drill_duration
from twin.drill.tracking import tracking
from twin.errors import InputError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "locustfiles"))
from drill_hls import parse_media_playlist
from drill_recorder import Recorder


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

    def timeline(name: str) -> list:
        root = Path(__file__).resolve().parents[2]
        options = DrillOptions(scenario=root / f"scenarios/{name}.yaml", out=Path("unused"),
                               target="local", scale=1e-4, speedup=480)  # fmt: skip
        _, _, compiled, work = compile_drill(options)
        return fault_timeline(compiled, work, consumers=4)

    overloaded = timeline("iot-pipeline-overload")
    assert max(doc["paused_consumers"] for _, doc in overloaded) >= 1
    assert overloaded[-1][1]["paused_consumers"] == 0  # the backlog drains before midnight
    assert timeline("iot-pipeline-overload-fixed") == []
