"""The drill's rider: a Locust `FastHttpUser` riding sessions from the twin's workload.

Run through `twin drill` (which writes the plan and names it in `TWIN_DRILL_PLAN`):

    locust -f locustfiles/rider.py --headless --host http://127.0.0.1:8080

Importing this file also brings in `DrillShape`, so Locust follows the plan's user curve. Each
user takes the next rider of the plan's Faker-generated pool (disjoint between worker
processes) with its signed rider and device tokens, and rides sessions (`drill_journey.Rider`).
Every request also goes to Locust's own statistics under its request-type name, and to this
process's `drill_recorder.Recorder` (latency from the intended send time), which is written to
the plan's output folder every few seconds and when the test stops.

A worker on another machine (`twin drill-worker --master-host HOST`: no `TWIN_DRILL_PLAN`)
has neither the plan nor the output folder. It asks the master for the plan over Locust's own
channel (`twin_plan_request`; the master answers `twin_plan` with the plan's JSON and the
number of workers) and sends its records back inside Locust's periodic worker reports
(`twin_records`), which the master writes to the output folder as `rec-<worker>.json`: the
master's `twin drill` then merges every worker's histograms as it merges local ones. A plan
of another wire format (a worker from another checkout) ends the worker with one line and
exit code 2.
"""

from __future__ import annotations

import json
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
from drill_plan import ENV_PLAN, Plan, load_plan
from drill_recorder import Recorder, window_seconds
from gevent.event import Event
from locust import events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.runners import MasterRunner, WorkerRunner
from shape import DrillShape

from twin.drill.request_log import REQUEST_LOG_ENV
from twin.drill.wire import CA_CERT_ENV, PARK_S, RECORD_GLOB, RecordFile
from twin.errors import InputError

__all__ = ["DrillShape", "RiderUser"]

PLAYLISTS = Playlists()  # the master and VOD playlists this process's players have loaded
_FLUSH_S = 5.0
_PLAN_WAIT_S = 60.0  # a remote worker's users wait this long for the master's plan
_FINAL_WAIT_S = 15.0  # how long a master waits for its remote workers' final records
_state: dict[str, Any] = {"next_user": 0, "flusher": None, "workers": None, "remote": False,
                          "planned": set(), "final": set()}  # fmt: skip


class _Drill:
    """This process's plan and recorder: from `TWIN_DRILL_PLAN` at import, or, on a remote
    worker, from the master's `twin_plan` message (`ready` is set once it has come)."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.recorder: Recorder | None = None
        self.ready = Event()

    def adopt(self, plan: Plan) -> None:
        self.plan = plan
        self.recorder = Recorder(plan.t0, window_s=window_seconds(plan.duration_s),
                                 log=os.environ.get(REQUEST_LOG_ENV) == "1")  # fmt: skip
        self.ready.set()


DRILL = _Drill()
if os.environ.get(ENV_PLAN):
    DRILL.adopt(load_plan())
# Riders whose user was stopped mid-session: a user spawned within PARK_S takes one over and
# resumes its session (the planned users wavered by one); one nobody takes over by then ended
# its session when its user stopped, and saves its workout.
PARKED: list[Rider] = []


def _plan() -> Plan:
    assert DRILL.plan is not None, "no plan yet"
    return DRILL.plan


def _recorder() -> Recorder:
    assert DRILL.recorder is not None, "no plan yet"
    return DRILL.recorder


def _dump() -> None:
    """Write this process's records (a remote worker's travel in its reports instead)."""
    if DRILL.recorder is not None and DRILL.recorder.names and not _state["remote"]:
        DRILL.recorder.dump(_plan().out_dir)


def _flush_forever() -> None:
    while True:
        gevent.sleep(_FLUSH_S)
        _dump()


def _sample_users(runner: Any) -> None:
    """Note this process's users in the middle of every drill second, on the plan's clock.

    Locust's own history stamps whole epoch seconds at the phase its process started with, so
    a row can fall in the instant a shape tick is still spawning; the middle of each drill
    second is where the plan's users are meant to be running."""
    DRILL.ready.wait()
    plan = _plan()
    while True:
        k = math.floor(time.time() - plan.t0 - 0.5) + 1  # the next second whose middle is ahead
        if k >= plan.duration_s:
            return
        gevent.sleep(max(0.0, plan.t0 + k + 0.5 - time.time()))
        if k >= 0:
            _recorder().note_users(k, int(runner.user_count))


