"""HLS streaming: RFC 8216's rules on the rendered playlists (parsed by an independent parser,
the `m3u8` package), then the origin over real HTTP: sizes, windows, 404s, faults, egress cap.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import m3u8
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twin.serve import hls
from twin.serve.streaming import MAX_QUEUE_S, ORIGIN_KEY, EgressBucket, Origin

START = 1_800_000_000.0  # a class start, epoch seconds (2027-01-15T08:00:00Z)


def _check_media_rules(text: str) -> m3u8.M3U8:
    """The media-playlist MUSTs of RFC 8216 section 4 that a playlist can break."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"  # 4.3.1.1: the first line
    assert sum(line.startswith("#EXT-X-TARGETDURATION:") for line in lines) == 1
    assert sum(line.startswith("#EXT-X-MEDIA-SEQUENCE:") for line in lines) == 1
    first_inf = next((i for i, line in enumerate(lines) if line.startswith("#EXTINF")), len(lines))
    seq_at = next(i for i, line in enumerate(lines) if line.startswith("#EXT-X-MEDIA-SEQUENCE"))
    assert seq_at < first_inf  # 4.3.3.2: before the first media segment
    for i, line in enumerate(lines):
        if line.startswith("#EXTINF:"):
            assert not lines[i + 1].startswith("#")  # 4.3.2.1: a URI follows each EXTINF
    if "#EXT-X-ENDLIST" in lines:
        assert lines[-1] == "#EXT-X-ENDLIST"
    parsed = m3u8.loads(text)
    target = parsed.target_duration
    assert isinstance(target, int)
    for segment in parsed.segments:  # 4.3.3.1: EXTINF rounded <= target duration
        assert math.floor(segment.duration + 0.5) <= target
    if any(s.duration != int(s.duration) for s in parsed.segments):
        assert parsed.version >= 3  # 7: decimal-float durations need version 3
    return parsed


def test_master_lists_three_renditions_with_bandwidth_and_resolution() -> None:
    text = hls.master_playlist()
    parsed = m3u8.loads(text)
    assert parsed.is_variant
    got = [(p.uri, p.stream_info.bandwidth, p.stream_info.resolution) for p in parsed.playlists]
    assert got == [
        ("720p/index.m3u8", 3_000_000, (1280, 720)),
        ("1080p/index.m3u8", 6_000_000, (1920, 1080)),
        ("4k/index.m3u8", 16_000_000, (3840, 2160)),
    ]
    assert text.startswith("#EXTM3U\n")


@pytest.mark.parametrize("rendition", hls.RENDITIONS, ids=lambda r: r.name)
def test_segment_size_is_bitrate_times_duration_and_within_declared_bandwidth(
    rendition: hls.Rendition,
) -> None:
    nbytes = hls.segment_bytes(rendition.bandwidth_bps, 4.0)
    assert nbytes == rendition.bandwidth_bps * 4 // 8  # 1.5 MB, 3 MB, 8 MB
    # RFC 8216 4.3.4.2: BANDWIDTH is the peak segment bit rate; ours is never above it.
    assert nbytes * 8 / 4.0 <= rendition.bandwidth_bps


def test_vod_playlist_lists_every_segment_and_ends() -> None:
    plan = hls.vod_plan(1_802.0, 4.0)  # 30 min 2 s: 450 full segments and one of 2 s
    parsed = _check_media_rules(hls.media_playlist(plan))
    assert parsed.is_endlist
    assert parsed.playlist_type == "vod"
    assert parsed.media_sequence == 0
    assert len(parsed.segments) == 451
    assert parsed.segments[-1].duration == pytest.approx(2.0)
    assert sum(s.duration for s in parsed.segments) == pytest.approx(1_802.0)
    assert [s.uri for s in parsed.segments[:2]] == ["0.ts", "1.ts"]
    assert parsed.target_duration == 4


