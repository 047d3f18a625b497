"""The reference platform's state: its settings and the state its handlers share.

`ServeSettings` is frozen and validated when built (a bad value is an `InputError` naming the
option). `ServeState` gathers what every handler needs, the faults a drill injects
(`twin.serve.faults.Faults`) among them, and lives on the application as `app[STATE]`.
Its life: built by `create_app`, *pending* while components start (the backend, the stream
processor, the recommender's first training), *ready* once none is pending, and closed on cleanup.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from twin.errors import InputError
from twin.serve.tokens import check_secret

if TYPE_CHECKING:
    import numpy as np

    from twin.serve.backends.base import Backend
    from twin.serve.fault_sync import FaultSync
    from twin.serve.faults import Faults
    from twin.serve.metrics import Metrics
    from twin.serve.ratelimit import Limiter
    from twin.serve.sealing import SampleSealer
    from twin.serve.tokens import Signer

__all__ = ["STATE", "ServeSettings", "ServeState"]

_SOURCE = "twin serve"


def _positive(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
        raise InputError(_SOURCE, name, f"must be a finite number > 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """Everything `twin serve` is told; validated once, never changed while serving.

    Rates are per second. `burst` and `rate_per_s` are the per-token bucket (the seeds' nginx
    `rate=10r/s burst=20`); `device_samples_per_s`/`device_burst` bound one device's telemetry
    in samples. `consumers` is the number of stream shards, each read by one consumer.
    `secret` signs tokens (at least 32 bytes; `twin.serve.secret` finds it). Admin tokens are
    refused unless `admin`, and then from loopback clients only unless `admin_remote`.
    `max_inflight` is the admission limit of each process (`twin.serve.admission`).
    """

    secret: str
    host: str = "127.0.0.1"
    port: int = 8080
    redis_url: str | None = None
    data_dir: Path = Path(".twin-serve")
    admin: bool = False  # the fault-injection API and admin tokens; off unless asked for
    admin_remote: bool = False  # admin requests from other hosts than loopback too
    rate_per_s: float = 10.0
    burst: float = 20.0
    device_samples_per_s: float = 10.0
    device_burst: float = 1200.0
    max_batch: int = 600
    max_body_bytes: int = 1 << 20
    max_future_s: float = 5.0
    max_age_s: float = 86_400.0
    origin_egress_bps: float | None = None
    media_cache_dir: Path | None = None  # encoded HLS segments; None: the user's cache
    seed: int = 0
    n_riders: int = 2000
    retrain_interval_s: float = 300.0
    cache_ttl_s: float = 3600.0
    consumers: int = 4
    max_lag_s: float = 30.0  # a shard stalled on a backlog this long makes /healthz degraded
    allow_data_loss: bool = False  # a Redis without AOF (checked by `twin.serve.runner`)
    max_inflight: int = 128  # requests in progress per process; past it, 503 (`admission`)
    tls_cert: Path | None = None  # PEM certificate chain: serve HTTPS (with `tls_key`)
    tls_key: Path | None = None
    worker_index: int = 0

    def __post_init__(self) -> None:
        for name in ("rate_per_s", "burst", "device_samples_per_s", "device_burst"):
            _positive(name, getattr(self, name))
        for name in ("max_future_s", "max_age_s", "retrain_interval_s", "cache_ttl_s", "max_lag_s"):
            _positive(name, getattr(self, name))
        for name in ("max_batch", "max_body_bytes", "consumers", "n_riders", "max_inflight"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(_SOURCE, name, f"must be an integer >= 1, got {value!r}")
        if not 0 <= self.port <= 65535:
            raise InputError(_SOURCE, "port", f"must be in 0..65535, got {self.port}")
        if self.max_batch > self.device_burst:
            raise InputError(_SOURCE, "max_batch", "must not exceed device_burst")
        if self.origin_egress_bps is not None:
            _positive("origin_egress_bps", self.origin_egress_bps)
        if (self.tls_cert is None) != (self.tls_key is None):
            raise InputError("--tls-cert", None, "--tls-cert and --tls-key go together")
        try:
            check_secret(self.secret)
        except ValueError as exc:
            raise InputError(_SOURCE, "secret", str(exc)) from None

    @property
    def scheme(self) -> str:
        return "http" if self.tls_cert is None else "https"

    @property
    def backend_kind(self) -> str:
        return "redis" if self.redis_url else "embedded"


@dataclass(eq=False)
class ServeState:
    """What handlers share: settings, storage, catalogue, token checks, metrics, faults.

    `catalog` is a `twin.platform.catalog.Catalog`; `sealer` encrypts the samples at rest.
    `extras` is a place for the edge modules (streaming, recommend, admin) to keep their own
    objects under their own keys. On the Redis
    backend the limiters keep their buckets in Redis and `fault_sync` shares the faults
    between worker processes (`twin.serve.fault_sync`); on the embedded one both are local.
    """

    settings: ServeSettings
    backend: Backend
    catalog: Any
    signer: Signer
    metrics: Metrics
    faults: Faults
    rng: np.random.Generator
    user_limiter: Limiter
    device_limiter: Limiter
    sealer: SampleSealer
    fault_sync: FaultSync | None = None
    pending: set[str] = field(default_factory=set)
    extras: dict[str, Any] = field(default_factory=dict)
    _classes: dict[str, Any] = field(default_factory=dict, repr=False)

    def find_class(self, class_id: str) -> Any:
        """`catalog.get(class_id)`, memoised: a live class is rebuilt from its id with a fresh
        generator each time (half a millisecond), and telemetry asks for it on every batch."""
        try:
            return self._classes[class_id]
        except KeyError:
            pass
        info = self.catalog.get(class_id)
        if len(self._classes) >= 10_000:  # bounded: a client may send any number of ids
            self._classes.clear()
        self._classes[class_id] = info
        return info

    @property
    def ready(self) -> bool:
        """True once no component is still starting (see `mark_pending`)."""
        return not self.pending

    def mark_pending(self, component: str) -> None:
        """Hold `/healthz` at 503 until `mark_ready(component)`."""
        self.pending.add(component)

    def mark_ready(self, component: str) -> None:
        self.pending.discard(component)


STATE = web.AppKey("twin_state", ServeState)
