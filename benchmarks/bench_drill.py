"""Benchmark: requests/s of one drill load process against plain Locust, and worker scaling.

A tiny aiohttp server (started here, in its own process, `GET /healthz` -> "ok") is the fixed
fast endpoint. Against it, in the same run, each for `--seconds`:

    plain        Locust `FastHttpUser`, one process, `self.client.get("/healthz")`
    drill        one drill worker process: the drill's `RiderUser`, every request through
                 `Rider.send` and the HdrHistogram recorder (locustfiles/bench_users.py)
    drill x N    the drill users in Locust's master/worker mode with N worker processes

The figure of merit is drill / plain (target >= 0.8). On a 2-core machine the server, the
load processes and the master share the cores, so scaling past one worker is bounded by the
machine: the benchmark prints the cores it had.

    python benchmarks/bench_drill.py [--seconds S] [--users U] [--workers 1 2] [--json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from twin.drill.profile import load_profile
from twin.drill.wire import Plan

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = ROOT / "locustfiles" / "bench_users.py"
TARGET_RATIO = 0.8
MISSED = 3  # exit code: ran, and missed its target (benchmarks/run_all.py)
SERVER = """
import sys
from aiohttp import web
async def healthz(request):
    return web.Response(text="ok")
app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server() -> Any:
    """The fixed endpoint: an aiohttp process answering /healthz; yields its URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def write_plan(folder: Path, seconds: float) -> Path:
    """A minimal drill plan: what importing the drill's rider needs (one rider, no shape)."""
    plan = Plan(
        t0=time.time(), duration_s=int(seconds) + 60, speedup=1.0, users=(1,), spawn_rate=1.0,
        live_start_share=(0.0,), active_live_share=(0.0,), scenario_live=(), live_joins=((),),
        od_lengths=(), target_live=(), on_demand={"od-0": 600.0}, out_dir=str(folder / "load"),
        seed=0, riders=({"rider_id": "rider-0", "device_id": "app-0", "device": "app",
                         "rendition": 0, "rider_token": "bench", "device_token": "bench"},),
        segment_s=4.0, telemetry_batch_s=5.0, leaderboard_live_s=5.0, leaderboard_od_s=10.0,
        feedback_share=0.0, profile=load_profile()[0].to_wire(),
    )  # fmt: skip
    path = folder / "plan.json"
    path.write_text(json.dumps(plan.to_json()), encoding="utf-8")
    return path


def _locust(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--loglevel", "ERROR", *args]


def run_locust(url: str, user: str, users: int, seconds: float, workers: int, folder: Path,
               plan: Path) -> float:  # fmt: skip
    """Requests/s of one Locust run (Locust's own `Aggregated` figure)."""
    prefix = folder / f"{user}-{workers}"
    head = ["--headless", "--host", url, "-u", str(users), "-r", str(users * 10),
            "-t", f"{seconds:g}s", "--csv", str(prefix), "--only-summary", user]  # fmt: skip
    env = {**os.environ, "TWIN_DRILL_PLAN": str(plan), "TWIN_DRILL_WORKERS": str(workers)}
    procs = []
    if workers <= 0:
        cmds = [_locust(head)]
    else:
        port = str(free_port())
        master = _locust([*head, "--master", "--expect-workers", str(workers),
                          "--master-bind-port", port])  # fmt: skip
        worker = _locust(["--worker", "--master-port", port, user])
        cmds = [master] + [worker] * workers
    try:
        for cmd in cmds:
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))  # fmt: skip
        procs[0].wait(seconds + 120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(10)
    return _requests_per_s(Path(f"{prefix}_stats.csv"))


def _requests_per_s(path: Path) -> float:
    with path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"cores": os.cpu_count(), "seconds": args.seconds,
                               "users": args.users}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-drill-") as tmp, server() as url:
        folder = Path(tmp)
        plan = write_plan(folder, args.seconds)
        run = lambda user, workers: run_locust(url, user, args.users, args.seconds,  # noqa: E731
                                               workers, folder, plan)  # fmt: skip
        figures["plain_rps"] = run("PlainUser", 0)
        figures["drill_rps"] = run("DrillUser", 0)
        figures["ratio"] = round(figures["drill_rps"] / max(figures["plain_rps"], 1e-9), 3)
        figures["workers"] = {str(n): run("DrillUser", n) for n in args.workers}
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"cores: {figures['cores']}; {args.users} users, {args.seconds:g} s per run")
    print(f"plain FastHttpUser, 1 process : {figures['plain_rps']:>9.0f} requests/s")
    print(f"drill RiderUser,    1 process : {figures['drill_rps']:>9.0f} requests/s")
    verdict = "met" if figures["ratio"] >= TARGET_RATIO else "NOT met"
    print(f"drill / plain                 : {figures['ratio']:>9.2f}  (target >= "
          f"{TARGET_RATIO}: {verdict})")  # fmt: skip
    one = figures["workers"].get("1")
    for n, rps in figures["workers"].items():
        scale = f"  ({rps / one:.2f}x of 1 worker)" if one else ""
        print(f"drill, master + {n} worker(s)  : {rps:>9.0f} requests/s{scale}")
    return 0 if figures["ratio"] >= TARGET_RATIO else MISSED


if __name__ == "__main__":
    sys.exit(main())
