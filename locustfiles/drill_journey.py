"""One rider's sessions, request by request, on the drill's compressed clock.

A session is what the twin's workload model counts (`twin.platform.workload`): the app opens
(`recommend`), the rider joins a class (`join`), the player loads the master playlist (`master`)
and then, for a live class, reloads the media playlist every target duration (`playlist`) and
fetches each new segment (`segment`); for an on-demand class it loads the VOD playlist once and
fetches one segment per segment length. A bike or tread posts a telemetry batch every five
seconds (`telemetry`), the leaderboard refreshes (`leaderboard`), a session playing music that
follows cadence (the plan's `music_share` of them) posts the rider's cadence every `tempo_s`
(`tempo`), and at the end the ride is saved (`workout`) and sometimes rated (`feedback`).

Per-rider pacing is real time (the server's HLS clock is the wall clock); only session lengths
are compressed by the speedup, so a 45-minute class lasts 45 s at 60x and sessions start and end
`speedup` times as often. Every request has an intended send time on its schedule; a rider that
falls behind sends late and the lateness counts in its latency (see `drill_recorder`).

Every request comes from the target's profile (`drill_plan.Profile`, the plan's): its path,
body, headers and success statuses are the profile's templates filled in (`drill_profile`),
a type the profile leaves out is not sent, and the player (`drill_player.Player`, the half of
a `Rider` that plays) is a standard HLS client that starts from the profile's master playlist
and follows the URIs the playlists give. A rider already mid-session when the drill starts (or
resumed by a new user) has its player loaded: it takes the master and VOD playlists from its
process's cache (`Playlists`), and fetches one it lacks under the name `resume` when its first
reload or segment is due: a request of the drill, not of the workload.

HTTP is injected (`Http`), so this module imports neither locust nor twin.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from drill_plan import IN_PROGRESS_S, LiveClass, Plan, RequestSpec
from drill_player import Player, Playlists, Session
from drill_profile import capture, render
from drill_recorder import Recorder

__all__ = ["Http", "Playlists", "Reply", "Rider", "Session"]

_PRE_CLASS_S = 300.0  # riders join up to five (scenario) minutes before a live class starts
_SPAWN_TICK_S = 1.0  # Locust's shape tick: the new users of a tick are spawned together


@dataclass(frozen=True)
class Reply:
    """What an HTTP call returned: status 0 when no answer came (`error` says why)."""

    status: int
    text: str = ""
    nbytes: int = 0
    error: str | None = None
    success: bool | None = None  # the profile's verdict (None: any 2xx or 3xx)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 400 if self.success is None else self.success


class Http(Protocol):
    """One request: `url` a path on the drilled host or an absolute URL; `body` JSON or None;
    `ok` the statuses that count as success (the Locust side marks the rest failures)."""

    def __call__(
        self, method: str, url: str, name: str, headers: dict[str, str], body: Any,
        ok: tuple[int, ...],
    ) -> Reply: ...  # fmt: skip


class Rider(Player):
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
        playlists: Playlists | None = None,
    ) -> None:
        self.plan, self.rider, self.http, self.rec = plan, rider, http, recorder
        self.profile = plan.profile
        self.playlists = Playlists() if playlists is None else playlists
        self.reconnect = reconnect
        self.rng, self.sleep, self.clock = rng, sleep, clock
        self.has_device = rider.get("device") in ("bike", "tread")
        self.seq = int(clock() * 1000)  # telemetry sample numbers never repeat across drills
        self.cadence = 85.0  # rpm: where the rider's cadence starts its walk (`tempo`)
        self.first = True
        self.current: Session | None = None

    def tau(self) -> float:
        """Drill seconds since the plan's t0."""
        return self.clock() - self.plan.t0

    def send(
        self, name: str, method: str, url: str, headers: dict[str, str], body: Any,
        ok: tuple[int, ...], intended: float | None = None,
    ) -> Reply:  # fmt: skip
        """One request, recorded under `name`; the reply, with `ok` the profile's verdict."""
        sent = self.clock()
        reply = self.http(method, url, name, headers, body, ok)
        done = self.clock()
        good = reply.status in ok
        self.rec.record(name, sent if intended is None else intended, sent, done, good,
                        reply.nbytes, reply.status,
                        str(self.rider.get("rider_id", "")))  # fmt: skip
        if not good:
            self.rec.note_error(name, reply.error or f"HTTP {reply.status}")
        return Reply(reply.status, reply.text, reply.nbytes, reply.error, good)

    def headers(self, token: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The profile's headers, `extra`, and the rider's `token` (rider, device or none)."""
        out = {**self.profile.headers, **(extra or {})}
        value = self.rider.get(f"{token}_token") if token != "none" else None
        if self.profile.auth_header and value:
            out[self.profile.auth_header] = self.profile.auth_prefix + str(value)
        return out

    def variables(self, s: Session | None, **more: Any) -> dict[str, Any]:
        base = {"rider": self.rider["rider_id"], "device": self.rider["device_id"]}
        return {**base, "class": None if s is None else s.class_id, **more}

    def call(
        self, rtype: str, s: Session | None, intended: float | None = None, **more: Any
    ) -> Reply | None:
        """Request type `rtype` as the profile describes it; None when it is not driven."""
        spec: RequestSpec | None = self.profile.requests.get(rtype)
        if spec is None:
            return None
        values = self.variables(s, **more)
        body = None if spec.body is None else render(spec.body, values)
        headers = self.headers(spec.token, render(spec.headers, values))
        return self.send(rtype, spec.method, render(spec.path, values), headers, body, spec.ok,
                         intended)  # fmt: skip

    def stream(self, name: str, url: str, intended: float | None = None) -> Reply:
        """A GET of the player's (a playlist or a segment), with the rider's token."""
        return self.send(name, "GET", url, self.headers("rider"), None, self.profile.hls_ok,
                         intended)  # fmt: skip

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
        if self.first and s is None and tau >= IN_PROGRESS_S:
            tau = self.stagger()
            if tau >= self.plan.duration_s:
                return
        if s is None or s.end_tau <= tau:
            in_progress = self.first and tau < IN_PROGRESS_S
            self.first = False
            s = self.choose(tau, in_progress)
            self.rec.count("sessions")
            self.current = s
            if not in_progress:
                self.open_app(s)
        else:
            s.last_seq = None  # a resumed player picks up at the live edge
            s.in_progress = True  # its app, master playlist and VOD playlist are loaded
            s.variants = s.variants or self.playlists.masters.get(self._master_url(s) or "", ())
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
        wanted = self.wanted()
        share = plan.active_live_share if in_progress else plan.live_start_share
        scenario_class = self._scenario_class(tau) if in_progress else self._joining_class(tau)
        target = self._target_class(self.clock())
        if scenario_class and target and self.rng.random() < plan.at(share, tau):
            self.rec.count("sessions_live")
            return Session(target.id, True, tau, scenario_class.end, in_progress, wanted)
        if scenario_class and not target and self.rng.random() < plan.at(share, tau):
            self.rec.count("live_unjoinable")  # the target runs no live class now: on demand
        self.rec.count("sessions_on_demand")
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

    def wanted(self) -> int:
        """The variant the rider's screen and bandwidth hold (index, lowest first)."""
        return int(self.rider.get("rendition", 1))

    def open_app(self, s: Session) -> None:
        """`recommend` (an on-demand rider takes a recommended class), then `join`.

        An app that opens connects anew (`reconnect` drops the rider's kept-alive
        connections): every session start pays for its connection, as a phone's app does,
        not only the first one of each Locust user. Without it the share of app opens on a
        new connection would follow how Locust's users come and go (a surge's new users
        all connect; a steady hour's riders mostly reuse), not the platform's workload.
        """
        self.reconnect()
        reply = self.call("recommend", None)
        spec = self.profile.requests.get("recommend")
        if reply is not None and reply.ok and not s.live and spec is not None and spec.capture:
            self._take_recommended(s, capture(reply.text, spec.capture))
        joined = self.call("join", s)
        if joined is not None and not joined.ok:
            self.rec.count("join_failures")

    def _take_recommended(self, s: Session, picks: Any) -> None:
        if not isinstance(picks, list):
            return
        known = [c for c in picks if isinstance(c, str) and c in self.plan.on_demand]
        if known:  # the content; the session keeps the length the twin's workload gives it
            s.class_id = self.rng.choice(known[:3])

    # -- the ride: a small scheduler of periodic actions ------------------------------------

    def ride(self, s: Session) -> None:
        plan, now, drives = self.plan, self.clock(), self.profile.drives
        due: dict[str, float] = {}
        streams = self._master_url(s) is not None
        # A new session's player loads its playlists now; one already running (mid-session
        # at the drill's start, or resumed) when its first reload or segment is due, so that
        # the catch-up of a drill's first second is spread like the requests it stands for.
        if streams and not s.in_progress and not s.variants:
            self.load_master(s, "master")
        if streams and not s.in_progress and not s.live and not s.vod:
            self.load_vod(s)
        # Periodic loops start at a random phase: a session of length L then makes L / period
        # requests on average, the rate the twin's workload counts.
        if streams:
            due["playlist" if s.live else "segment"] = now + plan.segment_s * self.rng.random()
        if self.has_device and drives("telemetry"):
            due["telemetry"] = now + plan.telemetry_batch_s * self.rng.random()
        period = plan.leaderboard_live_s if s.live else plan.leaderboard_od_s
        if drives("leaderboard"):
            due["leaderboard"] = now + period * self.rng.random()
        if drives("tempo") and plan.music_share > 0 and self.rng.random() < plan.music_share:
            due["tempo"] = now + plan.tempo_s * self.rng.random()
        end_wall = plan.t0 + s.end_tau
        actions = {"playlist": self.reload_playlist, "segment": self.vod_segment,
                   "telemetry": self.telemetry, "leaderboard": self.leaderboard,
                   "tempo": self.tempo}  # fmt: skip
        while due:
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

    def telemetry(self, s: Session, due: float) -> float:
        """A batch of 1 Hz samples taken over the last batch period."""
        n = max(1, round(self.plan.telemetry_batch_s))
        first, samples = self.seq + 1, []
        template = self.profile.requests["telemetry"].sample
        for i in range(n):
            self.seq += 1
            sample = self._sample(self.seq, min(due, self.clock()) - (n - 1 - i))
            samples.append(sample if template is None else render(template, sample))
        self.call("telemetry", s, due, seq=first, samples=samples)
        return due + self.plan.telemetry_batch_s

    def _sample(self, seq: int, t: float) -> dict[str, Any]:
        r = self.rng
        return {"seq": seq, "t": round(t, 3), "cadence_rpm": round(r.uniform(60, 110), 1),
                "resistance_pct": round(r.uniform(20, 60), 1),
                "power_w": round(r.uniform(80, 300), 1),
                "heart_rate_bpm": round(r.uniform(100, 170), 1),
                "speed_kph": round(r.uniform(20, 35), 1)}  # fmt: skip

    def tempo(self, s: Session, due: float) -> float:
        """A cadence sample to the tempo service: the rider's cadence wanders (a random walk
        of 3 rpm a sample, held to 50-120 rpm), so the music's tempo has something to follow."""
        step = self.rng.gauss(0.0, 3.0)
        self.cadence = min(120.0, max(50.0, self.cadence + step))
        t = round(min(due, self.clock()), 3)
        self.call("tempo", s, due, t=t, cadence_rpm=round(self.cadence, 1))
        return due + self.plan.tempo_s

    def leaderboard(self, s: Session, due: float) -> float:
        self.call("leaderboard", s, due)
        return due + (self.plan.leaderboard_live_s if s.live else self.plan.leaderboard_od_s)

    def finish(self, s: Session) -> None:
        """Save the workout (its length back on the scenario's clock), rate it sometimes."""
        ridden = min(86_400.0, max(1.0, (s.end_tau - s.start_tau) * self.plan.speedup))
        reply = self.call("workout", s, duration_s=round(ridden, 1),
                          output_kj=round(ridden * 0.15, 1))  # fmt: skip
        if reply is None or not reply.ok or self.rng.random() >= self.plan.feedback_share:
            return
        spec = self.profile.requests["workout"]
        workout_id = capture(reply.text, spec.capture) if spec.capture else None
        if "feedback" not in self.profile.requests or workout_id in (None, []):
            return
        self.call("feedback", s, workout=workout_id, rating=self.rng.choice((3, 4, 4, 5, 5)))
