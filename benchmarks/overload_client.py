"""Where an open-loop request's time goes on the client side (for `bench_overload.py`).

A request's latency is taken from its scheduled time (no coordinated omission). It splits into:

    late      the load generator's own lateness: when the coroutine actually began the request
              minus when it was due (an event loop busy elsewhere starts it late)
    pool      waiting for a connection from aiohttp's pool (`on_connection_queued_*`)
    connect   opening a new TCP connection (`on_connection_create_*`)
    rest      from there to the whole answer read: the server, the network, and the client's
              loop reading the answer; apart for the requests that opened a new connection
              (its handshake is the kernel's; the server then has to `accept()` it from its
              listen queue, which a busy event loop does late: in `rest`, not in `connect`)

plus, per run, the event loop's lag (a ticker asks to wake every `LAG_TICK_S` and records how
late it woke: the load generator's own saturation as it happens) and this process's CPU share.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

PARTS = ("late", "pool", "connect", "rest")
LAG_TICK_S = 0.005


def trace_config() -> Any:
    """An aiohttp `TraceConfig` writing each request's moments into its `trace_request_ctx`
    (a dict the caller passes per request)."""
    import aiohttp

    config = aiohttp.TraceConfig()

    def mark(name: str) -> Any:
        async def on(_session: Any, context: Any, _params: Any) -> None:
            context.trace_request_ctx[name] = time.perf_counter()

        return on

    config.on_connection_queued_start.append(mark("queued_start"))
    config.on_connection_queued_end.append(mark("queued_end"))
    config.on_connection_create_start.append(mark("create_start"))
    config.on_connection_create_end.append(mark("create_end"))
    return config


def split(times: dict[str, float]) -> dict[str, float]:
    """One request's parts in seconds, from its moments: due, started, [queued_*], [create_*],
    done."""
    pool = times.get("queued_end", 0.0) - times.get("queued_start", 0.0)
    connect = times.get("create_end", 0.0) - times.get("create_start", 0.0)
    total = times["done"] - times["started"]
    return {"late": max(0.0, times["started"] - times["due"]), "pool": pool,
            "connect": connect, "rest": max(0.0, total - pool - connect),
            "new": float("create_start" in times)}  # fmt: skip


class LoopLag:
    """How late the event loop wakes a ticker that asks for every `LAG_TICK_S`: its lag."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            asked = time.perf_counter() + LAG_TICK_S
            await asyncio.sleep(LAG_TICK_S)
            self.lags.append(max(0.0, time.perf_counter() - asked))

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._task:
            self._task.cancel()


class CpuShare:
    """This process's CPU seconds per wall second over a `with` block."""

    def __enter__(self) -> CpuShare:
        self._cpu, self._wall = time.process_time(), time.perf_counter()
        self.share = 0.0
        return self

    def __exit__(self, *_exc: object) -> None:
        wall = time.perf_counter() - self._wall
        self.share = (time.process_time() - self._cpu) / wall if wall else 0.0


def summarise(parts: list[dict[str, float]], lag: LoopLag, cpu: CpuShare) -> dict[str, Any]:
    """Each part's p50/p99 (ms) over every answered request, the loop's lag, the CPU share."""
    from bench_serve import _percentiles

    out: dict[str, Any] = {}
    for name in PARTS:
        p = _percentiles([x[name] for x in parts] or [0.0])
        out[name] = {"p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"]}
    for kind, new in (("rest_new", 1.0), ("rest_reused", 0.0)):  # on a new connection or not
        rests = [x["rest"] for x in parts if x.get("new", 0.0) == new]
        p = _percentiles(rests or [0.0])
        out[kind] = {"p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"], "requests": len(rests)}
    p = _percentiles(lag.lags or [0.0])
    out["loop_lag"] = {"p50_ms": p["p50_ms"], "p99_ms": p["p99_ms"]}
    out["cpu"] = cpu.share
    return out
