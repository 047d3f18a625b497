"""The drill's rider: a Locust `FastHttpUser` riding sessions from the twin's workload.

Run through `twin drill` (which writes the plan and names it in `TWIN_DRILL_PLAN`):

    locust -f locustfiles/rider.py --headless --host http://127.0.0.1:8080

Importing this file also brings in `DrillShape`, so Locust follows the plan's user curve. Each
user takes the next rider of the plan's Faker-generated pool (disjoint between worker
processes) with its signed rider and device tokens, and rides sessions (`drill_journey.Rider`).
Every request also goes to Locust's own statistics under its request-type name, and to this
process's `drill_recorder.Recorder` (latency from the intended send time), which is written to
the plan's output folder every few seconds and when the test stops.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers beside this file

import gevent
from drill_journey import Playlists, Reply, Rider
from drill_plan import load_plan
from drill_recorder import Recorder, window_seconds
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner
from shape import DrillShape

__all__ = ["DrillShape", "RiderUser"]

PLAN = load_plan()
PLAYLISTS = Playlists()  # the master and VOD playlists this process's players have loaded
RECORDER = Recorder(PLAN.t0, window_s=window_seconds(PLAN.duration_s))
_FLUSH_S = 5.0
_state: dict[str, Any] = {"next_user": 0, "flusher": None}
# Riders whose user was stopped mid-session: a user spawned within PARK_S takes one over and
# resumes its session (the planned users wavered by one); one nobody takes over by then ended
# its session when its user stopped, and saves its workout.
PARKED: list[Rider] = []
PARK_S = 5.0  # longer than the plan's dither hold (twin.drill.plan.DITHER_HOLD_S = 3)


def _flush_forever() -> None:
    while True:
        gevent.sleep(_FLUSH_S)
        RECORDER.dump(PLAN.out_dir)


def _sample_users(runner: Any) -> None:
    """Note this process's users in the middle of every drill second, on the plan's clock.

    Locust's own history stamps whole epoch seconds at the phase its process started with, so
    a row can fall in the instant a shape tick is still spawning; the middle of each drill
    second is where the plan's users are meant to be running."""
    while True:
        k = math.floor(time.time() - PLAN.t0 - 0.5) + 1  # the next second whose middle is ahead
        if k >= PLAN.duration_s:
            return
        gevent.sleep(max(0.0, PLAN.t0 + k + 0.5 - time.time()))
        if k >= 0:
            RECORDER.note_users(k, int(runner.user_count))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kw: Any) -> None:
    if _state["flusher"] is None and environment.runner is not None:
        RECORDER.start_cpu()
        _state["flusher"] = gevent.spawn(_flush_forever)
        if not isinstance(environment.runner, MasterRunner):  # a master runs no users itself
            gevent.spawn(_sample_users, environment.runner)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kw: Any) -> None:
    if RECORDER.names:
        RECORDER.dump(PLAN.out_dir)


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kw: Any) -> None:
    if RECORDER.names:
        RECORDER.dump(PLAN.out_dir)


def _finish_parked(rider: Rider) -> None:
    """Save the workout of a parked session nobody resumed (its stopped user's client still
    works: the connection pool outlives the greenlet)."""
    if rider not in PARKED:
        return
    PARKED.remove(rider)
    if rider.current is not None and rider.tau() < PLAN.duration_s:
        rider.finish(rider.current)
    rider.current = None


def _pick_rider(environment: Any) -> tuple[int, dict[str, Any]]:
    """The next rider of this process; processes take interleaved, disjoint slices."""
    runner = environment.runner
    workers = max(1, int(os.environ.get("TWIN_DRILL_WORKERS", "1")))
    index = max(0, getattr(runner, "worker_index", 0))
    k = _state["next_user"]
    _state["next_user"] = k + 1
    slot = (index + k * workers) % len(PLAN.riders)
    return slot, PLAN.riders[slot]


class RiderUser(FastHttpUser):
    """One rider of the pool riding one session per task."""

    network_timeout = 30.0
    connection_timeout = 10.0
    max_retries = 0

    def wait_time(self) -> float:
        return 0.0

    def on_start(self) -> None:
        if PARKED:
            self.rider = PARKED.pop()
            self.rider.http, self.rider.reconnect = self._http, self._reconnect
            return
        slot, rider = _pick_rider(self.environment)
        rng = random.Random(PLAN.seed * 1_000_003 + slot * 7919 + os.getpid())
        self.rider = Rider(PLAN, rider, self._http, RECORDER, rng, gevent.sleep,
                           reconnect=self._reconnect, playlists=PLAYLISTS)  # fmt: skip

    def on_stop(self) -> None:
        rider = getattr(self, "rider", None)
        if rider is None or rider.interrupted() is None:
            return
        PARKED.append(rider)
        gevent.spawn_later(PARK_S, _finish_parked, rider)

    def _reconnect(self) -> None:
        """Close this user's connections: its next request connects anew."""
        self.client.client.close()

    def _http(
        self, method: str, url: str, name: str, headers: dict[str, str], body: Any,
        ok: tuple[int, ...],
    ) -> Reply:  # fmt: skip
        with self.client.request(
            method, url, name=name, headers=headers, json=body, catch_response=True
        ) as resp:
            status = resp.status_code or 0
            content = resp.content or b""
            if status in ok:
                resp.success()
                text = content.decode("utf-8", "replace") if name != "segment" else ""
                return Reply(status, text, len(content))
            error = str(resp.error) if resp.error and not status else f"HTTP {status}"
            resp.failure(error)
            return Reply(status, "", len(content), error)

    @task
    def ride(self) -> None:
        self.rider.session()
