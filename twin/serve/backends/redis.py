"""The Redis backend: Redis Streams with a consumer group per shard, sorted sets, hashes.

Keys (prefix `twin:`):

| key | type | holds |
|---|---|---|
| `s:{device}` | hash | seq -> sample JSON: the durable record and the idempotency check |
| `ingest:{k}` | stream | shard k's entries for the stream processor (group `leaderboard`) |
| `lb:{class}` | sorted set | rider -> output kJ |
| `riders:{class}` | set | riders who joined the class |
| `rider_of` | hash | device -> rider |
| `workout:{id}`, `workout_seq` | hash, counter | ride summaries |
| `interactions` | hash | `rider<TAB>class` -> summed weight, for the recommender |

Two Lua scripts carry the guarantees. `INGEST` stores each sample with HSETNX and XADDs only
the new ones, in one atomic step: a retried batch can neither be stored twice nor be streamed
twice. `COMMIT` XACKs each entry and adds its output to the leaderboard only if the XACK
acknowledged it (a redelivered entry already applied is skipped), then XDELs the entries, so
the stream's length is exactly the backlog. The 202 is sent after Redis answered; with
`appendonly yes` and `appendfsync always`, Redis answers only once the AOF is on disk.
"""

from __future__ import annotations

import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from twin.errors import TargetError
from twin.serve.backends.base import IngestResult, StreamEntry, output_kj, shard_of
from twin.serve.validation import TelemetryBatch, WorkoutRequest

__all__ = ["GROUP", "RedisBackend", "connect"]

P = "twin:"
GROUP = "leaderboard"
CLAIM_EVERY_S = 30.0
CLAIM_IDLE_MS = 60_000

INGEST = """
local rider = redis.call('HGET', KEYS[3], ARGV[1])
if not rider then rider = 'device:' .. ARGV[1] end
local accepted = 0
for i = 3, #ARGV, 4 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 3]) == 1 then
    local entry = ARGV[2] .. '\\31' .. rider .. '\\31' .. ARGV[i + 1] .. '\\31' .. ARGV[i + 2]
    redis.call('XADD', KEYS[2], '*', 'e', entry)
    accepted = accepted + 1
  end
end
return accepted
"""

COMMIT = """
local sums = {}
local applied = 0
for i = 2, #ARGV, 4 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    local k = tonumber(ARGV[i + 1])
    sums[k] = sums[k] or {}
    sums[k][ARGV[i + 2]] = (sums[k][ARGV[i + 2]] or 0) + tonumber(ARGV[i + 3])
    applied = applied + 1
  end
  redis.call('XDEL', KEYS[1], ARGV[i])
end
for k, members in pairs(sums) do
  for member, kj in pairs(members) do
    redis.call('ZINCRBY', KEYS[k], kj, member)
  end
end
return applied
"""

