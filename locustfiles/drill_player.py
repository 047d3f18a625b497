"""The rider's video player: a standard HLS client (RFC 8216) on the drill's clock.

It starts from the target profile's master playlist for the class (`Profile.live_master`,
`Profile.vod_master`), takes the variant the rider's screen and bandwidth hold (lowest
bandwidth first, the rider's rendition at most), and follows the URIs the playlists give,
relative or absolute (`drill_hls.resolve`). Live: it reloads the media playlist every target
duration and fetches the segments `EXT-X-MEDIA-SEQUENCE` says are new (only the newest on the
first load: it joins at the live edge). On demand: it reads the media playlist once
(`EXT-X-ENDLIST`) and fetches one segment per segment length. A segment that downloads more
slowly than it plays downshifts it (ABR). `Playlists` holds what the players of one process
have loaded, for players already running when the drill starts (see `drill_journey`).

What the player spends on its own processor stays small, as a real player's does: the load
process's one event loop serves every rider, so a player that spends milliseconds there
delays every other rider's request (a class end, when dozens of riders start a session in one
second, stalled the loop ~100 ms when each new on-demand player resolved its class's 675
segment URIs at once: 4 ms each). So a segment URI is resolved when it is fetched, and an
on-demand playlist's text already parsed in this process is not parsed again (its bytes are
still fetched: the request is the workload).

`Player` is the rider's half that plays; `drill_journey.Rider` is the rest (it sends, records
and schedules). Imports neither locust nor twin.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drill_hls import MediaPlaylist, parse_master_playlist, parse_media_playlist, resolve
from drill_plan import Plan, Profile
from drill_profile import render
from drill_recorder import Recorder

if TYPE_CHECKING:
    from drill_journey import Reply

__all__ = ["Player", "Playlists", "Session"]

_PARSED_MAX = 256  # distinct on-demand playlists a process keeps parsed (a few per class)


@dataclass
class Playlists:
    """What the players of one process have loaded: each master playlist's variant URLs
    (lowest bandwidth first) and each VOD media playlist (it never changes)."""

    masters: dict[str, tuple[str, ...]] = field(default_factory=dict)
    vod: dict[str, MediaPlaylist] = field(default_factory=dict)
    # ended (VOD) playlists by their text: identical bytes parse to the same playlist
    parsed: dict[str, MediaPlaylist] = field(default_factory=dict)

    def parse(self, text: str, default_target_s: float) -> MediaPlaylist:
        """`text` parsed (raises ValueError when it is not an HLS playlist); an ended one
        parsed before is not parsed again."""
        media = self.parsed.get(text)
        if media is None:
            media = parse_media_playlist(text, default_target_s)
            if media.ended and len(self.parsed) < _PARSED_MAX:
                self.parsed[text] = media
        return media


@dataclass
class Session:
    """One ride: which class, live or not, until when (drill seconds), and the player state."""

    class_id: str
    live: bool
    start_tau: float
    end_tau: float
    in_progress: bool
    rendition: int
    last_seq: int | None = None
    next_seq: int = 0
    variants: tuple[str, ...] = ()  # media playlist URLs, lowest bandwidth first
    vod: tuple[tuple[int, float, str], ...] = ()  # (seq, duration, URI) of each on-demand segment
    vod_base: str = ""  # the media playlist's URL, which `vod`'s URIs are relative to
    vod_variant: int | None = None  # the variant `vod` was read from


class Player:
    """The playing half of a rider (mixed into `drill_journey.Rider`, which provides these)."""

    plan: Plan
    profile: Profile
    playlists: Playlists
    rec: Recorder
    rng: random.Random
    clock: Callable[[], float]

    def stream(self, name: str, url: str, intended: float | None = None) -> Reply:
        raise NotImplementedError

    def variables(self, s: Session | None, **more: Any) -> dict[str, Any]:
        raise NotImplementedError

    def wanted(self) -> int:
        raise NotImplementedError

    def _master_url(self, s: Session) -> str | None:
        """The class's master playlist (the profile's template); None: no such stream."""
        template = self.profile.live_master if s.live else self.profile.vod_master
        return None if template is None else render(template, self.variables(s))

    def load_master(self, s: Session, name: str) -> None:
        """The class's variants: from the master playlist (`name`: `master` at a session's
        start; `resume` for a player already running, which takes its process's copy)."""
        url = self._master_url(s) or ""
        known = self.playlists.masters.get(url)
        if known is not None and name == "resume":
            s.variants = known
            return
        reply = self.stream(name, url)
        if not reply.ok:
            return
        try:
            variants = parse_master_playlist(reply.text)
        except ValueError as exc:
            self.rec.note_error(name, f"{url}: {exc}")
            return
        s.variants = tuple(resolve(url, v.uri) if v.uri else url for v in variants)
        self.playlists.masters[url] = s.variants

    def variant(self, s: Session) -> int:
        """The variant the player is on: the rider's, the ladder's top at most."""
        s.rendition = max(0, min(s.rendition, len(s.variants) - 1))
        return s.rendition

    def load_vod(self, s: Session) -> None:
        """An on-demand player reads the VOD media playlist of its variant once (a mid-session
        rider already has it: its process's copy, else a `resume` fetch) and, mid-session,
        starts at a random segment."""
        if not s.variants:
            return
        k = self.variant(s)
        url = s.variants[k]
        media = self.playlists.vod.get(url) if s.in_progress else None
        if media is None:
            name = "resume" if s.in_progress and s.vod_variant is None else "playlist"
            media = self._read_media(name, url, None)
            if media is None:
                return
            self.playlists.vod[url] = media
        s.vod, s.vod_base = media.segments, url  # resolved one by one, when fetched
        if s.in_progress and s.vod_variant is None and s.vod:
            s.next_seq = self.rng.randrange(len(s.vod))
        s.vod_variant = k

    def _read_media(self, name: str, url: str, due: float | None) -> MediaPlaylist | None:
        reply = self.stream(name, url, due)
        if not reply.ok:
            return None
        try:
            return self.playlists.parse(reply.text, self.plan.segment_s)
        except ValueError:
            self.rec.note_error(name, "unparseable playlist")
            return None

    def reload_playlist(self, s: Session, due: float) -> float:
        """Live: reload the media playlist and fetch the segments it newly lists (the newest
        one only on the first load: the player joins at the live edge)."""
        if not s.variants:
            self.load_master(s, "resume" if s.in_progress else "master")
        if not s.variants:
            return due + self.plan.segment_s
        url = s.variants[self.variant(s)]
        media = self._read_media("playlist", url, due)
        if media is None:
            return due + self.plan.segment_s
        fresh = [x for x in media.segments if s.last_seq is None or x[0] > s.last_seq]
        for seq, duration, uri in fresh[-1:] if s.last_seq is None else fresh:
            self.fetch_segment(s, duration, resolve(url, uri), due)
            s.last_seq = seq
        return due + media.target_s

    def vod_segment(self, s: Session, due: float) -> float:
        """On demand: the next segment, one per segment length."""
        if not s.variants:
            self.load_master(s, "resume" if s.in_progress else "master")
        if s.variants and (not s.vod or s.vod_variant != self.variant(s)):
            self.load_vod(s)  # a running player's first, or the variant it switched to
        if not s.vod:
            return due + self.plan.segment_s
        # The session lasts what the twin's length distribution says; a rider who outlasts
        # the target's class goes on with the library (the same class again).
        s.next_seq %= len(s.vod)
        _, duration, uri = s.vod[s.next_seq]
        self.fetch_segment(s, duration, resolve(s.vod_base, uri), due)
        s.next_seq += 1
        return due + max(duration, 0.5)

    def fetch_segment(self, s: Session, duration: float, url: str, due: float) -> None:
        """One segment; a download slower than the segment's length downshifts the player."""
        started = self.clock()
        reply = self.stream("segment", url, due)
        took = self.clock() - started
        wanted = min(self.wanted(), len(s.variants) - 1)
        self.rec.count("segments")
        if not reply.ok or took > duration or s.rendition < wanted:
            self.rec.count("segments_degraded")
        if reply.ok and took > duration and s.rendition > 0:
            s.rendition -= 1
            self.rec.count("downshifts")
