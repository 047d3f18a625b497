"""The storage and stream boundary of the reference platform, as one small `Protocol`.

Two implementations sit behind it: `EmbeddedBackend` (everything in the process: SQLite for
what must survive a restart, an in-memory stream and leaderboards) and `RedisBackend` (Redis
Streams with a consumer group per shard, sorted sets, hashes). Handlers and the stream processor
speak only this protocol, so every test runs on both.

Ingest is idempotent by (device, seq): `ingest` stores each new sample durably *and* appends it
to its shard's stream in one atomic step, and reports how many were new and how many repeats.
A repeat must be the same document: a batch re-sending a stored seq with other content is a
`Conflict`, and nothing of it is stored.
The stream carries one entry per accepted batch (its new samples). The stream processor
`read_shard`s entries and `commit`s them, which adds each entry's output to its class
leaderboard and acknowledges it, again atomically, so a crash between the two never counts a
sample twice. Backlogs and commit counts are in samples.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twin.serve.ratelimit import Charge
    from twin.serve.validation import TelemetryBatch, WorkoutRequest

__all__ = [
    "Backend",
    "Conflict",
    "IngestResult",
    "StreamEntry",
    "feedback_weight",
    "member_of",
    "new_samples",
    "output_kj",
    "shard_of",
]

SAMPLE_PERIOD_S = 1.0  # telemetry is 1 Hz (DESIGN.md): each sample stands for one second of riding


@dataclass(frozen=True, slots=True)
class Conflict:
    """A sample whose (device, seq) is stored already with other content, and that content."""

    seq: int
    stored_json: str

    @property
    def fingerprint(self) -> str:
        """`sha256:` and the hex digest of the stored document, as the 409 shows it."""
        return "sha256:" + hashlib.sha256(self.stored_json.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What `ingest` did: samples stored and repeats, or the charge refused, or a conflicting
    re-send (in both cases nothing stored)."""

    accepted: int
    duplicates: int
    refused: Charge | None = None
    wait_s: float = 0.0
    conflict: Conflict | None = None


@dataclass(frozen=True, slots=True)
class StreamEntry:
    """The new samples of one accepted batch on their way to a leaderboard.

    `member` is the rider (or `device:<id>`), `times` each sample's time on the bike (for the
    leaderboard lag) and `output_kj` their summed output. One entry per batch, not per sample:
    the stream and its acknowledgements cost per request, not per sample.
    """

    id: str
    class_id: str
    member: str
    times: tuple[float, ...]
    output_kj: float

    @property
    def samples(self) -> int:
        return len(self.times)


def new_samples(batch: TelemetryBatch, seen: Collection[int]) -> tuple[list[float], list[float]]:
    """The times and powers of the batch's samples whose seq is not in `seen`."""
    if not seen:
        return batch.times, batch.powers
    keep = [i for i, seq in enumerate(batch.seqs) if seq not in seen]
    return [batch.times[i] for i in keep], [batch.powers[i] for i in keep]


def shard_of(device_id: str, shards: int) -> int:
    """The stream shard of a device: stable across processes and restarts (CRC-32, not hash())."""
    return zlib.crc32(device_id.encode()) % shards


def member_of(device_id: str, rider_id: str | None) -> str:
    """Leaderboard member of a device's samples: its rider if it joined a class, else itself."""
    return rider_id if rider_id is not None else f"device:{device_id}"


def output_kj(power_w: float) -> float:
    """Work done in one sample period: power x 1 s, in kJ (the leaderboard's 'output').

    Given the sum of several samples' power, the output of them all."""
    return power_w * SAMPLE_PERIOD_S / 1000.0


def feedback_weight(rating: int, completion_pct: float) -> float:
    """The seeds' feedback rule: weight = completion / 100, negated below 4 stars."""
    weight = completion_pct / 100.0
    return weight if rating >= 4 else -weight


class Backend(Protocol):
    """Storage + stream, as the handlers and the stream processor use them."""

    kind: str  # "embedded" or "redis"
    shards: int

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def describe(self) -> str:
        """One phrase for the ready line: where data lives and how durable it is."""
        ...

    async def ingest(self, batch: TelemetryBatch, charges: Sequence[Charge] = ()) -> IngestResult:
        """Spend `charges` in order, then store and stream the batch's new samples, durably.

        If a charge is refused, nothing is stored and the result says which (and the wait); if a
        sample conflicts with a stored one, nothing is stored and the result says which.
        """
        ...

    async def samples_json(self, device_id: str) -> list[str]:
        """The device's accepted samples as stored JSON documents, in seq order."""
        ...

    async def join(self, class_id: str, rider_id: str, device_id: str | None) -> bool:
        """Record that the rider joined; True the first time, False on a repeat."""
        ...

    async def read_shard(
        self, shard: int, consumer: str, count: int, block_s: float
    ) -> list[StreamEntry]: ...
    async def commit(self, shard: int, entries: list[StreamEntry]) -> int:
        """Apply entries to leaderboards and acknowledge them; how many samples were applied."""
        ...

    async def backlog(self) -> dict[int, int]:
        """Samples per shard not yet applied to a leaderboard."""
        ...

    async def leaderboard(self, class_id: str, n: int) -> tuple[list[tuple[str, float]], int]:
        """The top `n` (member, output kJ), best first, and how many members the board has."""
        ...

    async def add_workout(
        self,
        workout: WorkoutRequest,
        created_at: float,
        weight: float,
        idempotency: tuple[str, str] | None = None,
    ) -> tuple[str, str | None]:
        """Store a ride summary and add `weight` to its (rider, class) interaction.

        `idempotency` is (key, fingerprint of the request): if the rider already stored a
        workout under that key, nothing is stored and the answer is that workout's id and the
        fingerprint it was stored with; otherwise the new workout's id and None. Atomic.
        """
        ...

    async def workout(self, workout_id: str) -> dict[str, Any] | None: ...
    async def replace_feedback(
        self, workout_id: str, rating: int, completion_pct: float, weight: float
    ) -> float | None:
        """Set a workout's feedback, moving its interaction by `weight - previous weight`.

        Returns the previous weight (0.0 if none), or None if there is no such workout.
        """
        ...

    async def revoked_ids(self) -> set[str]:
        """The ids of revoked tokens (`twin.serve.revocation`)."""
        ...

    async def claim_key_id(self, key_id: str) -> str:
        """Record `key_id` as the samples' key if none is recorded; the recorded one."""
        ...

    async def cadence_window(
        self, device_id: str, t: float, cadence_rpm: float, window_s: float
    ) -> list[tuple[float, float]]:
        """Keep a cadence sample of the device's, and return its (t, rpm) samples of the
        `window_s` seconds up to its newest, oldest first (the tempo service's input; kept in
        memory or with an expiry: a tempo is worth nothing after its window)."""
        ...

    async def add_interaction(self, rider_id: str, class_id: str, weight: float) -> None: ...
    async def interactions(self) -> list[tuple[str, str, float]]:
        """Every (rider, class, summed weight): what the recommender trains on."""
        ...
