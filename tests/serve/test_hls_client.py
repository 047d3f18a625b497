"""HLS checked by clients no one here wrote: `ffprobe` on each rendition's segments and `ffmpeg`
reading the live and on-demand playlists over HTTP from a real server, with no decode errors.

`ffmpeg` is the first on PATH, else the static build inside the `imageio-ffmpeg` wheel (a dev
dependency: `make test` needs no system ffmpeg). Where `ffprobe` is missing (that wheel has
none; `.ci/run` installs Debian's), segments are probed with PyAV's demuxer instead.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import m3u8
import pytest

from tests.serve.ts_checks import STEPS, continuity_breaks, pts_by_stream, steps_by_stream
from twin.serve import hls
from twin.serve.streaming import ORIGIN_KEY, Origin


def _ffmpeg() -> str:
    """The ffmpeg to read playlists with: PATH's, else imageio-ffmpeg's (never a skip)."""
    import imageio_ffmpeg  # deferred: only these tests need it

    return shutil.which("ffmpeg") or str(imageio_ffmpeg.get_ffmpeg_exe())


FFPROBE = shutil.which("ffprobe")


@pytest.fixture(scope="module")
def backend_name() -> str:
    return "embedded"  # segments do not depend on the backend


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, Any]:
    return {"rate_per_s": 10_000.0, "burst": 10_000.0}


@pytest.fixture(scope="module")
def rider(client: Any) -> str:
    return client.token("rider", "player-1")


@pytest.fixture
def live(server: Any) -> Iterator[Any]:
    """A live class, its clock set one minute after it started (and still running)."""
    now = datetime.now(UTC)
    info = server.state.catalog.live_schedule(now, now + timedelta(hours=1))[0]
    origin: Origin = server.state.extras[ORIGIN_KEY]
    lead = info.starts_at.timestamp() + 60.0 - time.time()
    origin.clock = lambda: time.time() + lead
    yield info
    origin.clock = time.time


def _vod(server: Any) -> Any:
    return server.state.catalog.on_demand[0]


def probe(path: Path) -> dict[str, Any]:
    """Codec, size, duration and first-frame keyness of the video in `path`."""
    if FFPROBE is None:
        return _probe_with_pyav(path)
    show = "stream=codec_name,codec_type,width,height,duration:frame=key_frame"
    cmd = [FFPROBE, "-v", "error", "-show_entries", show, "-read_intervals", "%+#1",
           "-select_streams", "v:0", "-show_frames", "-of", "json", str(path)]  # fmt: skip
    out = json.loads(subprocess.run(cmd, capture_output=True, check=True, text=True).stdout)
    video, key = out["streams"][0], out["frames"][0]["key_frame"] == 1
    return {"codec": video["codec_name"], "width": video["width"], "height": video["height"],
            "duration": float(video["duration"]), "key": key}  # fmt: skip


def _probe_with_pyav(path: Path) -> dict[str, Any]:
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = list(container.decode(video))
        span = float(frames[-1].time - frames[0].time) + 1 / float(video.average_rate or 25)
        return {"codec": video.codec_context.name, "width": video.width, "height": video.height,
                "duration": span, "key": frames[0].key_frame}  # fmt: skip


def _check_segments(client: Any, rider: str, base: str, tmp_path: Path) -> None:
    """The newest segment of each rendition against the master playlist and its EXTINF."""
    master = m3u8.loads(client.get(f"{base}/master.m3u8", token=rider).text)
    for variant in master.playlists:
        playlist = m3u8.loads(client.get(f"{base}/{variant.uri}", token=rider).text)
        segment = playlist.segments[-1]
        body = client.get(f"{base}/{variant.uri.rsplit('/', 1)[0]}/{segment.uri}", token=rider)
        path = tmp_path / f"{variant.stream_info.resolution[1]}.ts"
        path.write_bytes(body.content)
        found = probe(path)
        assert found["codec"] == "h264" and found["key"]
        assert (found["width"], found["height"]) == variant.stream_info.resolution
        assert found["duration"] == pytest.approx(segment.duration, abs=0.05)
        bps = len(body.content) * 8 / segment.duration
        assert bps == pytest.approx(variant.stream_info.bandwidth, rel=0.10)


def test_live_segments_probe_as_declared(
    client: Any, rider: str, live: Any, tmp_path: Path
) -> None:
    _check_segments(client, rider, f"/v1/live/{live.id}", tmp_path)


def test_vod_segments_probe_as_declared(
    client: Any, server: Any, rider: str, tmp_path: Path
) -> None:
    _check_segments(client, rider, f"/v1/live/{_vod(server).id}", tmp_path)


@pytest.mark.parametrize("rendition", [r.name for r in hls.RENDITIONS])
def test_consecutive_live_segments_join_seamlessly(
    client: Any, server: Any, rider: str, live: Any, rendition: str
) -> None:
    # As served (the template's bytes and patched packets, one scatter-gather write): the
    # same bytes as the template rewritten whole, and a player crossing from one segment to
    # the next sees every PTS step by one frame and every continuity counter by one.
    base = f"/v1/live/{live.id}/{rendition}"
    playlist = m3u8.loads(client.get(f"{base}/index.m3u8", token=rider).text)
    first = playlist.media_sequence + len(playlist.segments) - 2
    template = server.state.extras[ORIGIN_KEY].templates[rendition]
    bodies = [client.get(f"{base}/{seq}.ts", token=rider).content for seq in (first, first + 1)]
    assert bodies == [bytes(template.at(first)), bytes(template.at(first + 1))]
    joined = b"".join(bodies)
    assert continuity_breaks(joined) == []
    found = pts_by_stream(joined)
    assert steps_by_stream(found) == STEPS
    # segment `seq` starts `seq` durations after the template (segment 0)
    ticks = round(first * hls.DEFAULT_SEGMENT_S * 90_000)
    assert found["video"][0] - ticks == pts_by_stream(template.data)["video"][0]


def _ffmpeg_reads(server: Any, rider: str, url: str, seconds: float, *extra: str) -> str:
    """ffmpeg decoding `seconds` of `url` to nothing; its error output (empty when clean)."""
    cmd = [_ffmpeg(), "-nostdin", "-v", "error", "-headers", f"Authorization: Bearer {rider}\r\n",
           *extra, "-i", f"{server.url}{url}", "-t", str(seconds), "-f", "null", "-"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_ffmpeg_follows_the_live_window_without_errors(server: Any, rider: str, live: Any) -> None:
    # Starting at the newest segment, 10 s of media needs two segments that do not exist yet:
    # ffmpeg must reload the playlist as the window slides, and decode across the joins.
    started = time.monotonic()
    url = f"/v1/live/{live.id}/720p/index.m3u8"
    assert _ffmpeg_reads(server, rider, url, 10, "-live_start_index", "-1") == ""
    assert time.monotonic() - started >= 2 * hls.DEFAULT_SEGMENT_S - 1


def test_ffmpeg_reads_the_vod_playlist_without_errors(client: Any, server: Any, rider: str) -> None:
    url = f"/v1/live/{_vod(server).id}/720p/index.m3u8"
    text = client.get(url, token=rider).text
    assert text.rstrip().endswith("#EXT-X-ENDLIST")
    assert _ffmpeg_reads(server, rider, url, 12) == ""