def test_live_window_slides_with_the_wall_clock() -> None:
    at = START + 100.0  # 25 segments complete
    before = m3u8.loads(hls.media_playlist(hls.live_plan(at, START, 1_800.0)))
    after = m3u8.loads(hls.media_playlist(hls.live_plan(at + 4.0, START, 1_800.0)))
    assert before.media_sequence == 19
    assert [s.uri for s in before.segments] == [f"{n}.ts" for n in range(19, 25)]
    assert after.media_sequence == 20
    assert [s.uri for s in after.segments][:-1] == [s.uri for s in before.segments][1:]
    assert not before.is_endlist
    assert before.playlist_type is None
    # RFC 8216 6.2.2: a live playlist keeps at least three target durations of media.
    assert sum(s.duration for s in before.segments) >= 3 * before.target_duration
    stamp = before.segments[0].program_date_time
    assert stamp.timestamp() == pytest.approx(START + 19 * 4.0)


def test_live_class_before_its_first_segment_is_an_open_empty_playlist() -> None:
    parsed = _check_media_rules(hls.media_playlist(hls.live_plan(START - 60, START, 1_200.0)))
    assert parsed.segments == []
    assert not parsed.is_endlist
    assert parsed.media_sequence == 0


def test_live_class_past_its_end_ends_with_its_last_segments() -> None:
    parsed = _check_media_rules(hls.media_playlist(hls.live_plan(START + 5_000, START, 1_202.0)))
    assert parsed.is_endlist
    assert [s.uri for s in parsed.segments] == [f"{n}.ts" for n in range(295, 301)]
    assert parsed.segments[-1].duration == pytest.approx(2.0)


@given(
    elapsed=st.floats(min_value=-3_600, max_value=10_000, allow_nan=False),
    duration=st.integers(min_value=1, max_value=7_200),
    segment_s=st.sampled_from([2.0, 4.0, 6.0, 2.5]),
    window=st.integers(min_value=3, max_value=10),
)
def test_live_plans_obey_the_rfc_for_any_time(
    elapsed: float, duration: int, segment_s: float, window: int
) -> None:
    plan = hls.live_plan(START + elapsed, START, float(duration), segment_s, window)
    parsed = _check_media_rules(hls.media_playlist(plan))
    assert len(parsed.segments) <= window
    assert parsed.media_sequence == plan.first
    assert parsed.is_endlist == (elapsed >= duration)
    published = sum(s.duration for s in parsed.segments)
    assert plan.first * segment_s + published <= max(0.0, elapsed) + 1e-6  # none from the future
    later = hls.live_plan(START + elapsed + segment_s, START, float(duration), segment_s, window)
    assert later.first >= plan.first  # 6.2.1: the media sequence never goes back


# --- the egress bucket, pure -------------------------------------------------------------------


def test_egress_bucket_admits_a_burst_then_paces_at_the_rate() -> None:
    bucket = EgressBucket(bytes_per_s=1_000.0, burst_bytes=2_000.0, max_wait_s=10.0)
    waits = [bucket.reserve(1_000, now=0.0) for _ in range(5)]
    # A token bucket of depth B and rate r lets the k-th transfer of s bytes start at
    # (k * s - B) / r at the earliest: 0, 0, 0, 1, 2 seconds.
    assert waits == pytest.approx([0.0, 0.0, 0.0, 1.0, 2.0])
    assert bucket.reserve(1_000, now=100.0) == 0.0  # idle long enough: the burst is back


def test_egress_bucket_refuses_what_would_wait_too_long_and_holds_nothing_for_it() -> None:
    bucket = EgressBucket(bytes_per_s=100.0, burst_bytes=1_000.0, max_wait_s=5.0)
    assert bucket.reserve(1_000, now=0.0) == 0.0  # 10 s of schedule: the bucket's depth
    assert bucket.reserve(600, now=0.0) == 0.0  # starts 10 s ahead: still within the depth
    assert bucket.reserve(800, now=0.0) is None  # the schedule is 16 s ahead: would wait 6 s > 5
    assert bucket.retry_after_s(0.0) == pytest.approx(1.0)
    assert bucket.reserve(100, now=1.0) == pytest.approx(5.0)  # the refusal took no bytes


