"""What the server (and its Redis) say about one run of `bench_overload.py`.

Read from `twin serve`'s `/metrics` before and after a run: its own latency histogram of the
accepted telemetry requests (`twin_http_request_duration_seconds`, from the handler's start:
the time a request waited in the kernel or for the server's event loop before that is not in
it), each request's wait for Redis' group commit (`twin_commit_wait_seconds`: Redis' write and,
with `appendfsync always`, its fsync), the process's CPU seconds; and Redis' own CPU seconds
(`INFO cpu`); and how long each waited for a CPU (`twin.drill.schedstat`: a busy machine
starves them without their CPU seconds saying so). Quantiles from histograms are bucket
bounds ("at most").
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from twin.drill.schedstat import cpu_pressure_s, run_delay_s

NO_REDIS = {"redis_cpu": 0.0, "redis_wait": 0.0, "aof_rewrites": 0, "aof_rewriting": 0}


def backlog(base: str) -> float:
    """Samples ingested and not yet on a leaderboard (every shard), from `/metrics`."""
    import requests

    text = requests.get(f"{base}/metrics", timeout=30).text
    return sum(
        float(x.split()[-1]) for x in text.splitlines() if x.startswith("twin_ingest_backlog{")
    )


def settle(base: str, timeout_s: float = 120.0) -> None:
    """Wait for the stream processor to catch up: each phase starts from an empty backlog."""
    deadline = time.monotonic() + timeout_s
    while backlog(base) > 0 and time.monotonic() < deadline:
        time.sleep(0.25)


def snapshot(base: str, redis_url: str | None) -> dict[str, Any]:
    """The server's telemetry histograms ({"latency", "commit"}: {upper bound s: count}), its
    CPU seconds and Redis' (0 without Redis), and the wall clock."""
    import requests

    text = requests.get(f"{base}/metrics", timeout=30).text
    out: dict[str, Any] = {"latency": {}, "commit": {}, "wall": time.perf_counter()}
    for line in text.splitlines():
        if line.startswith("twin_http_request_duration_seconds_bucket{") and (
            'route="telemetry"' in line and 'status="202"' in line
        ):
            out["latency"][_bound(line)] = float(line.split()[-1])
        elif line.startswith("twin_commit_wait_seconds_bucket{") and 'route="telemetry"' in line:
            out["commit"][_bound(line)] = float(line.split()[-1])
        elif line.startswith("process_cpu_seconds_total "):
            out["cpu"] = float(line.split()[-1])
    pid = int(requests.get(f"{base}/healthz", timeout=30).json()["pid"])
    out["server_wait"] = run_delay_s(pid) or 0.0
    out["cpu_pressure"] = cpu_pressure_s() or 0.0
    out |= tcp_counters()
    out |= redis_info(redis_url) if redis_url else NO_REDIS
    return out


def tcp_counters(path: Path = Path("/proc/net/netstat")) -> dict[str, float]:
    """The machine's count of connections dropped from a full listen queue and of SYNs sent
    again (a dropped handshake is retried after 1 s, then 3 s); zeros where unreadable."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {"listen_overflows": 0.0, "syn_retrans": 0.0}
    heads, values = lines[0].split(), lines[1].split()  # the TcpExt: pair comes first
    ext = dict(zip(heads, values, strict=True))
    return {"listen_overflows": float(ext.get("ListenOverflows", 0)),
            "syn_retrans": float(ext.get("TCPSynRetrans", 0))}  # fmt: skip


def redis_info(url: str) -> dict[str, float]:
    """Redis' CPU seconds (user + system, all its threads), its seconds runnable but waiting
    for a CPU, and how many AOF rewrites it began
    (each forks a child that writes the whole data set: disk and CPU taken from the fsyncs)."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        cpu, aof = client.info("cpu"), client.info("persistence")
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return {"redis_cpu": float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"]),
            "redis_wait": run_delay_s(pid) or 0.0,
            "aof_rewrites": int(aof.get("aof_rewrites", 0)),
            "aof_rewriting": int(aof.get("aof_rewrite_in_progress", 0))}  # fmt: skip


def figures(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    """The run's server-side figures between two snapshots."""
    wall = after["wall"] - before["wall"]
    lat, commit = (before["latency"], after["latency"]), (before["commit"], after["commit"])
    return {
        "server_p99_ms": quantile_ms(*lat, 0.99),
        "server_p50_ms": quantile_ms(*lat, 0.5),
        "commit_p50_ms": quantile_ms(*commit, 0.5),
        "commit_p99_ms": quantile_ms(*commit, 0.99),
        "server_cpu": (after["cpu"] - before["cpu"]) / wall,
        "redis_cpu": (after["redis_cpu"] - before["redis_cpu"]) / wall,
        # seconds runnable but waiting for a CPU, per second: the server's, Redis', and the
        # machine's (PSI: some task waited)
        "server_wait": (after["server_wait"] - before["server_wait"]) / wall,
        "redis_wait": (after["redis_wait"] - before["redis_wait"]) / wall,
        "cpu_pressure": (after["cpu_pressure"] - before["cpu_pressure"]) / wall,
        # machine-wide, so other processes' count too
        "listen_overflows": after["listen_overflows"] - before["listen_overflows"],
        "syn_retrans": after["syn_retrans"] - before["syn_retrans"],
        # rewrites that ended in the run, and the one still going at its end
        "aof_rewrites": after["aof_rewrites"] - before["aof_rewrites"] + after["aof_rewriting"],
    }


def _bound(line: str) -> float:
    return float(line.split('le="')[1].split('"')[0])


def quantile_ms(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The bucket bound under which a share `q` of the run's observations fell (server side)."""
    counts = {k: after[k] - before.get(k, 0.0) for k in sorted(after)}
    total = counts.get(float("inf"), 0.0)
    for bound, count in counts.items():
        if total and count >= q * total:
            return 1000 * bound
    return float("nan")
