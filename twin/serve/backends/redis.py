"""The Redis backend: Redis Streams with a consumer group per shard, sorted sets, hashes.

Keys (prefix `twin:`):

| key | type | holds |
|---|---|---|
| `s:{device}` | hash | seq -> sealed sample JSON: the durable record and the idempotency check |
| `ingest:{k}` | stream | shard k's entries for the stream processor (group `leaderboard`) |
| `backlog:{k}` | counter | samples in shard k's stream not yet on a leaderboard |
| `rl:{limit}:{key}` | hash | a rate-limit bucket (`redis_limiter`), expiring when full |
| `faults` | string, channel | the faults in force, announced to every worker |
| `lb:{class}` | sorted set | rider -> output kJ |
| `riders:{class}` | set | riders who joined the class |
| `rider_of` | hash | device -> rider |
| `workout:{id}`, `workout_seq` | hash, counter | ride summaries |
| `workout_keys` | hash | `rider<TAB>Idempotency-Key` -> workout id and request fingerprint |
| `interactions` | hash | `rider<TAB>class` -> summed weight, for the recommender |
| `revoked` | hash | revoked token id -> when it may be forgotten (`twin.serve.revocation`) |
| `samples_key_id` | string | the id of the key the samples are sealed with (`twin.serve.sealing`) |

If Redis loses its data (restarted without persistence), a consumer's read answers `NOGROUP`:
the consumer recreates the group from the stream's first entry and carries on, so what was
ingested after the loss still reaches the leaderboards.

Two Lua scripts carry the guarantees. `INGEST` stores each sample with HSETNX and XADDs one
entry holding only the new ones, in one atomic step: a retried batch can neither be stored
twice nor be streamed twice. It first spends the request's rate-limit charges (the token's
bucket and the device's, `twin.serve.backends.redis_limiter`), so a telemetry request is one
round trip.
Concurrent requests use separate connections, and Redis answers all the commands it read in
one event-loop pass after one AOF fsync: the group commit is Redis' own. The writes' round
trips are timed as waits for that commit (`twin.serve.backends.commit_wait`), reported in
`/metrics` as `twin_commit_wait_seconds`.
`COMMIT` XACKs each entry and adds its output to the leaderboard only if the XACK acknowledged
it (a redelivered entry already applied is skipped), then XDELs the entries, so the stream
holds exactly the backlog. The 202 is sent after Redis answered; with `appendonly yes` and
`appendfsync always`, Redis answers only once the AOF is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from itertools import chain
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from twin.errors import TargetError
from twin.serve.backends import redact_url
from twin.serve.backends.base import (
    Conflict,
    IngestResult,
    StreamEntry,
    output_kj,
    shard_of,
)
from twin.serve.backends.commit_wait import waiting_for_commit
from twin.serve.backends.redis_limiter import BUCKET_FUNCTION, RedisLimiter
from twin.serve.ratelimit import Charge
from twin.serve.revocation import REDIS_KEY as REVOKED_KEY
from twin.serve.validation import TelemetryBatch, WorkoutRequest

__all__ = [
    "GROUP",
    "RedisBackend",
    "client_room_problem",
    "connect",
    "persistence_problem",
]

log = logging.getLogger("twin.serve")

P = "twin:"
GROUP = "leaderboard"
CLAIM_EVERY_S = 30.0
CLAIM_IDLE_MS = 60_000
_encode = msgspec.json.Encoder().encode
_decode_floats = msgspec.json.Decoder(list[float]).decode

# KEYS: samples hash, stream, rider_of, backlog counter, then one bucket per charge. ARGV:
# device, class, times JSON, powers JSON, seqs joined by commas, documents joined by RS (\x1e,
# never in a document), the number of charges, then 4 per charge (rate, burst, cost, expiry
# ms). Two arguments for all the samples, not two each: packing the command is Python's work.
# Reply {0, accepted}, or {k, wait} when charge k was refused (nothing stored, charges before
# k spent), or {-1, seq, stored document} when a seq is stored with another document (nothing
# stored, the charges spent).
INGEST = (
    BUCKET_FUNCTION
    + """
for k = 1, tonumber(ARGV[7]) do
  local a = 7 + (k - 1) * 4
  local wait = take(KEYS[4 + k], tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]),
                    tonumber(ARGV[a + 3]), ARGV[a + 4])
  if wait then return {k, wait} end