FEEDBACK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local previous = redis.call('HGET', KEYS[1], 'fb_weight') or '0'
redis.call('HSET', KEYS[1], 'fb_rating', ARGV[1], 'fb_completion', ARGV[2], 'fb_weight', ARGV[3])
local rider = redis.call('HGET', KEYS[1], 'rider_id')
local pair = rider .. '\\t' .. redis.call('HGET', KEYS[1], 'class_id')
redis.call('HINCRBYFLOAT', KEYS[2], pair, tonumber(ARGV[3]) - tonumber(previous))
return previous
"""


async def connect(url: str) -> aioredis.Redis:
    """A client for `url` that answered PING, or a one-line `TargetError`."""
    try:
        client = aioredis.from_url(url, decode_responses=True)
    except ValueError as exc:
        raise TargetError(f"--redis {url!r}: not a Redis URL ({exc})") from exc
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise TargetError(f"--redis {url!r}: cannot reach Redis ({exc})") from exc
    return client


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


class RedisBackend:
    """Streams, sorted sets and hashes on one Redis server, shared by any number of processes."""

    kind = "redis"

    def __init__(self, url: str, *, shards: int) -> None:
        self.url = url
        self.shards = shards
        self.client: aioredis.Redis | None = None
        self._caught_up = [False] * shards
        self._last_claim = [0.0] * shards
        self._ingest: Any = None  # the Lua scripts, registered on start()
        self._commit: Any = None
        self._feedback: Any = None

    @property
    def redis(self) -> Any:  # redis-py's stubs type replies for both RESP2 and RESP3
        assert self.client is not None, "backend not started"
        return self.client

    async def start(self) -> None:
        self.client = await connect(self.url)
        self._ingest = self.client.register_script(INGEST)
        self._commit = self.client.register_script(COMMIT)
        self._feedback = self.client.register_script(FEEDBACK)
        for shard in range(self.shards):
            try:
                await self.client.xgroup_create(f"{P}ingest:{shard}", GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    async def describe(self) -> str:
        try:
            aof = await self.redis.config_get("appendonly")
            fsync = await self.redis.config_get("appendfsync")
            durability = (
                f"appendonly {aof.get('appendonly')}, appendfsync {fsync.get('appendfsync')}"
            )
        except ResponseError:  # CONFIG disabled on managed services
            durability = "durability unknown"
        return f"redis {self.url} ({durability})"

    async def ingest(self, batch: TelemetryBatch) -> IngestResult:
        args: list[Any] = [batch.device_id, batch.class_id]
        for s in batch.samples:
            args += (s.seq, repr(s.t), repr(s.power_w), s.doc)
        keys = [f"{P}s:{batch.device_id}", f"{P}ingest:{shard_of(batch.device_id, self.shards)}"]
        accepted = int(await self._ingest(keys=[*keys, f"{P}rider_of"], args=args))
        return IngestResult(accepted, len(batch.samples) - accepted)

    async def samples_json(self, device_id: str) -> list[str]:
        stored: dict[str, str] = await self.redis.hgetall(f"{P}s:{device_id}")
        return [stored[seq] for seq in sorted(stored, key=int)]

    async def join(self, class_id: str, rider_id: str, device_id: str | None) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(f"{P}riders:{class_id}", rider_id)
            if device_id is not None:
                pipe.hset(f"{P}rider_of", device_id, rider_id)
            added, *_ = await pipe.execute()
        return bool(added)

    async def read_shard(
        self, shard: int, consumer: str, count: int, block_s: float
    ) -> list[StreamEntry]:
        try:
            return await self._read_shard(shard, consumer, count, block_s)
        except BaseException:
            # A reply lost in flight may have moved entries into our pending list: reread it.
            self._caught_up[shard] = False
            raise

    async def _read_shard(
        self, shard: int, consumer: str, count: int, block_s: float
    ) -> list[StreamEntry]:
        stream = f"{P}ingest:{shard}"
        if not self._caught_up[shard]:  # first our own pending entries, left by a crash
            entries = await self._read(stream, consumer, "0", count, None)
            if entries:
                return entries
            self._caught_up[shard] = True
        now = time.monotonic()
        if now - self._last_claim[shard] > CLAIM_EVERY_S:
            self._last_claim[shard] = now
            entries = await self._claim(stream, consumer, count)
            if entries:
                return entries
        return await self._read(stream, consumer, ">", count, max(1, int(block_s * 1000)))

    async def _read(
        self, stream: str, consumer: str, start: str, count: int, block_ms: int | None
    ) -> list[StreamEntry]:
        reply = await self.redis.xreadgroup(
            GROUP, consumer, {stream: start}, count=count, block=block_ms
        )
        if not reply:
            return []
        # RESP2 answers [[stream, entries]], RESP3 {stream: entries}.
        return self._entries(
            stream, next(iter(reply.values())) if isinstance(reply, dict) else reply[0][1]
        )

    async def _claim(self, stream: str, consumer: str, count: int) -> list[StreamEntry]:
        """Take over entries another consumer (a dead process) left pending for a minute."""
        reply = await self.redis.xautoclaim(stream, GROUP, consumer, CLAIM_IDLE_MS, "0-0", count)
        return self._entries(stream, reply[1])

    def _entries(self, stream: str, raw: list[Any]) -> list[StreamEntry]:
        # One field per entry, `class US member US t US power` (US = \x1f, never in an id):
        # a quarter of the reply to parse. An entry deleted after its XACK can reappear in a
        # pending read as (id, None): skip it.
        entries = []
        for ident, fields in raw:
            if fields:
                class_id, member, t, power = fields["e"].split("\x1f")
                entries.append(StreamEntry(ident, class_id, member, float(t), float(power)))
        return entries

    async def commit(self, shard: int, entries: list[StreamEntry]) -> int:
        if not entries:
            return 0
        boards: dict[str, int] = {}
        args: list[Any] = [GROUP]
        for e in entries:
            index = boards.setdefault(e.class_id, len(boards) + 2)  # KEYS[1] is the stream
            args += (e.id, index, e.member, repr(output_kj(e.power_w)))
        keys = [f"{P}ingest:{shard}", *(f"{P}lb:{c}" for c in boards)]
        try:
            return int(await self._commit(keys=keys, args=args))
        except BaseException:
            self._caught_up[shard] = False  # not acknowledged: they are still ours, pending
            raise

    async def backlog(self) -> dict[int, int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xlen(f"{P}ingest:{shard}")
            lengths = await pipe.execute()
        return dict(enumerate(int(n) for n in lengths))

    async def leaderboard(self, class_id: str, n: int) -> tuple[list[tuple[str, float]], int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(f"{P}lb:{class_id}", 0, n - 1, withscores=True)
            pipe.zcard(f"{P}lb:{class_id}")
            top, total = await pipe.execute()
        return [(m, float(s)) for m, s in top], int(total)

    async def add_workout(self, workout: WorkoutRequest, created_at: float, weight: float) -> str:
        workout_id = f"w{await self.redis.incr(f'{P}workout_seq')}"
        fields = {
            "rider_id": workout.rider_id,
            "class_id": workout.class_id,
            "duration_s": repr(workout.duration_s),
            "output_kj": "" if workout.output_kj is None else repr(workout.output_kj),
            "device_id": workout.device_id or "",
            "created_at": repr(created_at),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}workout:{workout_id}", mapping=fields)
            pipe.hincrbyfloat(f"{P}interactions", f"{workout.rider_id}\t{workout.class_id}", weight)
            await pipe.execute()
        return workout_id

    async def workout(self, workout_id: str) -> dict[str, Any] | None:
        raw: dict[str, str] = await self.redis.hgetall(f"{P}workout:{workout_id}")
        if not raw:
            return None
        rating = raw.get("fb_rating")
        return {
            "workout_id": workout_id,
            "rider_id": raw["rider_id"],
            "class_id": raw["class_id"],
            "duration_s": float(raw["duration_s"]),
            "output_kj": _float(raw.get("output_kj")),
            "device_id": raw.get("device_id") or None,
            "created_at": float(raw["created_at"]),
            "fb_rating": None if rating is None else int(rating),
            "fb_completion": _float(raw.get("fb_completion")),
            "fb_weight": _float(raw.get("fb_weight")),
        }

    async def replace_feedback(
        self, workout_id: str, rating: int, completion_pct: float, weight: float
    ) -> float | None:
        keys = [f"{P}workout:{workout_id}", f"{P}interactions"]
        previous = await self._feedback(
            keys=keys, args=[rating, repr(completion_pct), repr(weight)]
        )
        return None if previous is None else float(previous)

    async def add_interaction(self, rider_id: str, class_id: str, weight: float) -> None:
        await self.redis.hincrbyfloat(f"{P}interactions", f"{rider_id}\t{class_id}", weight)

    async def interactions(self) -> list[tuple[str, str, float]]:
        raw: dict[str, str] = await self.redis.hgetall(f"{P}interactions")
        pairs = sorted((k.split("\t", 1), float(v)) for k, v in raw.items())
        return [(rider, cls, weight) for (rider, cls), weight in pairs]
