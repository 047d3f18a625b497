"""The embedded backend's durable half: SQLite in WAL mode with `synchronous=FULL`.

The database is created mode 600 (its WAL and shared-memory files follow), in a folder created
mode 700: heart rates are personal data.

Every call runs on one dedicated thread (SQLite connections are not shared across threads and
the event loop must never wait on a disk). Telemetry uses *group commit*: batches that arrive
while a transaction is being written queue up and go into the next transaction together, so
one fsync acknowledges many requests. A batch's future resolves only after its COMMIT returned,
which with `synchronous=FULL` means the WAL reached the disk: acknowledged is durable.

Telemetry is stored one row per accepted batch (its new samples' seqs and documents as JSON
arrays, and their summed power), not one row per sample: a B-tree insert per request instead
of fifty. Which seqs of a device are stored is kept in memory by a `SeqIndex`, rebuilt from
the rows at start-up and changed only on the database thread inside the storing transaction.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import msgspec

from twin.serve.backends.base import Conflict
from twin.serve.backends.seqindex import SeqIndex
from twin.serve.revocation import SCHEMA as REVOKED_SCHEMA
from twin.serve.validation import TelemetryBatch

__all__ = ["GROUP_COMMIT", "KINDS", "STATEMENT", "TRANSACTION", "SqliteStore", "select_samples"]

# what the database thread was doing, for its time per call (`twin_sqlite_call_seconds`)
GROUP_COMMIT, TRANSACTION, STATEMENT = "group_commit", "transaction", "statement"
KINDS = (GROUP_COMMIT, TRANSACTION, STATEMENT)

T = TypeVar("T")
_encode = msgspec.json.Encoder().encode
_decode_seqs = msgspec.json.Decoder(list[int]).decode
_decode_docs = msgspec.json.Decoder(list[msgspec.Raw]).decode

SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, class_id TEXT NOT NULL,
    seqs TEXT NOT NULL, docs TEXT NOT NULL, power_w REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS batches_device ON batches (device_id);
CREATE TABLE IF NOT EXISTS joins (
    class_id TEXT NOT NULL, rider_id TEXT NOT NULL, PRIMARY KEY (class_id, rider_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_rider (device_id TEXT PRIMARY KEY, rider_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT, rider_id TEXT NOT NULL, class_id TEXT NOT NULL,
    duration_s REAL NOT NULL, output_kj REAL, device_id TEXT, created_at REAL NOT NULL,
    fb_rating INTEGER, fb_completion REAL, fb_weight REAL
);
CREATE TABLE IF NOT EXISTS workout_keys (
    rider_id TEXT NOT NULL, key TEXT NOT NULL, workout_id TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (rider_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS interactions (
    rider_id TEXT NOT NULL, class_id TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (rider_id, class_id)
) WITHOUT ROWID;
"""


def _connect(path: Path) -> sqlite3.Connection:
    # Mode 600 before SQLite opens it: its -wal and -shm files take the database's mode.
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.executescript(SCHEMA + REVOKED_SCHEMA)
    return conn


_INSERT = "INSERT INTO batches (device_id, class_id, seqs, docs, power_w) VALUES (?, ?, ?, ?, ?)"


def _conflict(conn: sqlite3.Connection, batch: TelemetryBatch, seen: set[int]) -> Conflict | None:
    """The first sample of the batch stored already with another document, if any."""
    stored = {seq: doc for seq, doc in _pairs(conn, batch.device_id) if seq in seen}
    for seq, doc in zip(batch.seqs, batch.docs, strict=True):
        if seq in seen and stored.get(seq) != doc:
            return Conflict(seq, stored.get(seq, ""))
    return None


def _store_batch(
    conn: sqlite3.Connection, index: SeqIndex, batch: TelemetryBatch
) -> set[int] | Conflict:
    """Store the batch's samples not stored yet as one row; returns the seqs that were, or the
    conflict (nothing stored) when one of them was stored with another document."""
    seen = index.stored(batch.device_id, batch.seqs)
    if seen and (conflict := _conflict(conn, batch, seen)) is not None:
        return conflict
    if not seen:
        seqs, docs_json, power = batch.seqs, batch.docs_json, sum(batch.powers)
    else:
        keep = [i for i, s in enumerate(batch.seqs) if s not in seen]
        if not keep:
            return seen
        docs = batch.docs
        seqs = [batch.seqs[i] for i in keep]
        docs_json = f"[{','.join(docs[i] for i in keep)}]"
        power = sum(batch.powers[i] for i in keep)
    row = (batch.device_id, batch.class_id, _encode(seqs).decode(), docs_json, power)
    conn.execute(_INSERT, row)
    index.add(batch.device_id, seqs)
    return seen