@given(
    sizes=st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=40),
    gaps=st.lists(st.floats(min_value=0, max_value=3), min_size=40, max_size=40),
)
def test_egress_never_exceeds_burst_plus_rate_times_time(
    sizes: list[int], gaps: list[float]
) -> None:
    rate, burst = 1_000.0, 5_000.0
    bucket = EgressBucket(rate, burst, max_wait_s=1e9)
    now, starts = 0.0, []
    for size, gap in zip(sizes, gaps, strict=False):
        now += gap
        wait = bucket.reserve(size, now)
        assert wait is not None and wait >= 0
        starts.append((now + wait, size))
    for t, _ in starts:  # bytes started by any time t fit in the bucket's envelope
        started = sum(size for s, size in starts if s <= t + 1e-9)
        assert started <= burst + rate * t + max(sizes) + 1e-6


# --- the origin over HTTP ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    return {"rate_per_s": 10_000.0, "burst": 10_000.0}


@pytest.fixture
def origin(server: Any) -> Iterator[Origin]:
    found: Origin = server.state.extras[ORIGIN_KEY]
    yield found
    found.clock = time.time
    server.state.faults.clear()


@pytest.fixture(scope="module")
def rider(client: Any) -> str:
    return client.token("rider", "rider-1")


def _vod(server: Any, minutes: int | None = None) -> Any:
    return next(
        c for c in server.state.catalog.on_demand if minutes is None or c.duration_s == minutes * 60
    )


def _live(server: Any) -> Any:
    now = datetime.now(UTC)
    return server.state.catalog.live_schedule(now, now + timedelta(hours=1))[0]


def test_master_playlist_over_http(client: Any, server: Any, rider: str) -> None:
    info = _vod(server)
    response = client.get(f"/v1/live/{info.id}/master.m3u8", token=rider)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith(hls.PLAYLIST_CONTENT_TYPE)
    parsed = m3u8.loads(response.text)
    assert [p.stream_info.bandwidth for p in parsed.playlists] == [3_000_000, 6_000_000, 16_000_000]


def test_vod_playlist_and_its_segments(client: Any, server: Any, rider: str) -> None:
    info = _vod(server, minutes=20)
    base = f"/v1/live/{info.id}/1080p"
    parsed = _check_media_rules(client.get(f"{base}/index.m3u8", token=rider).text)
    assert parsed.is_endlist and parsed.playlist_type == "vod"
    assert len(parsed.segments) == 20 * 60 // 4
    last = len(parsed.segments) - 1
    for seq in (0, last):
        response = client.get(f"{base}/{seq}.ts", token=rider)
        assert response.status_code == 200
        assert response.headers["Content-Type"] == "video/mp2t"
        assert len(response.content) == 6_000_000 * 4 // 8 // 188 * 188  # bitrate x duration / 8
        assert response.content[0] == 0x47 and response.content[188] == 0x47
    assert client.get(f"{base}/{last + 1}.ts", token=rider).status_code == 404


def test_live_window_follows_the_clock(
    client: Any, server: Any, rider: str, origin: Origin
) -> None:
    info = _live(server)
    start = info.starts_at.timestamp()
    base = f"/v1/live/{info.id}/720p"
    origin.clock = lambda: start + 100.0  # 25 segments of 4 s are complete
    first = m3u8.loads(client.get(f"{base}/index.m3u8", token=rider).text)
    origin.clock = lambda: start + 104.0
    second = m3u8.loads(client.get(f"{base}/index.m3u8", token=rider).text)
    assert (first.media_sequence, second.media_sequence) == (19, 20)
    assert [s.uri for s in second.segments] == [f"{n}.ts" for n in range(20, 26)]
    assert not second.is_endlist
    assert client.get(f"{base}/20.ts", token=rider).status_code == 200
    assert client.get(f"{base}/19.ts", token=rider).status_code == 404  # slid out
    assert client.get(f"{base}/26.ts", token=rider).status_code == 404  # not yet recorded
    origin.clock = lambda: start + info.duration_s + 60.0
    ended = _check_media_rules(client.get(f"{base}/index.m3u8", token=rider).text)
    assert ended.is_endlist
    assert ended.segments[-1].uri == f"{info.duration_s // 4 - 1}.ts"