end
local rider = redis.call('HGET', KEYS[3], ARGV[1])
if not rider then rider = 'device:' .. ARGV[1] end
local docs, seqs = {}, {}
for doc in string.gmatch(ARGV[6], '[^\\30]+') do docs[#docs + 1] = doc end
for seq in string.gmatch(ARGV[5], '[^,]+') do seqs[#seqs + 1] = seq end
local stored = redis.call('HMGET', KEYS[1], unpack(seqs))
for i = 1, #seqs do
  if stored[i] and stored[i] ~= docs[i] then return {-1, seqs[i], stored[i]} end
end
local flags, accepted, n = {}, 0, 0
for _, seq in ipairs(seqs) do
  n = n + 1
  if redis.call('HSETNX', KEYS[1], seq, docs[n]) == 1 then
    accepted = accepted + 1
    flags[n] = '1'
  else
    flags[n] = '0'
  end
end
if accepted > 0 then
  local mask = ''
  if accepted < n then mask = table.concat(flags) end
  local entry = table.concat({ARGV[2], rider, ARGV[3], ARGV[4], mask}, '\\31')
  redis.call('XADD', KEYS[2], '*', 'e', entry)
  redis.call('INCRBY', KEYS[4], accepted)
end
return {0, accepted}
"""
)

COMMIT = """
local sums = {}
local applied = 0
local ids = {}
for i = 2, #ARGV, 5 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    local k = tonumber(ARGV[i + 1])
    sums[k] = sums[k] or {}
    sums[k][ARGV[i + 2]] = (sums[k][ARGV[i + 2]] or 0) + tonumber(ARGV[i + 3])
    applied = applied + tonumber(ARGV[i + 4])
  end
  ids[#ids + 1] = ARGV[i]
end
for i = 1, #ids, 1000 do  -- unpack is bounded by Lua's C stack
  redis.call('XDEL', KEYS[1], unpack(ids, i, math.min(i + 999, #ids)))
end
for k, members in pairs(sums) do
  for member, kj in pairs(members) do
    redis.call('ZINCRBY', KEYS[k], kj, member)
  end
end
if applied > 0 then redis.call('DECRBY', KEYS[2], applied) end
return applied
"""

# KEYS: workout_keys, workout_seq, interactions. ARGV: `rider TAB key` (empty: no key), the
# request's fingerprint, the workout hash prefix, `rider TAB class`, the weight, then field
# name/value pairs. Reply {id, 0, ''} when stored now, {id, 1, fingerprint} when the key was
# known (nothing stored). The workout's own key is made here from its new id: one Redis, not
# a cluster.
ADD_WORKOUT = """
if ARGV[1] ~= '' then
  local known = redis.call('HGET', KEYS[1], ARGV[1])
  if known then
    local cut = string.find(known, '\\n', 1, true)
    return {string.sub(known, 1, cut - 1), 1, string.sub(known, cut + 1)}
  end
end
local id = 'w' .. redis.call('INCR', KEYS[2])
redis.call('HSET', ARGV[3] .. id, unpack(ARGV, 6))
redis.call('HINCRBYFLOAT', KEYS[3], ARGV[4], ARGV[5])
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], id .. '\\n' .. ARGV[2]) end
return {id, 0, ''}
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


POOL_WAIT_S = 5.0  # a request waits this long for a free connection, then it is a 503


async def connect(url: str, pool_size: int | None = None) -> aioredis.Redis:
    """A client for `url` that answered PING, or a one-line `TargetError`.

    With `pool_size`, at most that many connections, and a caller finding none free waits for
    one (`POOL_WAIT_S`) instead of failing with "Too many connections".
    """
    try:
        if pool_size is None:
            client = aioredis.from_url(url, decode_responses=True)
        else:
            pool = aioredis.BlockingConnectionPool.from_url(
                url, max_connections=pool_size, timeout=POOL_WAIT_S, decode_responses=True
            )
            client = aioredis.Redis.from_pool(pool)
    except ValueError as exc:
        raise TargetError(f"--redis {redact_url(url)!r}: not a Redis URL") from exc
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        raise TargetError(f"--redis {redact_url(url)!r}: cannot reach Redis ({exc})") from exc
    return client


SAFE_FSYNC = ("always", "everysec")


async def persistence_problem(client: aioredis.Redis) -> str | None:
    """Why Redis would lose acknowledged writes on a restart (None: AOF with a safe fsync)."""
    try:
        aof = (await client.config_get("appendonly")).get("appendonly")
        fsync = (await client.config_get("appendfsync")).get("appendfsync")
    except ResponseError as exc:  # CONFIG disabled, as on some managed services
        return f"its persistence cannot be checked (CONFIG GET: {exc})"
    if aof != "yes":
        return f"it runs without AOF (appendonly {aof})"
    if fsync not in SAFE_FSYNC:
        return f"its AOF is not synced (appendfsync {fsync}; needs always or everysec)"
    return None


async def client_room_problem(client: aioredis.Redis, needed: int) -> str | None:
    """Why Redis would refuse some of the `needed` connections (None: its maxclients allow)."""
    try:
        most = int((await client.config_get("maxclients")).get("maxclients") or 0)
    except (ResponseError, ValueError):
        return None  # CONFIG refused: persistence_problem has said so
    if needed > most:
        return f"its maxclients {most} is below the {needed} connections the workers may open"
    return None


def _float(value: Any) -> float | None:
    return None if value in (None, "") else float(value)


class RedisBackend:
    """Streams, sorted sets and hashes on one Redis server, shared by any number of processes."""

    kind = "redis"

    def __init__(self, url: str, *, shards: int, pool_size: int | None = None) -> None:
        self.url = url
        self.shards = shards
        self.pool_size = pool_size
        self.client: aioredis.Redis | None = None
        self._caught_up = [False] * shards
        self._last_claim = [0.0] * shards
        self._ingest: Any = None  # the Lua scripts, registered on start()
        self._commit: Any = None
        self._feedback: Any = None
        self._add_workout: Any = None

    @property
    def redis(self) -> Any:  # redis-py's stubs type replies for both RESP2 and RESP3
        assert self.client is not None, "backend not started"
        return self.client

    async def start(self) -> None:
        self.client = await connect(self.url, self.pool_size)
        self._ingest = self.client.register_script(INGEST)
        self._commit = self.client.register_script(COMMIT)
        self._feedback = self.client.register_script(FEEDBACK)
        self._add_workout = self.client.register_script(ADD_WORKOUT)
        for shard in range(self.shards):
            await self._create_group(shard)

    async def _create_group(self, shard: int) -> None:
        """The shard's stream and consumer group, from its first entry (exists already: fine)."""
        try:
            await self.redis.xgroup_create(f"{P}ingest:{shard}", GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def close(self, grace_s: float = 5.0) -> None:
        if self.client is not None:
            try:
                await asyncio.wait_for(self.client.aclose(), grace_s)
            except TimeoutError:  # a connection stuck mid-command: do not hang the shutdown
                log.warning("redis: connections not closed after %g s", grace_s)
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
        return f"redis {redact_url(self.url)} ({durability})"

    async def ingest(self, batch: TelemetryBatch, charges: Sequence[Charge] = ()) -> IngestResult:
        shard = shard_of(batch.device_id, self.shards)
        keys = [f"{P}s:{batch.device_id}", f"{P}ingest:{shard}", f"{P}rider_of"]
        keys.append(f"{P}backlog:{shard}")
        args = [batch.device_id, batch.class_id, _encode(batch.times), _encode(batch.powers),
                ",".join(map(str, batch.seqs)), batch.docs_json[1:-1].replace("},{", "}\x1e{"),
                len(charges)]  # fmt: skip
        for charge in charges:
            limiter: RedisLimiter = charge.limiter  # type: ignore[assignment]
            keys.append(limiter.redis_key(charge.key))
            args += (limiter.rate, limiter.burst, charge.cost, limiter.expire_ms)
        with waiting_for_commit():
            refused, value, *stored = await self._ingest(keys=keys, args=args)
        if int(refused) < 0:
            return IngestResult(0, 0, conflict=Conflict(int(value), stored[0]))
        if refused:
            return IngestResult(0, 0, charges[int(refused) - 1], float(value))
        return IngestResult(int(value), len(batch) - int(value))

    async def samples_json(self, device_id: str) -> list[str]:
        stored: dict[str, str] = await self.redis.hgetall(f"{P}s:{device_id}")
        return [stored[seq] for seq in sorted(stored, key=int)]

    async def join(self, class_id: str, rider_id: str, device_id: str | None) -> bool:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(f"{P}riders:{class_id}", rider_id)
            if device_id is not None:
                pipe.hset(f"{P}rider_of", device_id, rider_id)
            with waiting_for_commit():
                added, *_ = await pipe.execute()
        return bool(added)

    async def read_shard(
        self, shard: int, consumer: str, count: int, block_s: float
    ) -> list[StreamEntry]:
        try:
            return await self._read_shard(shard, consumer, count, block_s)
        except ResponseError as exc:
            self._caught_up[shard] = False
            if not str(exc).startswith("NOGROUP"):
                raise
            # Redis lost its data (restarted without persistence, or flushed): the group is
            # gone and XADD made the stream again without it. Recreate it from the stream's
            # first entry, so the entries acknowledged since are read, then catch up.
            log.warning("redis: shard %d lost its consumer group; recreating it", shard)
            await self._create_group(shard)
            return []
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
        # One field per entry, `class US member US times US powers US mask` (US = \x1f, never in
        # an id; times and powers JSON arrays; mask empty, or 0/1 per sample when some were
        # repeats). An entry deleted after its XACK can reappear in a pending read as
        # (id, None): skip it.
        entries = []
        for ident, fields in raw:
            if fields:
                class_id, member, times, powers, mask = fields["e"].split("\x1f")
                t, p = _decode_floats(times), _decode_floats(powers)
                if mask:
                    t = [x for x, new in zip(t, mask, strict=True) if new == "1"]
                    p = [x for x, new in zip(p, mask, strict=True) if new == "1"]
                entries.append(StreamEntry(ident, class_id, member, tuple(t), output_kj(sum(p))))
        return entries

    async def commit(self, shard: int, entries: list[StreamEntry]) -> int:
        if not entries:
            return 0
        boards: dict[str, int] = {}
        args: list[Any] = [GROUP]
        for e in entries:
            index = boards.setdefault(e.class_id, len(boards) + 3)  # after stream and backlog
            args += (e.id, index, e.member, repr(e.output_kj), e.samples)
        keys = [f"{P}ingest:{shard}", f"{P}backlog:{shard}", *(f"{P}lb:{c}" for c in boards)]
        try:
            return int(await self._commit(keys=keys, args=args))
        except BaseException:
            self._caught_up[shard] = False  # not acknowledged: they are still ours, pending
            raise

    async def backlog(self) -> dict[int, int]:
        counts = await self.redis.mget([f"{P}backlog:{shard}" for shard in range(self.shards)])
        return {shard: int(n or 0) for shard, n in enumerate(counts)}

    async def cadence_window(
        self, device_id: str, t: float, cadence_rpm: float, window_s: float
    ) -> list[tuple[float, float]]:
        """A sorted set per device, scored by time, trimmed to the window before this sample
        and expiring with it, in one transaction (a member is `t:rpm`, unique per sample; a
        later sample already kept stays, and `twin.serve.tempo_bpm` reads from the newest)."""
        key, since = f"{P}cadence:{device_id}", t - window_s
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {f"{t!r}:{cadence_rpm!r}": t})
            pipe.zremrangebyscore(key, "-inf", f"({since!r}")
            pipe.zrangebyscore(key, since, "+inf")
            pipe.expire(key, max(1, math.ceil(2 * window_s)))
            with waiting_for_commit():
                _, _, members, _ = await pipe.execute()
        return [_cadence_sample(m) for m in members]

    async def leaderboard(self, class_id: str, n: int) -> tuple[list[tuple[str, float]], int]:
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrevrange(f"{P}lb:{class_id}", 0, n - 1, withscores=True)
            pipe.zcard(f"{P}lb:{class_id}")
            top, total = await pipe.execute()
        return [(m, float(s)) for m, s in top], int(total)

    async def add_workout(
        self,
        workout: WorkoutRequest,
        created_at: float,
        weight: float,
        idempotency: tuple[str, str] | None = None,
    ) -> tuple[str, str | None]:
        key, fingerprint = idempotency or ("", "")
        fields = {
            "rider_id": workout.rider_id,
            "class_id": workout.class_id,
            "duration_s": repr(workout.duration_s),
            "output_kj": "" if workout.output_kj is None else repr(workout.output_kj),
            "device_id": workout.device_id or "",
            "created_at": repr(created_at),
        }
        args = [f"{workout.rider_id}\t{key}" if key else "", fingerprint, f"{P}workout:",
                f"{workout.rider_id}\t{workout.class_id}", repr(weight)]  # fmt: skip
        args += chain.from_iterable(fields.items())
        keys = [f"{P}workout_keys", f"{P}workout_seq", f"{P}interactions"]
        with waiting_for_commit():
            workout_id, replayed, earlier = await self._add_workout(keys=keys, args=args)
        return workout_id, earlier if int(replayed) else None

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
        with waiting_for_commit():
            previous = await self._feedback(
                keys=keys, args=[rating, repr(completion_pct), repr(weight)]
            )
        return None if previous is None else float(previous)

    async def revoked_ids(self) -> set[str]:
        return set(await self.redis.hkeys(REVOKED_KEY))

    async def claim_key_id(self, key_id: str) -> str:
        await self.redis.set(f"{P}samples_key_id", key_id, nx=True)
        return str(await self.redis.get(f"{P}samples_key_id"))

    async def add_interaction(self, rider_id: str, class_id: str, weight: float) -> None:
        await self.redis.hincrbyfloat(f"{P}interactions", f"{rider_id}\t{class_id}", weight)

    async def interactions(self) -> list[tuple[str, str, float]]:
        raw: dict[str, str] = await self.redis.hgetall(f"{P}interactions")
        pairs = sorted((k.split("\t", 1), float(v)) for k, v in raw.items())
        return [(rider, cls, weight) for (rider, cls), weight in pairs]


def _cadence_sample(member: str) -> tuple[float, float]:
    """(t, rpm) of a cadence member `t:rpm`."""
    t, rpm = member.split(":")
    return float(t), float(rpm)