def _insert_many(
    conn: sqlite3.Connection, index: SeqIndex, batches: list[TelemetryBatch]
) -> list[set[int] | Conflict]:
    """One transaction for all queued batches; each sees the ones before it (retries overlap).

    If the transaction fails, the index forgets what it learnt from it."""
    saved = index.snapshot({batch.device_id for batch in batches})
    try:
        conn.execute("BEGIN IMMEDIATE")
        result = [_store_batch(conn, index, batch) for batch in batches]
        conn.execute("COMMIT")
    except BaseException:
        index.restore(saved)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def _load_index(conn: sqlite3.Connection) -> SeqIndex:
    index = SeqIndex()
    for device_id, seqs in conn.execute("SELECT device_id, seqs FROM batches ORDER BY id"):
        index.add(device_id, _decode_seqs(seqs))
    return index


def _pairs(conn: sqlite3.Connection, device_id: str) -> list[tuple[int, str]]:
    """(seq, stored document) of every sample of the device, in storage order."""
    pairs: list[tuple[int, str]] = []
    query = "SELECT seqs, docs FROM batches WHERE device_id = ?"
    for seqs, docs in conn.execute(query, (device_id,)):
        decoded = (bytes(doc).decode() for doc in _decode_docs(docs))
        pairs += zip(_decode_seqs(seqs), decoded, strict=True)
    return pairs


def select_samples(conn: sqlite3.Connection, device_id: str) -> list[str]:
    """The device's stored sample documents in seq order."""
    return [doc for _, doc in sorted(_pairs(conn, device_id), key=lambda pair: pair[0])]


def _timed(
    fn: Callable[[sqlite3.Connection], T], kind: str, observe: Callable[[str, float], None]
) -> Callable[[sqlite3.Connection], T]:
    """`fn`, reporting its seconds on the database thread to `observe` as a `kind`."""

    def timed(conn: sqlite3.Connection) -> T:
        start = time.perf_counter()
        try:
            return fn(conn)
        finally:
            observe(kind, time.perf_counter() - start)

    return timed


class SqliteStore:
    """A SQLite database used from one thread, with group commit for telemetry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="twin-sqlite")
        self._conn: sqlite3.Connection | None = None
        self.index = SeqIndex()
        self._queue: list[tuple[TelemetryBatch, asyncio.Future[set[int] | Conflict]]] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # called on the database thread with each call's kind and seconds (`/metrics`)
        self.observe: Callable[[str, float], None] | None = None

    async def open(self) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        self._conn = await loop.run_in_executor(self._executor, _connect, self.path)
        self.index = await self.call(_load_index)
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

    async def call(self, fn: Callable[[sqlite3.Connection], T], kind: str = STATEMENT) -> T:
        """Run `fn(connection)` on the database thread (each statement autocommits); the time
        it took there (not its wait for the thread) goes to `observe` as a `kind`."""
        assert self._conn is not None, "store not open"
        conn = self._conn
        run = fn if self.observe is None else _timed(fn, kind, self.observe)
        return await asyncio.get_running_loop().run_in_executor(self._executor, run, conn)

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

        return await self.call(run, TRANSACTION)

    async def insert_samples(self, batch: TelemetryBatch) -> set[int] | Conflict:
        """Store the batch's new samples durably; returns the seqs that were already stored, or
        the conflict (nothing stored)."""
        future: asyncio.Future[set[int] | Conflict] = asyncio.get_running_loop().create_future()
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
        self, items: list[tuple[TelemetryBatch, asyncio.Future[set[int] | Conflict]]]
    ) -> None:
        batches = [batch for batch, _ in items]
        try:
            results = await self.call(
                lambda conn: _insert_many(conn, self.index, batches), GROUP_COMMIT
            )
        except Exception as exc:  # disk full, I/O error: every waiting request fails
            for _, future in items:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), seen in zip(items, results, strict=True):
            if not future.done():
                future.set_result(seen)
