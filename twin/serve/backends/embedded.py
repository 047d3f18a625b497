"""The embedded backend: the whole platform in one process, nothing to install.

Samples, joins, workouts and interactions live in SQLite (`SqliteStore`) and survive a
restart. The ingest stream and the leaderboards live in memory: each shard is a queue read by
one consumer of the stream processor. At start-up the leaderboards are rebuilt from the stored
samples, so a restart loses no output, only the entries that were still queued.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twin.serve.backends.base import (
    Conflict,
    IngestResult,
    StreamEntry,
    member_of,
    new_samples,
    output_kj,
    shard_of,
)
from twin.serve.backends.sqlite import SqliteStore, select_samples
from twin.serve.ratelimit import Charge
from twin.serve.revocation import SQLITE_FILE
from twin.serve.validation import TelemetryBatch, WorkoutRequest

__all__ = ["EmbeddedBackend"]

_WORKOUT_COLUMNS = (
    "id, rider_id, class_id, duration_s, output_kj, device_id, created_at, "
    "fb_rating, fb_completion, fb_weight"
)


_REVOKED = "SELECT jti FROM revoked"


def _workout_doc(row: tuple[Any, ...]) -> dict[str, Any]:
    keys = [c.strip() for c in _WORKOUT_COLUMNS.split(",")]
    doc = dict(zip(keys, row, strict=True))
    doc["workout_id"] = f"w{doc.pop('id')}"
    return doc


def _workout_rowid(workout_id: str) -> int | None:
    digits = workout_id[1:]
    ok = workout_id.startswith("w") and digits.isdigit() and len(digits) < 19
    return int(digits) if ok else None


class EmbeddedBackend:
    """SQLite for durable data, in-memory shards and leaderboards; one process only."""

    kind = "embedded"

    def __init__(self, data_dir: Path, *, shards: int) -> None:
        self.shards = shards
        self.store = SqliteStore(Path(data_dir) / SQLITE_FILE)
        self._queues: list[deque[StreamEntry]] = [deque() for _ in range(shards)]
        self._signals = [asyncio.Event() for _ in range(shards)]
        self._inflight: list[dict[str, StreamEntry]] = [{} for _ in range(shards)]
        self._queued = [0] * shards  # samples streamed and not yet committed, per shard
        self._ids = itertools.count(1)
        self._boards: dict[str, dict[str, float]] = {}
        self._rider_of: dict[str, str] = {}
        self._cadence: dict[str, deque[tuple[float, float]]] = {}

    def time_calls(self, observe: Callable[[str, float], None]) -> None:
        """Report each SQLite call's kind and seconds on the database thread to `observe`."""
        self.store.observe = observe

    async def start(self) -> None:
        await self.store.open()
        self._rider_of = dict(await self.store.call(_select_device_riders))
        for class_id, device_id, watts in await self.store.call(_select_output_by_device):
            board = self._boards.setdefault(class_id, {})
            member = member_of(device_id, self._rider_of.get(device_id))
            board[member] = board.get(member, 0.0) + output_kj(watts)

    async def close(self) -> None:
        await self.store.close()

    async def describe(self) -> str:
        return f"embedded (SQLite WAL synchronous=FULL at {self.store.path})"

    async def ingest(self, batch: TelemetryBatch, charges: Sequence[Charge] = ()) -> IngestResult:
        for charge in charges:
            wait = await charge.spend()
            if wait > 0:
                return IngestResult(0, 0, charge, wait)
        seen = await self.store.insert_samples(batch)
        if isinstance(seen, Conflict):
            return IngestResult(0, 0, conflict=seen)
        times, powers = new_samples(batch, seen)
        if times:
            shard = shard_of(batch.device_id, self.shards)
            member = member_of(batch.device_id, self._rider_of.get(batch.device_id))
            entry = StreamEntry(
                str(next(self._ids)), batch.class_id, member, tuple(times), output_kj(sum(powers))
            )
            self._queues[shard].append(entry)
            self._queued[shard] += len(times)
            self._signals[shard].set()
        return IngestResult(len(times), len(seen))

    async def samples_json(self, device_id: str) -> list[str]:
        return await self.store.call(lambda conn: select_samples(conn, device_id))

    async def join(self, class_id: str, rider_id: str, device_id: str | None) -> bool:
        def insert(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "INSERT OR IGNORE INTO joins (class_id, rider_id) VALUES (?, ?)",
                (class_id, rider_id),
            )
            if device_id is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO device_rider (device_id, rider_id) VALUES (?, ?)",
                    (device_id, rider_id),
                )
            return cur.rowcount == 1

        created = await self.store.transaction(insert)
        if device_id is not None:
            self._rider_of[device_id] = rider_id
        return created

    async def read_shard(
        self, shard: int, consumer: str, count: int, block_s: float
    ) -> list[StreamEntry]:
        queue = self._queues[shard]
        if not queue:
            signal = self._signals[shard]
            signal.clear()
            try:
                await asyncio.wait_for(signal.wait(), block_s)
            except TimeoutError:
                return []
        entries = [queue.popleft() for _ in range(min(count, len(queue)))]
        self._inflight[shard].update((e.id, e) for e in entries)
        return entries

    async def commit(self, shard: int, entries: list[StreamEntry]) -> int:
        inflight = self._inflight[shard]
        applied = 0
        for entry in entries:
            if inflight.pop(entry.id, None) is None:
                continue  # already committed: applying it again would count it twice
            board = self._boards.setdefault(entry.class_id, {})
            board[entry.member] = board.get(entry.member, 0.0) + entry.output_kj
            applied += entry.samples
        self._queued[shard] -= applied
        return applied

    async def backlog(self) -> dict[int, int]:
        return dict(enumerate(self._queued))

    async def leaderboard(self, class_id: str, n: int) -> tuple[list[tuple[str, float]], int]:
        board = self._boards.get(class_id, {})
        # Best first; ties in reverse member order, exactly as Redis ZREVRANGE orders them.
        top = heapq.nlargest(n, board.items(), key=lambda kv: (kv[1], kv[0]))
        return top, len(board)

    async def add_workout(
        self,
        workout: WorkoutRequest,
        created_at: float,
        weight: float,
        idempotency: tuple[str, str] | None = None,
    ) -> tuple[str, str | None]:
        return await self.store.transaction(
            lambda conn: _insert_workout(conn, workout, created_at, weight, idempotency)
        )

    async def workout(self, workout_id: str) -> dict[str, Any] | None:
        rowid = _workout_rowid(workout_id)
        if rowid is None:
            return None

        def select(conn: sqlite3.Connection) -> tuple[Any, ...] | None:
            query = f"SELECT {_WORKOUT_COLUMNS} FROM workouts WHERE id = ?"
            return conn.execute(query, (rowid,)).fetchone()

        row = await self.store.call(select)
        return None if row is None else _workout_doc(row)

    async def replace_feedback(
        self, workout_id: str, rating: int, completion_pct: float, weight: float
    ) -> float | None:
        rowid = _workout_rowid(workout_id)
        if rowid is None:
            return None

        def update(conn: sqlite3.Connection) -> float | None:
            query = "SELECT rider_id, class_id, fb_weight FROM workouts WHERE id = ?"
            row = conn.execute(query, (rowid,)).fetchone()
            if row is None:
                return None
            conn.execute(
                "UPDATE workouts SET fb_rating = ?, fb_completion = ?, fb_weight = ? WHERE id = ?",
                (rating, completion_pct, weight, rowid),
            )
            previous = row[2] or 0.0
            _add_interaction(conn, row[0], row[1], weight - previous)
            return float(previous)

        return await self.store.transaction(update)

    async def revoked_ids(self) -> set[str]:
        return await self.store.call(lambda conn: {r[0] for r in conn.execute(_REVOKED)})

    async def claim_key_id(self, key_id: str) -> str:
        def claim(conn: sqlite3.Connection) -> str:
            conn.execute("INSERT OR IGNORE INTO meta VALUES ('samples_key_id', ?)", (key_id,))
            return str(
                conn.execute("SELECT value FROM meta WHERE name = 'samples_key_id'").fetchone()[0]
            )

        return await self.store.transaction(claim)

    async def cadence_window(
        self, device_id: str, t: float, cadence_rpm: float, window_s: float
    ) -> list[tuple[float, float]]:
        kept = self._cadence.setdefault(device_id, deque())
        kept.append((t, cadence_rpm))
        newest = max(s for s, _ in kept)
        self._cadence[device_id] = deque(s for s in kept if newest - s[0] <= window_s)
        return sorted(self._cadence[device_id])

    async def add_interaction(self, rider_id: str, class_id: str, weight: float) -> None:
        await self.store.call(lambda conn: _add_interaction(conn, rider_id, class_id, weight))

    async def interactions(self) -> list[tuple[str, str, float]]:
        query = "SELECT rider_id, class_id, weight FROM interactions ORDER BY rider_id, class_id"
        return await self.store.call(lambda conn: list(conn.execute(query)))


