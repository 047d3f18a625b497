"""Revoked tokens: `twin token --revoke ID` writes the id where the server reads it.

On Redis the ids live in the hash `twin:revoked` (id -> the time it may be forgotten, when any
token bearing it has expired); on the embedded backend in the table `revoked` of its SQLite
file. Each server process reads the whole list at start-up and again every `every_s` seconds
(`RevocationWatch`) into its `Signer.revoked`: a revocation takes effect within a second, on
every worker, and survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import time
from pathlib import Path
from typing import Protocol

from twin.serve.tokens import TTL_MAX_S, Signer

__all__ = ["REDIS_KEY", "SCHEMA", "SQLITE_FILE", "RevocationWatch", "revoke"]

log = logging.getLogger("twin.serve")

REDIS_KEY = "twin:revoked"
SQLITE_FILE = "twin-serve.sqlite3"
SCHEMA = "CREATE TABLE IF NOT EXISTS revoked (jti TEXT PRIMARY KEY, until REAL NOT NULL);"


def revoke(jti: str, *, redis_url: str | None, data_dir: Path) -> None:
    """Record `jti` as revoked in the store `twin serve` with these options reads."""
    until = time.time() + max(TTL_MAX_S.values())
    if redis_url:
        import redis  # deferred: only a Redis run loads redis-py

        client = redis.Redis.from_url(redis_url)
        try:
            client.hset(REDIS_KEY, jti, repr(until))
        finally:
            client.close()
        return
    Path(data_dir).mkdir(mode=0o700, parents=True, exist_ok=True)
    path = Path(data_dir) / SQLITE_FILE
    os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # as the backend makes it
    conn = sqlite3.connect(path, timeout=30)
    try:
        conn.executescript(SCHEMA)
        with conn:
            conn.execute("INSERT OR REPLACE INTO revoked VALUES (?, ?)", (jti, until))
    finally:
        conn.close()


class RevokedSource(Protocol):
    """What the watch reads: a backend (`twin.serve.backends.base.Backend.revoked_ids`)."""

    async def revoked_ids(self) -> set[str]: ...


class RevocationWatch:
    """Keeps `signer.revoked` equal to the backend's list, read every `every_s` seconds."""

    def __init__(self, backend: RevokedSource, signer: Signer, every_s: float = 1.0) -> None:
        self.backend = backend
        self.signer = signer
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="twin-revocations")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        self.signer.revoked = frozenset(await self.backend.revoked_ids())

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.refresh()
            except Exception as exc:  # storage restarting: keep the last list, retry
                log.warning("revocations: %s", exc)