@events.test_start.add_listener
def _on_test_start(environment: Any, **_kw: Any) -> None:
    if _state["flusher"] is None and environment.runner is not None:
        if DRILL.recorder is not None:
            DRILL.recorder.start_cpu()
        _state["flusher"] = gevent.spawn(_flush_forever)
        if not isinstance(environment.runner, MasterRunner):  # a master runs no users itself
            gevent.spawn(_sample_users, environment.runner)


@events.test_stop.add_listener
def _on_test_stop(environment: Any, **_kw: Any) -> None:
    _dump()
    if isinstance(environment.runner, MasterRunner):
        _stop_workers(environment.runner)
        _await_final_records()
    if _state["remote"] and DRILL.recorder is not None and DRILL.recorder.names:
        # Locust reports a stopped worker's statistics only when it quits, by when the master
        # may be gone: the final records go at once, ahead of the worker's `client_stopped`
        environment.runner.send_message("twin_records", DRILL.recorder.snapshot().to_json())


@events.quitting.add_listener
def _on_quitting(environment: Any, **_kw: Any) -> None:
    _dump()


# -- distributed over machines: the plan and the records on Locust's own messages ----------


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        runner.register_message("twin_plan_request", _send_plan(runner))
        runner.register_message("twin_records", _final_records)
        runner.register_message("twin_refused", _forget_worker)
        environment.events.worker_report.add_listener(_write_worker_records)
    elif isinstance(runner, WorkerRunner) and DRILL.plan is None:
        _state["remote"] = True
        runner.register_message("twin_plan", _take_plan(environment))  # before asking for it
        runner.register_message("twin_stop", lambda *_a, **_k: gevent.spawn(runner.stop))
        environment.events.report_to_master.add_listener(_report_records)
        runner.send_message("twin_plan_request")


def _send_plan(runner: Any) -> Any:
    def answer(environment: Any, msg: Any, **_kw: Any) -> None:
        if DRILL.plan is None:
            return
        workers = int(os.environ.get("TWIN_DRILL_WORKERS", "1"))
        runner.send_message("twin_plan", {"plan": DRILL.plan.to_json(), "workers": workers},
                            client_id=msg.node_id)  # fmt: skip
        _state["planned"].add(msg.node_id)

    return answer


def _take_plan(env: Any) -> Any:
    def take(environment: Any, msg: Any, **_kw: Any) -> None:
        source = f"the plan from master {env.runner.master_host}"
        try:
            plan = Plan.from_json(msg.data["plan"], source)
        except InputError as exc:
            print(f"twin drill-worker: {exc}", file=sys.stderr, flush=True)
            _refuse(env, str(exc))
            return
        _state["workers"] = int(msg.data.get("workers") or 1)
        DRILL.adopt(plan)
        DRILL.recorder.start_cpu()  # type: ignore[union-attr]

    return take


def _refuse(env: Any, why: str) -> None:
    """End this worker (exit code 2) after telling the master to forget it. Not Locust's
    `quit`: a master whose only worker quits stops the test, and in headless mode its main
    loop then waits for `--expect-workers` forever."""
    env.process_exit_code = 2
    env.runner.send_message("twin_refused", why)
    gevent.sleep(0.5)  # the message on its way before the channel closes
    env.runner.stop()
    env.runner.greenlet.kill(block=True)


def _forget_worker(environment: Any, msg: Any, **_kw: Any) -> None:
    """The master drops a worker that refused the plan, as Locust drops one that quits (but
    without stopping the test when it was the only one): it never counts as ready again."""
    runner = environment.runner
    print(f"twin drill: a worker was refused: {msg.data}", file=sys.stderr, flush=True)
    if msg.node_id in runner.clients:
        client = runner.clients[msg.node_id]
        del runner.clients[msg.node_id]
        dispatcher = runner._users_dispatcher  # Locust's own quit handling does the same
        if dispatcher is not None:
            dispatcher.remove_worker(client)


