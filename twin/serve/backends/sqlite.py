"""The embedded backend's durable half: SQLite in WAL mode with `synchronous=FULL`.

Every call runs on one dedicated thread (SQLite connections are not shared across threads and
the event loop must never wait on a disk). Telemetry uses *group commit*: batches that arrive
while a transaction is being written queue up and go into the next transaction together, so
one fsync acknowledges many requests. A batch's future resolves only after its COMMIT returned,
which with `synchronous=FULL` means the WAL reached the disk: acknowledged is durable.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from twin.serve.validation import Sample, TelemetryBatch

__all__ = ["SqliteStore"]

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS samples (
    device_id TEXT NOT NULL, seq INTEGER NOT NULL, class_id TEXT NOT NULL,
    power_w REAL NOT NULL, doc TEXT NOT NULL,
    PRIMARY KEY (device_id, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS joins (
    class_id TEXT NOT NULL, rider_id TEXT NOT NULL, PRIMARY KEY (class_id, rider_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_rider (device_id TEXT PRIMARY KEY, rider_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rider_id TEXT NOT NULL, class_id TEXT NOT NULL,
    duration_s REAL NOT NULL, output_kj REAL, device_id TEXT, created_at REAL NOT NULL,
    fb_rating INTEGER, fb_completion REAL, fb_weight REAL
);
CREATE TABLE IF NOT EXISTS interactions (
    rider_id TEXT NOT NULL, class_id TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (rider_id, class_id)
) WITHOUT ROWID;
"""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA)
    return conn


def _new_samples(conn: sqlite3.Connection, batch: TelemetryBatch) -> list[Sample]:
    seqs = [s.seq for s in batch.samples]
    marks = ",".join("?" * len(seqs))
    query = f"SELECT seq FROM samples WHERE device_id = ? AND seq IN ({marks})"
    seen = {row[0] for row in conn.execute(query, (batch.device_id, *seqs))}
    new = [s for s in batch.samples if s.seq not in seen]
    conn.executemany(
        "INSERT INTO samples (device_id, seq, class_id, power_w, doc) VALUES (?, ?, ?, ?, ?)",
        [(batch.device_id, s.seq, batch.class_id, s.power_w, s.doc) for s in new],
    )
    return new


def _insert_many(conn: sqlite3.Connection, batches: list[TelemetryBatch]) -> list[list[Sample]]:
    """One transaction for all queued batches; each sees the ones before it (retries overlap)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = [_new_samples(conn, batch) for batch in batches]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result


class SqliteStore:
    """A SQLite database used from one thread, with group commit for telemetry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="twin-sqlite")
        self._conn: sqlite3.Connection | None = None
        self._queue: list[tuple[TelemetryBatch, asyncio.Future[list[Sample]]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, _connect, self.path)
        self._writer = asyncio.create_task(self._write_loop(), name="twin-sqlite-writer")

    async def close(self) -> None:
        if self._writer is not None:
            while self._queue:  # let queued batches commit before closing
                await asyncio.sleep(0.01)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
        if self._conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the database thread (each statement autocommits)."""
        assert self._conn is not None, "store not open"
        conn = self._conn
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` inside BEGIN IMMEDIATE ... COMMIT on the database thread."""

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                value = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return value

        return await self.call(run)

    async def insert_samples(self, batch: TelemetryBatch) -> list[Sample]:
        """Store the batch's new samples durably; returns them (repeats of known seqs excluded)."""
        future: asyncio.Future[list[Sample]] = asyncio.get_running_loop().create_future()
        self._queue.append((batch, future))
        self._wake.set()
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            items, self._queue = self._queue, []
            if items:
                await self._commit(items)

    async def _commit(
        self, items: list[tuple[TelemetryBatch, asyncio.Future[list[Sample]]]]
    ) -> None:
        batches = [batch for batch, _ in items]
        try:
            results = await self.call(lambda conn: _insert_many(conn, batches))
        except Exception as exc:  # disk full, I/O error: every waiting request fails
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), new in zip(items, results, strict=True):
            if not future.done():
                future.set_result(new)
