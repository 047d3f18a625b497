"""Users for `benchmarks/bench_drill.py`: plain Locust against the drill's own request path.

Both hit one fast endpoint (`BENCH_PATH`, default `/healthz`) as fast as they can:

    PlainUser   a bare `FastHttpUser`: `self.client.get(path)`, nothing else
    DrillUser   the drill's rider (`rider.RiderUser`): every request goes through
                `drill_journey.Rider.send` (intended-time bookkeeping, bearer token,
                `catch_response`) and into this process's HdrHistogram `Recorder`

so the requests per second of the two, in the same run, are what the drill's bookkeeping
costs. Importing `rider` needs a plan (`TWIN_DRILL_PLAN`); the benchmark writes one. Only the
module is imported, so neither `RiderUser` nor the drill's load shape is picked up here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import rider  # the drill's user and its plan (TWIN_DRILL_PLAN)
from locust import task
from locust.contrib.fasthttp import FastHttpUser

__all__ = ["DrillUser", "PlainUser"]

PATH = os.environ.get("BENCH_PATH", "/healthz")


class PlainUser(FastHttpUser):
    """Plain Locust: one GET after another."""

    def wait_time(self) -> float:
        return 0.0

    @task
    def probe(self) -> None:
        self.client.get(PATH, name="probe")


class DrillUser(FastHttpUser):
    """The drill's rider (`rider.RiderUser`'s set-up and HTTP path) sending the same GET."""

    network_timeout = rider.RiderUser.network_timeout
    connection_timeout = rider.RiderUser.connection_timeout
    max_retries = rider.RiderUser.max_retries
    wait_time = rider.RiderUser.wait_time
    on_start = rider.RiderUser.on_start
    _http = rider.RiderUser._http
    _reconnect = rider.RiderUser._reconnect

    @task
    def probe(self) -> None:
        self.rider.send("probe", "GET", PATH, self.rider.headers("rider"), None, (200,))
