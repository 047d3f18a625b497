"""An open-loop load generator on a fixed pool of persistent connections, as wrk2 does.

Why (measured, `bench_overload.py --client aiohttp`, quiet machine): one aiohttp coroutine per
request, each taking a connection from a pool of up to 2,048, spends the load generator's whole
core at 4x the sustainable rate (client CPU 93-99 %): requests started 0.8-1.5 s late (p99),
waited up to 5 s for a connection and 0.8 s to open one, while the server used a third of a
core. That run measured the client, not the server. With this one: 21-53 % of a core.

Here `connections` keep-alive connections are opened before the run; request i is due at
`start + i / rate` and goes on connection `i % connections`, sent as raw HTTP/1.1 (a fresh
telemetry batch per request, made when it is sent). A connection whose previous request has
not answered when the next is due sends it as soon as it has: that wait counts in the
latency, which is taken from the due time (no coordinated omission), and is reported as
`pool`. Each request's parts (`overload_client.PARTS`):

    pool      the wait for its connection: the previous request on it still running (the server)
    late      the event loop's lateness in sending it once due and free (the client)
    connect   reopening the connection after the server closed it or it failed
    rest      from sending to the whole answer read
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

TIMEOUT_S = 30.0
_HEAD = (
    "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
    "Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
)


class Answer:
    """One answer's status, body, and whether the server will close the connection."""

    def __init__(self, status: int, body: bytes, close: bool) -> None:
        self.status, self.body, self.close = status, body, close


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   request: bytes) -> Answer:  # fmt: skip
    """Send one request and read its whole answer (a Content-Length body)."""
    writer.write(request)
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    length = 0
    if (at := head.find(b"\r\ncontent-length:")) >= 0:
        length = int(head[at + 17 : head.index(b"\r\n", at + 2)])
    body = await reader.readexactly(length) if length else b""
    return Answer(status, body, b"\r\nconnection: close" in head)


class Run:
    """One open-loop run's outcome: statuses, the accepted latencies, each request's parts."""

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []  # accepted (202) only, from the due time
        self.parts: list[dict[str, float]] = []


async def drive(base: str, posters: list[Any], rate: float, count: int,
                connections: int) -> Run:  # fmt: skip
    """`count` telemetry batches at `rate`/s over `connections` persistent connections."""
    host, port = base.removeprefix("http://").split(":")
    run = Run()
    conns = [await asyncio.open_connection(host, int(port)) for _ in range(connections)]
    start = time.perf_counter() + 0.2
    try:
        await asyncio.gather(*(
            _connection(conns, k, host, int(port), posters, rate, count, start, run)
            for k in range(connections)
        ))  # fmt: skip
    finally:
        for _, writer in conns:
            writer.close()
    return run


async def _connection(conns: list, k: int, host: str, port: int, posters: list[Any],
                      rate: float, count: int, start: float, run: Run) -> None:  # fmt: skip
    """Connection k's share of the run: requests k, k + n, k + 2n, ... each when due."""
    for i in range(k, count, len(conns)):
        due, free = start + i / rate, time.perf_counter()
        if free < due:
            await asyncio.sleep(due - free)
        sent = time.perf_counter()
        poster = posters[i % len(posters)]
        answer, connect = await _send(conns, k, host, port, poster)
        done = time.perf_counter()
        run.statuses[answer.status] = run.statuses.get(answer.status, 0) + 1
        run.parts.append({"pool": max(0.0, free - due), "late": sent - max(due, free),
                          "connect": connect, "rest": done - sent - connect,
                          "new": float(connect > 0)})  # fmt: skip
        if answer.status == 202:
            run.latencies.append(done - due)
            poster.acknowledged += int(json.loads(answer.body)["accepted"])


async def _send(conns: list, k: int, host: str, port: int, poster: Any) -> tuple[Answer, float]:
    """One fresh batch of `poster` on connection k, reopened first if it was closed; the answer
    (status 0 when none came) and the seconds spent reopening."""
    body = poster.next_body()
    head = _HEAD.format(path="/v1/telemetry", host=f"{host}:{port}", length=len(body),
                        auth=poster.headers["Authorization"])  # fmt: skip
    connect = 0.0
    try:
        if conns[k][1].is_closing():
            began = time.perf_counter()
            conns[k] = await asyncio.open_connection(host, port)
            connect = time.perf_counter() - began
        async with asyncio.timeout(TIMEOUT_S):
            reader, writer = conns[k]
            answer = await exchange(reader, writer, head.encode() + body)
    except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError):
        answer = Answer(0, b"", True)  # no answer: never acknowledged
    if answer.close:
        conns[k][1].close()
    return answer, connect
