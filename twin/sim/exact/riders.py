"""Riders in the exact engine: each session a SimPy process making its calls one by one.

A session (a row of `twin.sim.sessions.SessionTable`) may start, is going to open the app
(`recommend`) and, once the app has its answer, join, and then rides: a live player reloads
its playlist and fetches a segment every segment duration, an on-demand one loads its
playlist once and fetches a segment every segment duration, a bike or tread posts a
telemetry batch every batch period (and the stream's processor writes its metrics to the
database every `persist_s`), the leaderboard is polled, a session playing music that
follows cadence sends a tempo sample every sample period; at the end the workout is
saved and, once saved, some riders rate the class (`twin.sim.platform_input.Journey`).
Periodic calls start at a random phase, so a session of length L makes L / period of them,
the rate the fluid engine counts.

What riders live through is kept per session (`Outcomes`): a rider whose join fails for
longer than the clients' patience gives up the class; a segment that fails or arrives later
than its own duration stalls the player; `reconnect_after` stalls in a row drop the stream
and the rider joins again (video stalled until then; giving up loses the class). Every
telemetry batch that reaches the stream goes on through the stream's consumer to the
leaderboard store (`twin.sim.exact.model.CHAIN`); its lag is the time from the sample on
the bike (uniform over the batch) to the store's answer. Each leaderboard poll finds the board
stale or not (`twin.sim.leaderboard_stale`: its newest sample older than `STALE_LAG_S`,
counted per session in `polls` and `stale_polls`). The stream answers the client as
it takes the record (`twin.sim.exact.rider_run`): what follows is asynchronous to the bike.
A live player's playlist and segment calls fail at the edge while the CDN's origin is down
(`origin_up` is 0): the cache holds no segment that was never made (an on-demand one is
served from the cache).
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from twin.sim.exact.clients import ClientPool
from twin.sim.exact.station import Request
from twin.sim.leaderboard_stale import STALE_LAG_S
from twin.sim.platform_input import Journey
from twin.sim.sessions import SessionTable

__all__ = ["Outcomes", "Riders"]


@dataclass
class Outcomes:
    """What the sessions of one replication lived through (per-session arrays by row)."""

    play_from: np.ndarray
    play_to: np.ndarray
    joined: np.ndarray  # False: gave up joining
    lost: np.ndarray  # True: lost the stream and gave up reconnecting
    segments: np.ndarray
    stalled: np.ndarray  # segments that failed or came later than their duration
    reconnects: np.ndarray
    polls: np.ndarray  # leaderboard polls
    stale_polls: np.ndarray  # polls that found the leaderboard stale
    stall_times: list[float] = field(default_factory=list)  # when each stalled segment was due
    lag_born: list[float] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    lag_at: list[float] = field(default_factory=list)  # when each sample reached the store

    @classmethod
    def empty(cls, n: int) -> Outcomes:
        return cls(
            play_from=np.full(n, np.nan),
            play_to=np.full(n, np.nan),
            joined=np.ones(n, bool),
            lost=np.zeros(n, bool),
            segments=np.zeros(n, np.int64),
            stalled=np.zeros(n, np.int64),
            reconnects=np.zeros(n, np.int64),
            polls=np.zeros(n, np.int64),
            stale_polls=np.zeros(n, np.int64),
        )


class _Player:
    """One session's player state."""

    __slots__ = ("misses", "reconnect", "row")

    def __init__(self, row: int) -> None:
        self.row = row
        self.misses = 0
        self.reconnect = False