def _insert_workout(
    conn: sqlite3.Connection,
    workout: WorkoutRequest,
    created_at: float,
    weight: float,
    idempotency: tuple[str, str] | None,
) -> tuple[str, str | None]:
    """`Backend.add_workout` inside one transaction."""
    if idempotency is not None:
        key, fingerprint = idempotency
        query = "SELECT workout_id, fingerprint FROM workout_keys WHERE rider_id = ? AND key = ?"
        known = conn.execute(query, (workout.rider_id, key)).fetchone()
        if known is not None:
            return known[0], known[1]
    cur = conn.execute(
        "INSERT INTO workouts (rider_id, class_id, duration_s, output_kj, device_id, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (workout.rider_id, workout.class_id, workout.duration_s, workout.output_kj,
         workout.device_id, created_at),
    )  # fmt: skip
    _add_interaction(conn, workout.rider_id, workout.class_id, weight)
    workout_id = f"w{cur.lastrowid}"
    if idempotency is not None:
        conn.execute(
            "INSERT INTO workout_keys (rider_id, key, workout_id, fingerprint) VALUES (?, ?, ?, ?)",
            (workout.rider_id, key, workout_id, fingerprint),
        )
    return workout_id, None


def _add_interaction(conn: sqlite3.Connection, rider_id: str, class_id: str, weight: float) -> None:
    conn.execute(
        "INSERT INTO interactions (rider_id, class_id, weight) VALUES (?, ?, ?)"
        " ON CONFLICT (rider_id, class_id) DO UPDATE SET weight = weight + excluded.weight",
        (rider_id, class_id, weight),
    )


def _select_device_riders(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    return list(conn.execute("SELECT device_id, rider_id FROM device_rider"))


def _select_output_by_device(conn: sqlite3.Connection) -> list[tuple[str, str, float]]:
    query = "SELECT class_id, device_id, SUM(power_w) FROM batches GROUP BY class_id, device_id"
    return list(conn.execute(query))