def _report_records(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    """A remote worker's records, as of now, in its report to the master."""
    if DRILL.recorder is not None and DRILL.recorder.names:
        data["twin_records"] = DRILL.recorder.snapshot().to_json()


def _final_records(environment: Any, msg: Any, **_kw: Any) -> None:
    _write_worker_records(msg.node_id, {"twin_records": msg.data})
    _state["final"].add(msg.node_id)


def _stop_workers(runner: MasterRunner) -> None:
    """Tell every worker to stop its users now. Headless, Locust's master ends a shape by
    `quit`, which stops without telling the workers to stop (`stop(send_stop_to_client=False)`)
    and tells them to quit only after this event: until then they ride on past the plan's end
    (a 40 s drill measured 14 s more of requests), and send their final records only when
    they stop. Not Locust's `stop` message: a worker answers it by leaving the master's
    clients and joining again, and a `quit` sent in between never reaches it (it then waits a
    minute for the master's heartbeat)."""
    runner.send_message("twin_stop")


def _await_final_records() -> None:
    """Hold the master's stop until each worker it sent the plan to has sent its final
    records (Locust's master quits half a second after its own stop)."""
    deadline = time.monotonic() + _FINAL_WAIT_S
    while _state["planned"] - _state["final"] and time.monotonic() < deadline:
        gevent.sleep(0.2)


def _write_worker_records(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    """The master keeps each remote worker's latest records where the drill reads them."""
    doc = data.get("twin_records")
    if doc is None or DRILL.plan is None:
        return
    try:
        RecordFile.from_json(doc, f"the records of worker {client_id}")
    except InputError as exc:
        print(f"twin drill: {exc}", file=sys.stderr, flush=True)
        return
    folder = Path(DRILL.plan.out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    name = "".join(c if c.isalnum() else "-" for c in client_id)
    path = folder / RECORD_GLOB.replace("*", f"worker-{name}")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    tmp.replace(path)


def _finish_parked(rider: Rider) -> None:
    """Save the workout of a parked session nobody resumed (its stopped user's client still
    works: the connection pool outlives the greenlet)."""
    if rider not in PARKED:
        return
    PARKED.remove(rider)
    if rider.current is not None and rider.tau() < _plan().duration_s:
        rider.finish(rider.current)
    rider.current = None


def _pick_rider(environment: Any) -> tuple[int, dict[str, Any]]:
    """The next rider of this process; processes take interleaved, disjoint slices."""
    runner = environment.runner
    workers = max(1, int(_state["workers"] or os.environ.get("TWIN_DRILL_WORKERS", "1")))
    index = max(0, getattr(runner, "worker_index", 0))
    k = _state["next_user"]
    _state["next_user"] = k + 1
    riders = _plan().riders
    slot = (index + k * workers) % len(riders)
    return slot, riders[slot]


def _tls_context() -> Any:
    """An https:// host's certificate is checked: against `twin drill --ca-cert`, else the
    system's CAs (Locust's default, `insecure`, would check nothing)."""
    return gevent.ssl.create_default_context(cafile=os.environ.get(CA_CERT_ENV) or None)


class RiderUser(FastHttpUser):
    """One rider of the pool riding one session per task."""

    network_timeout = 30.0
    connection_timeout = 10.0
    max_retries = 0
    insecure = False
    ssl_context_factory = staticmethod(_tls_context)

    def wait_time(self) -> float:
        return 0.0

    def on_start(self) -> None:
        if PARKED:
            self.rider = PARKED.pop()
            self.rider.http, self.rider.reconnect = self._http, self._reconnect
            return
        if not DRILL.ready.wait(_PLAN_WAIT_S):
            raise RuntimeError("no plan came from the master")
        slot, rider = _pick_rider(self.environment)
        plan = _plan()
        rng = random.Random(plan.seed * 1_000_003 + slot * 7919 + os.getpid())
        self.rider = Rider(plan, rider, self._http, _recorder(), rng, gevent.sleep,
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