class Riders:
    """The sessions of one replication, their client pool and the ingest chain after it.

    `kinds` maps each request type to its source index in the network's model; `chain`
    is the chain source's index (None without a stream consumer)."""

    def __init__(
        self,
        env: simpy.Environment,
        *,
        table: SessionTable,
        journey: Journey,
        pool: ClientPool,
        chain: Any,
        rng: np.random.Generator,
        persist: Any = None,
        duration_s: float,
        origin_up: np.ndarray | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.env, self.table, self.journey, self.pool = env, table, journey, pool
        self.origin_up, self.tick_s = origin_up, tick_s
        self.kind = {name: i for i, name in enumerate(pool.names)}
        self.chain = chain  # emit(token) of the chain source, or None
        self.persist = persist  # emit() of the devices' metrics writes, or None
        self.rng = rng
        self.duration_s = duration_s
        self.out = Outcomes.empty(len(table))
        self.newest = 0.0  # when the newest batch on the leaderboard was sent

    def start(self) -> None:
        for row in range(len(self.table)):
            self.env.process(self.session(row))

    def settle(self, request: Request, ok: bool) -> None:
        """The network's answer to a rider's call or to a batch on the ingest chain."""
        token = request[4]
        if isinstance(token, float):
            if ok:
                now = self.env.now
                self.out.lag_born.append(token)
                self.out.lag_at.append(now)
                self.newest = max(self.newest, token)
                self.out.lag_s.append(
                    now - token + self.rng.random() * self.journey.telemetry_batch_s
                )
            return
        call = token[0]
        if ok and self.chain is not None and call.kind == self.kind.get("telemetry"):
            self.chain(float(call.first))  # through the stream: on to its consumer
        self.pool.settle(request, ok)

    # -- a session ---------------------------------------------------------------------------

    def session(self, row: int) -> Generator[simpy.Event, Any, None]:
        t = self.table
        if t.start_s[row] > self.env.now:
            yield self.env.timeout(t.start_s[row] - self.env.now)
        if not t.in_progress[row]:
            yield from self._call_and_wait("recommend")  # the app opens, then the rider joins
            if not (yield from self.join()):
                self.out.joined[row] = False
                return
            if not t.live[row]:
                self._send("playlist")
        self.out.play_from[row] = self.env.now
        played = yield from self.ride(_Player(row), float(t.end_s[row]))
        self.out.play_to[row] = self.env.now
        if played and t.save_s[row] > self.env.now:
            yield self.env.timeout(t.save_s[row] - self.env.now)
        if played and self.env.now < self.duration_s:
            yield from self._call_and_wait("workout")  # saved, then rated
            if self.rng.random() < self.journey.feedback_share:
                self._send("feedback")

    def _call_and_wait(self, name: str) -> Generator[simpy.Event, Any, None]:
        """Send a call and wait for its end (answered, or given up after its retries)."""
        kind = self.kind.get(name)
        if kind is None:  # an architecture may route no such type
            return
        done = self.env.event()

        def ended(_ok: bool, _took: float) -> None:
            done.succeed()

        self.pool.send(kind, ended)
        yield done

    def join(self) -> Generator[simpy.Event, Any, bool]:
        """Join (retried until the rider's patience runs out); True when joined."""
        if "join" not in self.kind:
            return True
        done = self.env.event()

        def joined_or_not(ok: bool, _took: float) -> None:
            done.succeed(ok)

        self.pool.send(self.kind["join"], joined_or_not)
        joined: bool = yield done
        return joined

    def ride(self, player: _Player, end: float) -> Generator[simpy.Event, Any, bool]:
        """The periodic calls until `end`; False when the stream was lost for good."""
        row, j = player.row, self.journey
        periods = {"segment": j.segment_s}
        if self.table.live[row]:
            periods["playlist"] = j.segment_s
        if self.table.telemetry[row]:
            periods["telemetry"] = j.telemetry_batch_s
        periods["leaderboard"] = (
            j.leaderboard_live_s if self.table.live[row] else j.leaderboard_od_s
        )
        if self.table.music[row]:
            periods["tempo"] = j.tempo_s
        now = self.env.now
        due = {name: now + p * self.rng.random() for name, p in periods.items()}
        if self.persist is not None and "telemetry" in due:
            # the processor writes the device's metrics every `persist_s`, at the phase of its
            # batches (uniform too, and no draw of its own: the riders' stream stays as it was)
            periods["persist"] = j.persist_s
            due["persist"] = now + (due["telemetry"] - now) / j.telemetry_batch_s * j.persist_s
        while True:
            name = min(due, key=due.__getitem__)
            if due[name] >= end:
                break
            yield self.env.timeout(due[name] - self.env.now)
            self._call(name, player)
            due[name] += periods[name]
            if player.reconnect:
                stalled = self.env.now
                joined = yield from self.join()
                # the player shows no video while the rider joins again, back or not
                self.out.stall_times.extend(np.arange(stalled, self.env.now, j.segment_s).tolist())
                if not joined:
                    self.out.lost[row] = True
                    return False
                self.out.reconnects[row] += 1
                player.misses, player.reconnect = 0, False
                due = {n: max(d, self.env.now) for n, d in due.items()}
        if end > self.env.now:
            yield self.env.timeout(end - self.env.now)
        return True

    def _send(self, name: str, on_result: Any = None) -> None:
        kind = self.kind.get(name)
        if kind is not None:  # an architecture may route no such type
            self.pool.send(kind, on_result)

    def _origin_down(self) -> bool:
        up = self.origin_up
        return up is not None and up[min(int(self.env.now / self.tick_s), len(up) - 1)] <= 0.0

    def _call(self, name: str, player: _Player) -> None:
        if name == "persist":  # the processor writes the device's metrics (no client call)
            self.persist()
            return
        if self.table.live[player.row] and name in ("segment", "playlist") and self._origin_down():
            # a live stream has no new segments without its origin: the edge answers an error
            if name == "segment":
                self.out.segments[player.row] += 1
                self._segment(player, self.env.now, False, 0.0)
            return
        if name == "segment":
            due = self.env.now
            self.out.segments[player.row] += 1
            self._send("segment", lambda ok, took: self._segment(player, due, ok, took))
        else:
            if name == "leaderboard" and self.chain is not None:
                self.out.polls[player.row] += 1
                self.out.stale_polls[player.row] += self.env.now - self.newest > STALE_LAG_S
            self._send(name)

    def _segment(self, player: _Player, due: float, ok: bool, took: float) -> None:
        if ok and took <= self.journey.segment_s:
            player.misses = 0
            return
        self.out.stalled[player.row] += 1
        self.out.stall_times.append(due)
        player.misses += 1
        if player.misses >= self.pool.policy.reconnect_after:
            player.reconnect = True
