"""Reading HLS media playlists (RFC 8216) the way a player does: sequence numbers and lengths.

Only what the rider's player loop needs: `#EXT-X-MEDIA-SEQUENCE`, `#EXT-X-TARGETDURATION`,
each `#EXTINF` with the URI after it (its sequence number is the media sequence plus its
position, RFC 8216 section 6.3.5), and `#EXT-X-ENDLIST`. Imports neither locust nor twin.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RENDITIONS", "MediaPlaylist", "parse_media_playlist"]

RENDITIONS = ("720p", "1080p", "4k")  # the reference platform's ladder, lowest first


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
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != "#EXTM3U":
        raise ValueError("not an HLS playlist (no #EXTM3U)")
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
