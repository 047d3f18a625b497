"""The streaming origin: HLS playlists and real H.264/AAC segments, with faults an operator injects.

Routes (request types `playlist` and `segment`, plus `master`):

    GET /v1/live/{class_id}/master.m3u8             the renditions (hls.RENDITIONS)
    GET /v1/live/{class_id}/{rendition}/index.m3u8  live sliding window, or VOD for on-demand
    GET /v1/live/{class_id}/{rendition}/{seq}.ts    bitrate x duration bytes of MPEG-TS

Segment bytes come from one encoded template per rendition, loaded (encoded the first time,
`hls_media`) at start-up; segment `seq` is the template with its clock moved on (`ts`): the
template's own bytes between the few hundred packets that carry a timestamp, and patched copies
of those, kept for the few newest segments every player of a live class asks for. A response
hands those pieces to the transport in one scatter-gather write, so serving a segment copies
tens of kilobytes in Python however large the segment is. The origin can
be taken down (503 with Retry-After) and its egress capped: an `EgressBucket` in bytes per
second delays each segment until its bytes fit, and refuses (503) when the wait would exceed
what a player's buffer rides out.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from twin.serve import hls, ts
from twin.serve.faults import Faults
from twin.serve.hls_media import load_template
from twin.serve.problems import ApiError, not_found
from twin.serve.state import STATE
from twin.serve.tokens import require

__all__ = [
    "MAX_QUEUE_S",
    "ORIGIN_KEY",
    "EgressBucket",
    "Origin",
    "OriginMetrics",
    "default_media_dir",
    "setup",
]

ORIGIN_KEY = "streaming"  # where the Origin lives in `ServeState.extras`
# A player holds a few segments; a segment that cannot start within two segment durations
# would stall it anyway, so the origin refuses it (503) instead of queueing it.
MAX_QUEUE_S = 2 * hls.DEFAULT_SEGMENT_S
# Segments kept per rendition: a live window's players all ask for its newest few.
_KEPT = 4


class EgressBucket:
    """A byte-rate limit as a virtual clock (GCRA): `reserve` says how long to wait.

    The schedule is busy until `free_at`; a transfer of n bytes extends it by n / rate seconds
    and waits for however far the schedule runs more than `burst_bytes` ahead of now (the
    bucket's depth), so an idle link sends a burst at once and then exactly `rate` bytes/s.
    """

    def __init__(self, bytes_per_s: float, burst_bytes: float, max_wait_s: float) -> None:
        if not bytes_per_s > 0 or burst_bytes < 0 or max_wait_s < 0:
            raise ValueError("egress rate must be > 0, burst and max wait >= 0")
        self.rate = bytes_per_s
        self.burst_s = burst_bytes / bytes_per_s
        self.max_wait_s = max_wait_s
        self.free_at = -math.inf

    def reserve(self, nbytes: int, now: float) -> float | None:
        """Seconds to wait before sending `nbytes` at `now`, or None (refused, nothing held)."""
        wait = self.debt_s(now)
        if wait > self.max_wait_s:
            return None
        self.free_at = max(now, self.free_at) + nbytes / self.rate
        return wait

    def debt_s(self, now: float) -> float:
        """How long a transfer arriving at `now` waits: the schedule's lead beyond the burst."""
        return max(0.0, self.free_at - now - self.burst_s)

    def retry_after_s(self, now: float) -> float:
        """How long until a refused transfer would be accepted."""
        return max(0.0, self.debt_s(now) - self.max_wait_s)


class Origin:
    """The segment templates, the egress bucket and the clock of one server process."""

    def __init__(
        self,
        catalog: Any,
        faults: Faults,
        *,
        media_dir: Path,
        default_egress_bps: float | None = None,
        renditions: tuple[hls.Rendition, ...] = hls.RENDITIONS,
        segment_s: float = hls.DEFAULT_SEGMENT_S,
        window: int = hls.DEFAULT_WINDOW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.faults = faults
        self.default_egress_bps = default_egress_bps
        self.renditions = {r.name: r for r in renditions}
        self.segment_s = segment_s
        self.window = window
        self.clock = clock
        self.templates = {r.name: load_template(r, segment_s, media_dir) for r in renditions}
        self._kept: OrderedDict[tuple[str, int], list[bytes]] = OrderedDict()
        self.master = hls.master_playlist(renditions).encode()
        self._bucket: EgressBucket | None = None
        self._bucket_bps: float | None = None
        self.metrics: OriginMetrics | None = None

    def check_up(self) -> None:
        if self.faults.origin_down:
            self._refused("down")
            raise ApiError(503, "the streaming origin is down", headers={"Retry-After": "5"})

    def _refused(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.refused.labels(reason).inc()

    def sent(self, rendition: str, nbytes: int) -> None:
        if self.metrics is not None:
            self.metrics.egress.labels(rendition).inc(nbytes)

    def lookup(self, class_id: str) -> Any:
        """The class named in a URL; 404 if the catalogue has none."""
        info = self.catalog.get(class_id)
        if info is None:
            raise not_found("class", class_id)
        return info

    def rendition(self, name: str) -> hls.Rendition:
        found = self.renditions.get(name)
        if found is None:
            raise not_found("rendition", name)
        return found

    def plan(self, info: Any) -> hls.MediaPlan:
        """The media playlist of a class right now: a live window, or the whole VOD."""
        if not info.live:
            return hls.vod_plan(info.duration_s, self.segment_s)
        start = info.starts_at.timestamp()
        return hls.live_plan(self.clock(), start, info.duration_s, self.segment_s, self.window)

    def segment(self, info: Any, rendition: hls.Rendition, seq: int) -> list[bytes]:
        """The bytes of segment `seq`, in pieces; 404 unless it is in the current playlist."""
        plan = self.plan(info)
        if not plan.first <= seq < plan.stop:
            held = f"{plan.first}..{plan.stop - 1}" if plan.stop > plan.first else "none yet"
            raise ApiError(404, f"segment {seq} is not in the playlist of {info.id} ({held})")
        body = self._timed(rendition.name, seq)
        duration = hls.segment_duration(seq, info.duration_s, self.segment_s)
        if duration < self.segment_s:
            # A class's short last segment: the template cut at the packet where its time
            # runs out (the muxed stream is close to constant bit rate).
            packets = len(self.templates[rendition.name].data) // ts.PACKET
            keep = max(1, round(packets * duration / self.segment_s)) * ts.PACKET
            return ts.cut(body, keep)
        return body

    def _timed(self, rendition: str, seq: int) -> list[bytes]:
        key = (rendition, seq)
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = self.templates[rendition].pieces(seq)
            if len(self._kept) > _KEPT * len(self.templates):
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return found

    def egress_wait(self, nbytes: int) -> float:
        """Seconds to hold a response of `nbytes` under the egress cap; 503 if too long."""
        bucket = self._current_bucket()
        if bucket is None:
            return 0.0
        now = time.monotonic()
        wait = bucket.reserve(nbytes, now)
        if wait is None:
            self._refused("egress")
            retry = max(1, math.ceil(bucket.retry_after_s(now)))
            raise ApiError(503, "origin egress is saturated", headers={"Retry-After": str(retry)})
        return wait

    def _current_bucket(self) -> EgressBucket | None:
        """The bucket for the cap in force (a fault overrides the configured cap)."""
        bps = self.faults.origin_egress_bps or self.default_egress_bps
        if bps != self._bucket_bps:
            self._bucket_bps = bps
            burst = max(len(t.data) for t in self.templates.values())
            self._bucket = None if bps is None else EgressBucket(bps / 8, burst, MAX_QUEUE_S)
        return self._bucket


class OriginMetrics:
    """What the origin sent (bytes by rendition) and refused (down, egress saturated)."""

    def __init__(self, registry: Any) -> None:
        from prometheus_client import Counter

        self.egress = Counter(
            "twin_origin_egress_bytes", "Segment bytes sent by the origin", ["rendition"],
            registry=registry,
        )  # fmt: skip
        self.refused = Counter(
            "twin_origin_refused", "Streaming requests refused with 503", ["reason"],
            registry=registry,
        )  # fmt: skip


def _origin(request: web.Request) -> Origin:
    """The origin, after checking the caller holds a token and the origin is up."""
    require(request)
    origin: Origin = request.app[STATE].extras[ORIGIN_KEY]
    origin.check_up()
    return origin


def _playlist_response(text: str | bytes, max_age_s: float) -> web.Response:
    body = text.encode() if isinstance(text, str) else text
    headers = {"Cache-Control": f"max-age={max(0, int(max_age_s))}"}
    return web.Response(body=body, content_type=hls.PLAYLIST_CONTENT_TYPE, headers=headers)


async def master(request: web.Request) -> web.Response:
    origin = _origin(request)
    origin.lookup(request.match_info["class_id"])
    return _playlist_response(origin.master, 3600)


async def playlist(request: web.Request) -> web.Response:
    origin = _origin(request)
    info = origin.lookup(request.match_info["class_id"])
    origin.rendition(request.match_info["rendition"])
    plan = origin.plan(info)
    # A live playlist changes every segment: let a CDN keep it for half a target duration.
    max_age = 86_400 if plan.ended else plan.target_s / 2
    return _playlist_response(hls.media_playlist(plan), max_age)


async def segment(request: web.Request) -> web.StreamResponse:
    origin = _origin(request)
    match = request.match_info
    info, rendition = origin.lookup(match["class_id"]), origin.rendition(match["rendition"])
    body = origin.segment(info, rendition, int(match["seq"]))
    nbytes = sum(map(len, body))
    wait = origin.egress_wait(nbytes)
    if wait > 0:
        await asyncio.sleep(wait)
    response = web.StreamResponse(headers={"Cache-Control": "max-age=86400"})
    response.content_type = hls.SEGMENT_CONTENT_TYPE
    response.content_length = nbytes
    await response.prepare(request)
    await _send(request, response, body)
    origin.sent(rendition.name, nbytes)
    await response.write_eof()  # waits while the transport holds more than its high-water mark
    return response


async def _send(request: web.Request, response: web.StreamResponse, body: list[bytes]) -> None:
    """Write `body`'s pieces: the first through aiohttp (it carries the buffered headers), the
    rest handed to the transport in one call.

    uvloop's transport (and asyncio's from Python 3.12) sends a list of buffers with one
    scatter-gather system call and keeps the unsent ones by reference, so the template's bytes
    are never copied in Python; asyncio's before 3.12 joins them, one copy.
    """
    await response.write(body[0])
    transport = request.transport
    if transport is None or transport.is_closing():
        raise ConnectionResetError("the player closed the connection")
    transport.writelines(body[1:])


def default_media_dir() -> Path:
    """Where encoded segments are kept between runs: the user's cache (XDG), shared by servers."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "twin" / "hls"


def setup(app: web.Application) -> None:
    """Build the origin from the app's state and add the three streaming routes.

    Every route needs a token of any kind (the classes are members' content), so the
    per-token rate limit applies to players too.
    """
    state = app[STATE]
    settings = state.settings
    origin = Origin(
        state.catalog,
        state.faults,
        media_dir=settings.media_cache_dir or default_media_dir(),
        default_egress_bps=settings.origin_egress_bps,
    )
    origin.metrics = OriginMetrics(state.metrics.registry)
    state.extras[ORIGIN_KEY] = origin
    base = "/v1/live/{class_id}"
    app.router.add_get(f"{base}/master.m3u8", master, name="master", allow_head=False)
    app.router.add_get(
        f"{base}/{{rendition}}/index.m3u8", playlist, name="playlist", allow_head=False
    )
    app.router.add_get(
        f"{base}/{{rendition}}/{{seq:\\d{{1,12}}}}.ts", segment, name="segment", allow_head=False
    )
