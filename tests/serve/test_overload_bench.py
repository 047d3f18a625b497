"""The overload benchmark's own parts: its load generator against a real server, its verdict.

`benchmarks/fixed_pool.py` drives a real `twin serve` (in a thread, embedded backend) at a low
rate: every request must come back 202 and every sample it says was acknowledged must be
stored (the server's own count, read back over HTTP). `bench_overload.verdict` must judge a
valid run, and refuse to judge one whose load generator fell behind or whose store stalled
before any overload, whatever its figures.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.serve.helpers import Client, ThreadServer, settings_for

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_overload  # noqa: E402
import bench_serve  # noqa: E402
import fixed_pool  # noqa: E402


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from tests.serve.helpers import SECRET

    monkeypatch.setattr(bench_serve, "SECRET", SECRET)  # the bench's tokens, the test's secret
    settings = settings_for(tmp_path, "embedded", None, rate_per_s=1e9, burst=1e9,
                            device_samples_per_s=1e9, device_burst=1e9)
    running = ThreadServer(settings).start()
    yield running
    running.stop()


def test_the_fixed_pool_is_acknowledged_what_the_server_stored(server: Any) -> None:
    class_id = bench_serve.first_class(server.url)
    posters = [bench_serve.Poster(class_id) for _ in range(4)]
    run = asyncio.run(fixed_pool.drive(server.url, posters, rate=100.0, count=120, connections=8))
    assert run.statuses == {202: 120} and len(run.latencies) == 120 == len(run.parts)
    client = Client(server.url)
    for poster in posters:
        token = client.token("device", poster.device)
        stored = client.get(f"/v1/devices/{poster.device}/samples", token=token).json()
        assert poster.acknowledged == stored["count"] == 30 * bench_serve.BATCH
    assert all(set(p) == {"pool", "late", "connect", "rest", "new"} for p in run.parts)
    assert not any(p["new"] for p in run.parts)  # its 8 connections were opened before the run


def _result(late_ms: float = 2.0, cpu: float = 0.2, closed_ms: float = 40.0,
            commit_ms: float = 50.0, p99_ms: float = 100.0) -> dict[str, Any]:  # fmt: skip
    """A run's figures as `bench_overload.measure` gives them, 2x at 100 % goodput."""
    two = {"p99_ms": p99_ms, "goodput_per_s": 1000.0,
           "client": {"late": {"p99_ms": late_ms}, "cpu": cpu}}  # fmt: skip
    return {"sustainable_per_s": 1000.0, "closed_p99_ms": closed_ms, "runs": {"2x": two},
            "probes": {"90%": {"commit_p99_ms": commit_ms}},
            "data": {"lost": 0}}  # fmt: skip


@pytest.mark.parametrize(
    ("figures", "outcome"),
    [
        ({}, "met"),
        ({"p99_ms": 300.0}, "missed"),
        ({"p99_ms": 300.0, "late_ms": 40.0}, "not judged"),  # the client fell behind
        ({"late_ms": 40.0}, "not judged"),  # ... met or not: it offered less than asked
        ({"p99_ms": 300.0, "cpu": 0.95}, "not judged"),
        ({"p99_ms": 300.0, "closed_ms": 900.0}, "not judged"),  # stalled before overload
        ({"p99_ms": 300.0, "commit_ms": 500.0}, "not judged"),
    ],
)
def test_the_verdict_judges_only_a_valid_run(figures: dict[str, float], outcome: str) -> None:
    assert bench_overload.verdict("redis", _result(**figures)) == outcome


def test_a_loss_is_a_miss_on_any_run() -> None:
    result = _result(late_ms=40.0)
    result["data"]["lost"] = 1
    assert bench_overload.verdict("redis", result) == "missed"