@pytest.mark.parametrize(
    "path",
    [
        "/v1/live/od-99999999/master.m3u8",
        "/v1/live/no-such-class/720p/index.m3u8",
        "/v1/live/{vod}/8k/index.m3u8",
        "/v1/live/{vod}/720p/abc.ts",
        "/v1/live/{vod}/720p/-1.ts",
        "/v1/live/{vod}/720p/99999999.ts",
        "/v1/live/live-20261121T1315-cycling-01/720p/index.m3u8",  # not a slot
    ],
)
def test_unknown_classes_renditions_and_segments_are_404(
    client: Any, server: Any, rider: str, path: str
) -> None:
    response = client.get(path.format(vod=_vod(server).id), token=rider)
    assert response.status_code == 404
    assert "error" in response.json()


def test_streaming_needs_a_token(client: Any, server: Any) -> None:
    assert client.get(f"/v1/live/{_vod(server).id}/master.m3u8").status_code == 401


def test_origin_down_is_503_with_retry_after(
    client: Any, server: Any, rider: str, origin: Origin
) -> None:
    info = _vod(server)
    server.state.faults.origin_down = True
    for path in ("master.m3u8", "720p/index.m3u8", "720p/0.ts"):
        response = client.get(f"/v1/live/{info.id}/{path}", token=rider)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) >= 1
    server.state.faults.origin_down = False
    assert client.get(f"/v1/live/{info.id}/720p/0.ts", token=rider).status_code == 200


def test_egress_cap_paces_segments_then_refuses(
    client: Any, server: Any, rider: str, origin: Origin
) -> None:
    info = _vod(server, minutes=20)
    server.state.faults.origin_egress_bps = 24e6  # 3 MB/s; the burst is one 4K segment (8 MB)
    started = time.perf_counter()
    for seq in range(8):  # 8 x 1.5 MB of 720p
        assert client.get(f"/v1/live/{info.id}/720p/{seq}.ts", token=rider).status_code == 200
    elapsed = time.perf_counter() - started
    # The 8th segment may start only once 7 x 1.5 MB - 8 MB = 2.5 MB were earned at 3 MB/s.
    assert elapsed >= 2.5 / 3 - 0.02
    assert elapsed < 2.5 / 3 + 2.0
    # 125 kB/s: a 4K segment (8 MB) is 64 s of link. Two go at once (the burst is 64 s deep),
    # the third would wait 64 s, more than a player's buffer (MAX_QUEUE_S): refused.
    server.state.faults.origin_egress_bps = 1e6
    for seq in (0, 1):
        assert client.get(f"/v1/live/{info.id}/4k/{seq}.ts", token=rider).status_code == 200
    refused = client.get(f"/v1/live/{info.id}/4k/2.ts", token=rider)
    assert refused.status_code == 503
    assert 64 - MAX_QUEUE_S - 2 <= int(refused.headers["Retry-After"]) <= 64 - MAX_QUEUE_S
    server.state.faults.origin_egress_bps = None
    assert client.get(f"/v1/live/{info.id}/4k/2.ts", token=rider).status_code == 200


def test_egress_is_exported(client: Any, server: Any, rider: str) -> None:
    info = _vod(server)
    text = client.get("/metrics").text
    before = _counter(text, 'twin_origin_egress_bytes_total{rendition="4k"}')
    client.get(f"/v1/live/{info.id}/4k/2.ts", token=rider)
    after = _counter(client.get("/metrics").text, 'twin_origin_egress_bytes_total{rendition="4k"}')
    assert after - before == 8_000_000 // 188 * 188  # whole TS packets


def _counter(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0
