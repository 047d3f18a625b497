"""Load from several machines on Locust's own protocol: a master and remote workers.

`twin drill --master --expect-workers 2` and two `twin drill-worker --master-host` run as
separate processes on loopback, as they would on three machines: no worker has the plan file
or the output folder. The workers get the plan over Locust's messages and send their records
back the same way; the master merges them. A worker from another checkout (its wire format
is another version) and an unreachable master are one line and exit code 2.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from twin.drill.wire import FORMAT, RECORD_GLOB, read_records

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _twin(*args: str, pythonpath: Path = ROOT, **kw: Any) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    env.pop("TWIN_DRILL_PLAN", None)
    return subprocess.Popen([sys.executable, "-m", "twin.cli.app", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)  # fmt: skip


def _listening(port: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.3)
    return False


def _other_checkout(folder: Path) -> Path:
    """A copy of this checkout whose wire format is one version ahead."""
    for part in ("twin", "locustfiles"):
        shutil.copytree(ROOT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
    wire = folder / "twin" / "drill" / "wire.py"
    text = wire.read_text()
    wire.write_text(text.replace(f"FORMAT = {FORMAT} ", f"FORMAT = {FORMAT + 1} ", 1))
    return folder


@pytest.fixture(scope="module")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("distributed")
    port, out = _free_port(), tmp / "drill"
    master = _twin("drill", "daily-peak", "--target", "local", "--scale", "3e-4",
                   "--speedup", "180", "--duration", "10", "--master", "--expect-workers", "2",
                   "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port),
                   "--out", str(out))  # fmt: skip
    procs = [master]
    try:
        assert _listening(port, 120), "the master never listened"
        # first a worker from another checkout: refused in one line, the drill unharmed
        checkout = _other_checkout(tmp / "other")  # run from there: `-m` puts the cwd first
        other = _twin("drill-worker", "--master-host", "127.0.0.1", "--master-port", str(port),
                      pythonpath=checkout, cwd=checkout)  # fmt: skip
        procs.append(other)
        stale = {"code": other.wait(60), "err": other.communicate()[1]}
        reach = ["--master-host", "127.0.0.1", "--master-port", str(port)]
        workers = [_twin("drill-worker", *reach, "--log", str(tmp / f"worker-{i}.log"))
                   for i in range(2)]  # fmt: skip
        procs += workers
        _, master_err = master.communicate(timeout=300)
        codes = [(w.communicate(timeout=60), w.returncode)[1] for w in workers]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
            proc.communicate(timeout=20)  # closes its pipes
    assert master.returncode == 0, master_err
    return {"out": out, "codes": codes, "stale": stale,
            "summary": json.loads((out / "summary.json").read_text())}  # fmt: skip


def test_two_remote_workers_make_the_load_and_the_master_merges_it(distributed):
    assert distributed["codes"] == [0, 0]
    files = sorted((distributed["out"] / "load").glob(RECORD_GLOB))
    assert len(files) == 2 and all("worker-" in f.name for f in files)
    records = [read_records(f) for f in files]
    per_worker = [sum(t.count for t in r.names.values()) for r in records]
    assert all(n > 50 for n in per_worker)  # both carried a share of ~20 riders
    drill = distributed["summary"]["drill"]
    # the merged counts are the sum of the workers', and Locust's own master saw as many
    assert drill["requests_total"] == sum(per_worker) == drill["locust"]["Aggregated"]["count"]
    assert drill["load_processes"] == 2 and drill["workers"] == 2
    # each worker's share, as the report's "Load generation" table shows it
    shares = drill["load_shares"]
    assert sorted(s["requests"] for s in shares) == sorted(per_worker)
    assert all(s["process"].startswith("rec-worker-") and s["cpu_s"] > 0 for s in shares)
    for name, block in distributed["summary"]["requests"].items():
        assert block["count"] == sum(r.names[name].count for r in records if name in r.names)
    # every second of the plan was ridden, by both workers (their final records came)
    assert all(max(r.users) == drill["duration_s"] - 1 for r in records)
    assert drill["tracking"]["riders_error_max"] < 0.1


def test_a_worker_from_another_checkout_is_one_line_and_exit_2(distributed):
    stale = distributed["stale"]
    assert stale["code"] == 2
    lines = stale["err"].strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stale["err"]
    assert lines[0].startswith("twin: the plan from master 127.0.0.1: format: version ")
    assert f"this twin reads version {FORMAT + 1}" in lines[0]


def test_an_unreachable_master_is_one_line_naming_the_host():
    port = _free_port()
    proc = _twin("drill-worker", "--master-host", "127.0.0.1", "--master-port", str(port))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and out == ""
    assert err == f"twin: cannot reach the drill's master at 127.0.0.1:{port}: Connection refused\n"


def test_a_request_log_is_refused_with_remote_workers(tmp_path, capsys):
    from twin.cli.app import main

    out = tmp_path / "x"
    code = main(["drill", "daily-peak", "--host", "http://127.0.0.1:9", "--master",
                 "--expect-workers", "2", "--request-log", "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err == ("twin: --request-log: not with --master: remote workers keep no log on this "
                   "machine\n")  # fmt: skip
    assert not out.exists()  # refused before anything is written
