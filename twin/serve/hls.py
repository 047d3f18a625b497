"""HTTP Live Streaming (RFC 8216) as pure functions: renditions, segment timelines, playlists.

Nothing here does I/O or reads a clock: the time is passed in, so the same inputs always
render the same playlist. `twin.serve.streaming` wires these into routes.

A class is cut into segments of `segment_s` seconds (the last one shorter when the class
length is not a multiple). Segment `seq` of a live class covers
`[starts_at + seq * segment_s, starts_at + (seq + 1) * segment_s)` and is published once
it is complete, so a live media playlist is a sliding window over the newest complete
segments whose `#EXT-X-MEDIA-SEQUENCE` advances with the wall clock; once the class is over
the playlist gains `#EXT-X-ENDLIST`. An on-demand class is a VOD playlist of every segment.

A segment's body (`hls_media`, `ts`) is H.264 and AAC in MPEG-TS, `bitrate * duration / 8`
bytes to within one 188-byte packet, which is what the twin's own segment model counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = [
    "DEFAULT_SEGMENT_S",
    "DEFAULT_WINDOW",
    "PLAYLIST_CONTENT_TYPE",
    "RENDITIONS",
    "SEGMENT_CONTENT_TYPE",
    "TS_PACKET_BYTES",
    "MediaPlan",
    "Rendition",
    "live_plan",
    "master_playlist",
    "media_playlist",
    "segment_bytes",
    "segment_count",
    "segment_duration",
    "target_duration",
    "vod_plan",
]

PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"  # RFC 8216 section 4
SEGMENT_CONTENT_TYPE = "video/mp2t"
TS_PACKET_BYTES = 188  # ISO/IEC 13818-1 transport packet
# Apple's authoring spec recommends 6 s segments; 4 s is a common live choice that keeps
# glass-to-glass latency down. Six segments is the usual live window (three target durations
# is the RFC's minimum a client keeps from the end: section 6.3.3).
DEFAULT_SEGMENT_S = 4.0
DEFAULT_WINDOW = 6
HLS_VERSION = 3  # decimal-float EXTINF durations need version 3 (RFC 8216 section 7)


@dataclass(frozen=True, slots=True)
class Rendition:
    """One variant stream: a name used in URLs, a picture size and a peak bit rate (bit/s)."""

    name: str
    width: int
    height: int
    bandwidth_bps: int

    @property
    def resolution(self) -> str:
        return f"{self.width}x{self.height}"


# The ladder the seeds name (001: 720p in phase 1, 1080p in phase 2, 4K HDR in phase 3).
# 720p at 3,000 kb/s and 1080p at 6,000 kb/s are rows of Apple's HLS Authoring Specification
# bit-rate table (H.264); 16 Mb/s for 2160p lies within its HEVC 2160p rows (11.6-16.8 Mb/s)
# and matches the ~15 Mb/s that streaming services ask of a connection for 4K.
RENDITIONS: tuple[Rendition, ...] = (
    Rendition("720p", 1280, 720, 3_000_000),
    Rendition("1080p", 1920, 1080, 6_000_000),
    Rendition("4k", 3840, 2160, 16_000_000),
)


@dataclass(frozen=True, slots=True)
class MediaPlan:
    """What one media playlist lists: segments `[first, stop)` of a class and how it ends.

    `program_start` (epoch seconds) is the wall-clock time of segment `first` for a live
    class, rendered as `#EXT-X-PROGRAM-DATE-TIME`; None for VOD.
    """

    first: int
    stop: int
    durations: tuple[float, ...]
    target_s: int
    ended: bool
    vod: bool
    program_start: float | None = None


def segment_count(duration_s: float, segment_s: float) -> int:
    """How many segments a class of `duration_s` seconds has (the last may be short)."""
    if duration_s <= 0:
        return 0
    return math.ceil(duration_s / segment_s - 1e-9)


def segment_duration(seq: int, duration_s: float, segment_s: float) -> float:
    """The length in seconds of segment `seq` (0-based); 0.0 outside the class."""
    if seq < 0 or seq >= segment_count(duration_s, segment_s):
        return 0.0
    return min(segment_s, duration_s - seq * segment_s)


def target_duration(durations: tuple[float, ...], segment_s: float) -> int:
    """`#EXT-X-TARGETDURATION`: an integer >= every EXTINF rounded to the nearest integer.

    RFC 8216 section 4.3.3.1. It is the nominal segment length rounded up, so it does not
    change while a live window slides.
    """
    longest = max((*durations, segment_s))
    return max(1, math.floor(longest + 0.5), math.ceil(segment_s))


def segment_bytes(bandwidth_bps: int, duration_s: float) -> int:
    """The size of a segment: bit rate times duration, in bytes."""
    return round(bandwidth_bps * duration_s / 8)


def vod_plan(duration_s: float, segment_s: float = DEFAULT_SEGMENT_S) -> MediaPlan:
    """Every segment of an on-demand class, ending with `#EXT-X-ENDLIST`."""
    count = segment_count(duration_s, segment_s)
    durations = tuple(segment_duration(s, duration_s, segment_s) for s in range(count))
    return MediaPlan(0, count, durations, target_duration(durations, segment_s), True, True)


def live_plan(
    now: float,
    starts_at: float,
    duration_s: float,
    segment_s: float = DEFAULT_SEGMENT_S,
    window: int = DEFAULT_WINDOW,
) -> MediaPlan:
    """The sliding window of a live class at wall-clock time `now` (epoch seconds).

    Before the first segment is complete the window is empty; past the class's end it
    holds the last `window` segments and the playlist ends.
    """
    count = segment_count(duration_s, segment_s)
    elapsed = now - starts_at
    ended = elapsed >= duration_s
    complete = count if ended else max(0, min(count, math.floor(elapsed / segment_s)))
    first = max(0, complete - window)
    durations = tuple(segment_duration(s, duration_s, segment_s) for s in range(first, complete))
    target = target_duration(durations, segment_s)
    program_start = starts_at + first * segment_s
    return MediaPlan(first, complete, durations, target, ended, False, program_start)


def master_playlist(renditions: tuple[Rendition, ...] = RENDITIONS) -> str:
    """The multivariant (master) playlist: one `#EXT-X-STREAM-INF` per rendition.

    URIs are relative (`720p/index.m3u8`), resolved against the master's own URL.
    """
    lines = ["#EXTM3U", f"#EXT-X-VERSION:{HLS_VERSION}", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in renditions:
        lines.append(
            f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth_bps},"
            f"AVERAGE-BANDWIDTH={r.bandwidth_bps},RESOLUTION={r.resolution}"
        )
        lines.append(f"{r.name}/index.m3u8")
    return "\n".join(lines) + "\n"


def media_playlist(plan: MediaPlan) -> str:
    """A media playlist listing `plan`'s segments as `{seq}.ts`, relative URIs."""
    lines = [
        "#EXTM3U",
        f"#EXT-X-VERSION:{HLS_VERSION}",
        f"#EXT-X-TARGETDURATION:{plan.target_s}",
        f"#EXT-X-MEDIA-SEQUENCE:{plan.first}",
    ]
    if plan.vod:
        lines.append("#EXT-X-PLAYLIST-TYPE:VOD")
    if plan.program_start is not None and plan.durations:
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso_millis(plan.program_start)}")
    for seq, duration in zip(range(plan.first, plan.stop), plan.durations, strict=True):
        lines.append(f"#EXTINF:{duration:.3f},")
        lines.append(f"{seq}.ts")
    if plan.ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def _iso_millis(epoch_s: float) -> str:
    moment = datetime.fromtimestamp(epoch_s, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
