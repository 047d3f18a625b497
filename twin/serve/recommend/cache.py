"""The recommendation cache: top-n lists kept for a TTL (seed 000: Redis, one hour).

A small `RecommendationCache` protocol with two implementations side by side: `MemoryCache`,
an in-process dict for the embedded backend, and `RedisCache`, `SETEX` on the shared Redis so
every server process sees what one of them computed (`SET ... EX`, which is what
the seeds' `SETEX` does: redis-py deprecates the separate command). Values are JSON-ready lists.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MemoryCache", "RecommendationCache", "RedisCache", "cache_key"]

Recommendations = list[dict[str, Any]]


def cache_key(fingerprint: str, rider: str, n: int) -> str:
    """`twin:recommendations:{model}:{rider}:{n}`: a new model never serves an old one's list."""
    return f"twin:recommendations:{fingerprint}:{rider}:{n}"


class RecommendationCache(Protocol):
    """Where computed recommendations wait for their TTL to run out."""

    async def get(self, key: str) -> Recommendations | None: ...

    async def set(self, key: str, value: Recommendations, ttl_s: float) -> None: ...

    async def close(self) -> None: ...


class MemoryCache:
    """A dict with expiry times; bounded: past `max_entries`, expired then oldest go first."""

    def __init__(
        self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._entries: dict[str, tuple[float, Recommendations]] = {}
        self._max = max_entries
        self._clock = clock

    async def get(self, key: str) -> Recommendations | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    async def set(self, key: str, value: Recommendations, ttl_s: float) -> None:
        if len(self._entries) >= self._max and key not in self._entries:
            self._evict()
        self._entries[key] = (self._clock() + ttl_s, value)

    async def close(self) -> None:
        self._entries.clear()

    def ttl_s(self, key: str) -> float | None:
        """Seconds `key` has left (Redis's TTL), None if absent or expired."""
        entry = self._entries.get(key)
        left = None if entry is None else entry[0] - self._clock()
        return left if left is not None and left > 0 else None

    def __len__(self) -> int:
        return len(self._entries)

    def _evict(self) -> None:
        now = self._clock()
        for key in [k for k, (expires, _) in self._entries.items() if expires <= now]:
            del self._entries[key]
        while len(self._entries) >= self._max:  # insertion order: the oldest entry first
            del self._entries[next(iter(self._entries))]


class RedisCache:
    """`SET key json EX ttl` (the seeds' SETEX) / `GET key` on a `redis.asyncio.Redis` client.

    `client` is called on each use, so the cache can share the backend's connection pool,
    which exists only once the backend has started; the backend closes it, not the cache.
    """

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client

    async def get(self, key: str) -> Recommendations | None:
        raw = await self._client().get(key)
        if raw is None:
            return None
        value = json.loads(raw)
        return value if isinstance(value, list) else None

    async def set(self, key: str, value: Recommendations, ttl_s: float) -> None:
        await self._client().set(key, json.dumps(value), ex=max(1, math.ceil(ttl_s)))

    async def close(self) -> None:
        return None
