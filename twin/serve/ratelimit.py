"""Token-bucket rate limits, one bucket per key (a token's subject, or a device).

A bucket holds at most `burst` tokens and refills at `rate` per second; a request costs one
token (a telemetry batch costs one per sample). This is nginx's `limit_req rate=10r/s burst=20
nodelay` from the seeds: a burst of 20 passes at once, then 10 per second. A refused request is
told how long to wait (`Retry-After`). The clock is passed in, so the arithmetic is pure and
testable; buckets that have refilled completely carry no information and are forgotten when the
table grows past `max_keys`, so a drill minting a token per virtual rider cannot grow it forever.

Handlers speak to a `Limiter`: `LocalLimiter` keeps the buckets in this process (the embedded
backend, one process), `twin.serve.backends.redis_limiter.RedisLimiter` keeps them in Redis, so
that with
`--workers N` a token's limit is the same whichever worker answers. A `Charge` is one spending
a backend makes together with storing a telemetry batch (on Redis, in the same Lua call).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol

from twin.serve.problems import ApiError

__all__ = ["Charge", "Limiter", "LocalLimiter", "RateLimiter", "refusal", "retry_after_header"]


class Limiter(Protocol):
    """Per-key token buckets, wherever they are kept. `name` is `token` or `device`."""

    name: str
    rate: float
    burst: float

    async def take(self, key: str, cost: float = 1.0) -> float:
        """Spend `cost` tokens of `key`'s bucket: 0.0 if allowed, else the seconds to wait."""
        ...


class RateLimiter:
    """Per-key token buckets: `take(key, now, cost)` is 0.0 when allowed, else seconds to wait."""

    def __init__(self, rate: float, burst: float, *, max_keys: int = 200_000) -> None:
        if not rate > 0 or not burst > 0:
            raise ValueError("rate and burst must be > 0")
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at time)

    def level(self, key: str, now: float) -> float:
        """Tokens the bucket of `key` holds at `now`."""
        tokens, stamp = self._buckets.get(key, (self.burst, now))
        return min(self.burst, tokens + (now - stamp) * self.rate)

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Spend `cost` tokens if the bucket has them (returns 0.0), else the wait in seconds.

        A refused request spends nothing. A cost above `burst` can never pass: its wait is inf.
        """
        tokens = self.level(key, now)
        if tokens >= cost:
            if key not in self._buckets and len(self._buckets) >= self.max_keys:
                self._forget_full(now)
            self._buckets[key] = (tokens - cost, now)
            return 0.0
        if cost > self.burst:
            return math.inf
        return (cost - tokens) / self.rate

    def _forget_full(self, now: float) -> None:
        full = [k for k, (t, s) in self._buckets.items() if t + (now - s) * self.rate >= self.burst]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_keys:  # all busy: drop the oldest half, fail open
            for key in list(self._buckets)[: len(self._buckets) // 2]:
                del self._buckets[key]

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_header(wait_s: float) -> str:
    """HTTP `Retry-After` is whole seconds: round up, at least 1."""
    return str(max(1, math.ceil(wait_s)))


class LocalLimiter:
    """A `Limiter` whose buckets live in this process, on the monotonic clock."""

    def __init__(self, name: str, rate: float, burst: float) -> None:
        self.name = name
        self.rate = rate
        self.burst = burst
        self.buckets = RateLimiter(rate, burst)

    async def take(self, key: str, cost: float = 1.0) -> float:
        return self.buckets.take(key, time.monotonic(), cost)


@dataclass(frozen=True, slots=True)
class Charge:
    """`cost` tokens to spend from `key`'s bucket in `limiter`."""

    limiter: Limiter
    key: str
    cost: float = 1.0

    async def spend(self) -> float:
        """0.0 if spent, else the seconds to wait (nothing spent)."""
        return await self.limiter.take(self.key, self.cost)


def refusal(charge: Charge, wait_s: float) -> ApiError:
    """The 429 for a refused charge, with its `Retry-After`."""
    limiter = charge.limiter
    if limiter.name == "device":
        limit = f"{limiter.rate:g} samples/s, burst {limiter.burst:g}"
        message = f"device {charge.key!r} exceeds its telemetry limit of {limit}"
    else:
        limit = f"{limiter.rate:g} requests/s, burst {limiter.burst:g}"
        message = f"rate limit of {limit} exceeded for {charge.key}"
    return ApiError(429, message, headers={"Retry-After": retry_after_header(wait_s)})
