"""Reading HLS playlists (RFC 8216) the way a player does: variants, sequence numbers, lengths.

Only what the rider's player loop needs. A master (multivariant) playlist: each
`#EXT-X-STREAM-INF` with its `BANDWIDTH` and the URI after it, lowest bandwidth first. A media
playlist: `#EXT-X-MEDIA-SEQUENCE`, `#EXT-X-TARGETDURATION`, each `#EXTINF` with the URI after
it (its sequence number is the media sequence plus its position, RFC 8216 section 6.3.5), and
`#EXT-X-ENDLIST`. URIs are resolved against the playlist's own URL (`resolve`): relative,
root-relative and absolute ones alike. Imports neither locust nor twin; written by hand (50
lines) rather than with the `m3u8` package so that the load processes need nothing beyond
Locust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin

__all__ = [
    "MediaPlaylist",
    "Variant",
    "parse_master_playlist",
    "parse_media_playlist",
    "resolve",
]

_BANDWIDTH = re.compile(r"(?:^|,)BANDWIDTH=(\d+)")


def resolve(base: str, uri: str) -> str:
    """`uri` as the playlist at `base` (a URL, or a path on the drilled host) names it."""
    return urljoin(base, uri)


@dataclass(frozen=True)
class Variant:
    """One rendition of a master playlist: its peak bandwidth (bit/s) and media playlist URI."""

    bandwidth: int
    uri: str


def _lines(text: str) -> list[str]:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist (no #EXTM3U)")
    return lines


def parse_master_playlist(text: str) -> tuple[Variant, ...]:
    """The variants of a master playlist, lowest bandwidth first; a media playlist given
    instead is its own single variant (URI ""). Raises ValueError when it is not HLS."""
    lines = _lines(text)
    variants: list[Variant] = []
    pending: int | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-STREAM-INF:"):
            found = _BANDWIDTH.search(_tag_value(line))
            pending = int(found.group(1)) if found else 0
        elif not line.startswith("#") and pending is not None:
            variants.append(Variant(pending, line))
            pending = None
    if not variants and any(ln.startswith("#EXTINF:") for ln in lines):
        return (Variant(0, ""),)
    if not variants:
        raise ValueError("an HLS playlist with neither variants nor segments")
    return tuple(sorted(variants, key=lambda v: v.bandwidth))


@dataclass(frozen=True)
class MediaPlaylist:
    """A parsed media playlist: `(sequence number, duration s, uri)` per segment."""

    media_sequence: int
    target_s: float
    segments: tuple[tuple[int, float, str], ...]
    ended: bool

    @property
    def last_seq(self) -> int | None:
        return self.segments[-1][0] if self.segments else None


def _tag_value(line: str) -> str:
    return line.split(":", 1)[1].strip()


def parse_media_playlist(text: str, default_target_s: float = 4.0) -> MediaPlaylist:
    """Parse `text`; raises ValueError when it is not an HLS playlist."""
    lines = _lines(text)
    sequence, target, ended = 0, default_target_s, False
    segments: list[tuple[int, float, str]] = []
    pending: float | None = None
    for line in lines[1:]:
        if line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(_tag_value(line))
        elif line.startswith("#EXT-X-TARGETDURATION:"):
            target = float(_tag_value(line))
        elif line.startswith("#EXTINF:"):
            pending = float(_tag_value(line).split(",", 1)[0])
        elif line == "#EXT-X-ENDLIST":
            ended = True
        elif not line.startswith("#") and pending is not None:
            segments.append((sequence + len(segments), pending, line))
            pending = None
    return MediaPlaylist(sequence, target, tuple(segments), ended)
