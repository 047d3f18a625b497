"""One rider's sessions, request by request, on the drill's compressed clock.

A session is what the twin's workload model counts (`twin.platform.workload`): the app opens
(`recommend`), the rider joins a class (`join`), the player loads the master playlist (`master`)
and then, for a live class, reloads the media playlist every target duration (`playlist`) and
fetches each new segment (`segment`); for an on-demand class it loads the VOD playlist once and
fetches one segment per segment length. A bike or tread posts a telemetry batch every five
seconds (`telemetry`), the leaderboard refreshes (`leaderboard`), and at the end the ride is
saved (`workout`) and sometimes rated (`feedback`).

Per-rider pacing is real time (the server's HLS clock is the wall clock); only session lengths
are compressed by the speedup, so a 45-minute class lasts 45 s at 60x and sessions start and end
`speedup` times as often. Every request has an intended send time on its schedule; a rider that
falls behind sends late and the lateness counts in its latency (see `drill_recorder`).

HTTP is injected (`Http`), so this module imports neither locust nor twin.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from drill_hls import RENDITIONS, parse_media_playlist
from drill_plan import LiveClass, Plan
from drill_recorder import Recorder

__all__ = ["Http", "Reply", "Rider", "Session"]

_PRE_CLASS_S = 300.0  # riders join up to five (scenario) minutes before a live class starts
_IN_PROGRESS_S = 1.5  # users spawned in the first drill seconds start mid-session
_SPAWN_TICK_S = 1.0  # Locust's shape tick: the new users of a tick are spawned together


@dataclass(frozen=True)
class Reply:
    """What an HTTP call returned: status 0 when no answer came (`error` says why)."""

    status: int
    text: str = ""
    nbytes: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400


class Http(Protocol):
    def __call__(
        self, method: str, path: str, name: str, token: str, body: dict[str, Any] | None
    ) -> Reply: ...


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
    vod_segments: list[float] = field(default_factory=list)


class Rider:
    """Drives one rider of the pool through sessions until the drill ends."""

    def __init__(
        self,
        plan: Plan,
        rider: dict[str, Any],
        http: Http,
        recorder: Recorder,
        rng: random.Random,
        sleep: Callable[[float], None],
        clock: Callable[[], float] = time.time,
        reconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self.plan, self.rider, self.http, self.rec = plan, rider, http, recorder
        self.reconnect = reconnect
        self.rng, self.sleep, self.clock = rng, sleep, clock
        self.has_device = rider.get("device") in ("bike", "tread")
        self.seq = int(clock() * 1000)  # telemetry sample numbers never repeat across drills
        self.first = True
        self.current: Session | None = None

    def tau(self) -> float:
        """Drill seconds since the plan's t0."""
        return self.clock() - self.plan.t0

    def send(
        self,
        name: str,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        intended: float | None = None,
    ) -> Reply:
        sent = self.clock()
        reply = self.http(method, path, name, token or self.rider["rider_token"], body)
        done = self.clock()
        self.rec.record(name, sent if intended is None else intended, sent, done, reply.ok,
                        reply.nbytes)  # fmt: skip
        if not reply.ok:
            self.rec.note_error(name, reply.error or f"HTTP {reply.status}")
        return reply

    # -- one session -------------------------------------------------------------------------

    def session(self) -> None:
        """Ride one session from app open to the saved workout (or skip past the drill's end).

        A rider whose session was interrupted (its Locust user stopped when the planned users
        dipped by one) and handed to a new user resumes that session instead of opening the
        app again: a user count that wavers by one does not start sessions the twin never had.
        """
        tau = self.tau()
        if tau >= self.plan.duration_s:
            self.sleep(1.0)
            return
        s = self.current
        if self.first and s is None and tau >= _IN_PROGRESS_S:
            tau = self.stagger()
            if tau >= self.plan.duration_s:
                return
        if s is None or s.end_tau <= tau:
            in_progress = self.first and tau < _IN_PROGRESS_S
            self.first = False
            s = self.choose(tau, in_progress)
            self.rec.count("sessions")
            self.current = s
            if not in_progress:
                self.open_app(s)
        else:
            s.last_seq = None  # a resumed player picks up at the live edge
            s.in_progress = True  # its app, master playlist and VOD playlist are loaded
            self.rec.count("resumed")
        self.ride(s)
        self.finish(s)
        self.current = None

    def stagger(self) -> float:
        """Wait a uniform part of the spawn tick before a new rider's first session; the drill
        second after it.

        Locust's dispatcher starts all the users a shape tick adds at once (it spawns
        floor(spawn_rate) users per iteration), where the twin's riders start their sessions
        as a Poisson stream within each second. Left in one burst, a surge's app opens queue
        behind each other at both event loops: load the twin's workload does not have.
        Uniform start times within the second are that Poisson stream's, given its count.
        """
        self.sleep(self.rng.random() * _SPAWN_TICK_S)
        return self.tau()

    def interrupted(self) -> Session | None:
        """The session this rider is in the middle of (None between sessions or at the end)."""
        s, tau = self.current, self.tau()
        if s is None or tau >= self.plan.duration_s or s.end_tau <= tau:
            return None
        return s

    def choose(self, tau: float, in_progress: bool) -> Session:
        """Live or on demand, which class, and when it ends on the drill clock.

        A live start takes a class that is taking joiners now (the twin's join curve), a rider
        already in a class at the start one in proportion to its riders; either rides to the
        class end. An on-demand session lasts a length drawn from the twin's on-demand length
        distribution (length-biased, with the remainder left, for a session in progress).
        """
        plan = self.plan
        share = plan.active_live_share if in_progress else plan.live_start_share
        scenario_class = self._scenario_class(tau) if in_progress else self._joining_class(tau)
        target = self._target_class(self.clock())
        wanted = int(self.rider.get("rendition", 1))
        if scenario_class and target and self.rng.random() < plan.at(share, tau):
            return Session(target.id, True, tau, scenario_class.end, in_progress, wanted)
        class_id = self.rng.choice(sorted(plan.on_demand))
        length = self._od_length(in_progress) / plan.speedup
        left = length * (1.0 - self.rng.random()) if in_progress else length
        return Session(class_id, False, tau, tau + left, in_progress, wanted)

    def _od_length(self, in_progress: bool) -> float:
        """Scenario seconds of an on-demand session (the class's own length without a plan)."""
        lengths = self.plan.od_lengths
        if not lengths:
            return sum(self.plan.on_demand.values()) / max(1, len(self.plan.on_demand))
        weights = [p * (s if in_progress else 1.0) for s, p in lengths]
        return self.rng.choices([s for s, _ in lengths], weights=weights)[0]

    def _joining_class(self, tau: float) -> LiveClass | None:
        joins = self.plan.live_joins
        now = joins[min(int(tau), len(joins) - 1)] if joins else ()
        if not now:
            return None
        pick = self.rng.choices(now, weights=[max(w, 1e-12) for _, w in now])[0]
        return self.plan.scenario_live[pick[0]]

    def _scenario_class(self, tau: float) -> LiveClass | None:
        pre = _PRE_CLASS_S / self.plan.speedup
        running = [c for c in self.plan.scenario_live if c.start - pre <= tau < c.end]
        if not running:
            return None
        return self.rng.choices(running, weights=[max(c.weight, 1e-9) for c in running])[0]

    def _target_class(self, now: float) -> LiveClass | None:
        running = [c for c in self.plan.target_live if c.start <= now < c.end - 30.0]
        return self.rng.choice(running) if running else None

    def open_app(self, s: Session) -> None:
        """`recommend` (an on-demand rider takes a recommended class), then `join`.

        An app that opens connects anew (`reconnect` drops the rider's kept-alive
        connections): every session start pays for its connection, as a phone's app does,
        not only the first one of each Locust user. Without it the share of app opens on a
        new connection would follow how Locust's users come and go (a surge's new users
        all connect; a steady hour's riders mostly reuse), not the platform's workload.
        """
        self.reconnect()
        rid = self.rider["rider_id"]
        reply = self.send("recommend", "GET", f"/v1/riders/{rid}/recommendations?n=10")
        if reply.ok and not s.live:
            self._take_recommended(s, reply.text)
        body = {"rider_id": rid, "device_id": self.rider["device_id"]}
        joined = self.send("join", "POST", f"/v1/classes/{s.class_id}/join", body=body)
        if not joined.ok:
            self.rec.count("join_failures")

    def _take_recommended(self, s: Session, text: str) -> None:
        try:
            picks = [r["class_id"] for r in json.loads(text)["recommendations"]]
        except (ValueError, KeyError, TypeError):
            return
        known = [c for c in picks if c in self.plan.on_demand]
        if known:  # the content; the session keeps the length the twin's workload gives it
            s.class_id = self.rng.choice(known[:3])

    # -- the ride: a small scheduler of periodic actions ------------------------------------

    def ride(self, s: Session) -> None:
        plan, now = self.plan, self.clock()
        due: dict[str, float] = {}
        if s.live:
            if not s.in_progress:
                self.send("master", "GET", f"/v1/live/{s.class_id}/master.m3u8")
        elif not s.vod_segments:
            self._load_vod(s)
        # Periodic loops start at a random phase: a session of length L then makes L / period
        # requests on average, the rate the twin's workload counts.
        if s.live:
            due["playlist"] = now + self.plan.segment_s * self.rng.random()
        else:
            due["segment"] = now + self.plan.segment_s * self.rng.random()
        if self.has_device:
            due["telemetry"] = now + plan.telemetry_batch_s * self.rng.random()
        period = plan.leaderboard_live_s if s.live else plan.leaderboard_od_s
        due["leaderboard"] = now + period * self.rng.random()
        end_wall = plan.t0 + s.end_tau
        actions = {"playlist": self.reload_playlist, "segment": self.vod_segment,
                   "telemetry": self.telemetry, "leaderboard": self.leaderboard}  # fmt: skip
        while True:
            name = min(due, key=due.__getitem__)
            if due[name] >= end_wall:
                break
            wait = due[name] - self.clock()
            if wait > 0:
                self.sleep(wait)
            due[name] = actions[name](s, due[name])
        wait = end_wall - self.clock()
        if wait > 0:
            self.sleep(wait)

    def _media_path(self, s: Session) -> str:
        return f"/v1/live/{s.class_id}/{RENDITIONS[s.rendition]}/index.m3u8"

    def _load_vod(self, s: Session) -> None:
        """An on-demand player reads the VOD playlist once (a mid-session rider already has it)."""
        length = self.plan.on_demand.get(s.class_id, 0.0)
        seg = self.plan.segment_s
        count = max(1, int(-(-length // seg)))
        s.vod_segments = [min(seg, length - i * seg) for i in range(count)]
        if s.in_progress:
            s.next_seq = self.rng.randrange(count)
            return
        reply = self.send("playlist", "GET", self._media_path(s))
        if reply.ok:
            try:
                media = parse_media_playlist(reply.text, seg)
                s.vod_segments = [d for _, d, _ in media.segments] or s.vod_segments
            except ValueError:
                self.rec.note_error("playlist", "unparseable playlist")

    def reload_playlist(self, s: Session, due: float) -> float:
        """Live: reload the media playlist and fetch the segments it newly lists."""
        reply = self.send("playlist", "GET", self._media_path(s), intended=due)
        target = self.plan.segment_s
        if reply.ok:
            try:
                media = parse_media_playlist(reply.text, target)
            except ValueError:
                self.rec.note_error("playlist", "unparseable playlist")
                return due + target
            target = media.target_s
            fresh = [x for x in media.segments if s.last_seq is None or x[0] > s.last_seq]
            for seq, duration, _ in fresh[-1:] if s.last_seq is None else fresh:
                self.fetch_segment(s, seq, duration, due)
                s.last_seq = seq
        return due + target

    def vod_segment(self, s: Session, due: float) -> float:
        """On demand: the next segment, one per segment length."""
        if not s.vod_segments:
            return due + self.plan.segment_s
        # The session lasts what the twin's length distribution says; a rider who outlasts
        # the target's class goes on with the library (the same class again).
        s.next_seq %= len(s.vod_segments)
        duration = s.vod_segments[s.next_seq]
        self.fetch_segment(s, s.next_seq, duration, due)
        s.next_seq += 1
        return due + max(duration, 0.5)

    def fetch_segment(self, s: Session, seq: int, duration: float, due: float) -> None:
        """One segment; a download slower than the segment's length downshifts the player."""
        path = f"/v1/live/{s.class_id}/{RENDITIONS[s.rendition]}/{seq}.ts"
        started = self.clock()
        reply = self.send("segment", "GET", path, intended=due)
        took = self.clock() - started
        wanted = int(self.rider.get("rendition", 1))
        self.rec.count("segments")
        if not reply.ok or took > duration or s.rendition < wanted:
            self.rec.count("segments_degraded")
        if reply.ok and took > duration and s.rendition > 0:
            s.rendition -= 1
            self.rec.count("downshifts")

    def telemetry(self, s: Session, due: float) -> float:
        """A batch of 1 Hz samples taken over the last batch period."""
        n = max(1, round(self.plan.telemetry_batch_s))
        samples = []
        for i in range(n):
            self.seq += 1
            samples.append(self._sample(self.seq, min(due, self.clock()) - (n - 1 - i)))
        body = {"device_id": self.rider["device_id"], "class_id": s.class_id, "samples": samples}
        self.send("telemetry", "POST", "/v1/telemetry", token=self.rider["device_token"],
                  body=body, intended=due)  # fmt: skip
        return due + self.plan.telemetry_batch_s

    def _sample(self, seq: int, t: float) -> dict[str, Any]:
        r = self.rng
        return {"seq": seq, "t": round(t, 3), "cadence_rpm": round(r.uniform(60, 110), 1),
                "resistance_pct": round(r.uniform(20, 60), 1),
                "power_w": round(r.uniform(80, 300), 1),
                "heart_rate_bpm": round(r.uniform(100, 170), 1),
                "speed_kph": round(r.uniform(20, 35), 1)}  # fmt: skip

    def leaderboard(self, s: Session, due: float) -> float:
        self.send("leaderboard", "GET", f"/v1/classes/{s.class_id}/leaderboard?n=10", intended=due)
        return due + (self.plan.leaderboard_live_s if s.live else self.plan.leaderboard_od_s)

    def finish(self, s: Session) -> None:
        """Save the workout (its length back on the scenario's clock), rate it sometimes."""
        ridden = min(86_400.0, max(1.0, (s.end_tau - s.start_tau) * self.plan.speedup))
        body = {"rider_id": self.rider["rider_id"], "class_id": s.class_id,
                "duration_s": round(ridden, 1), "output_kj": round(ridden * 0.15, 1),
                "device_id": self.rider["device_id"]}  # fmt: skip
        reply = self.send("workout", "POST", "/v1/workouts", body=body)
        if not reply.ok or self.rng.random() >= self.plan.feedback_share:
            return
        try:
            workout_id = json.loads(reply.text)["workout_id"]
        except (ValueError, KeyError, TypeError):
            return
        rating = {"rating": self.rng.choice((3, 4, 4, 5, 5))}
        self.send("feedback", "POST", f"/v1/workouts/{workout_id}/feedback", body=rating)
