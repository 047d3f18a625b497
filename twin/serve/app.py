"""Assembles the reference platform: `create_app(settings) -> aiohttp.web.Application`.

The core (this package's ingest, classes, workouts and operations routes, its middlewares,
the backend and the stream processor) is always there. The edge modules (`streaming`,
`recommend`, `admin`, `openapi`) are added by calling their `setup(app)` when they exist, and
fault injection (`twin.serve.fault_injection.middleware`) goes first in the pipeline when it
exists.
The backend and the stream processor start in a cleanup context registered before any edge
module's, so they are up before an edge module starts and still up while it stops, with the
watch that keeps the revoked token ids current. The admin module is added only when the
settings ask for it (`twin serve --admin`).
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Middleware

from twin.serve import (
    middleware,
    routes_classes,
    routes_ingest,
    routes_ops,
    routes_tempo,
    routes_workouts,
)
from twin.serve.admission import ADMISSION, Admission, admission, redis_pool_size
from twin.serve.backends import open_backend
from twin.serve.backends.base import Backend
from twin.serve.backends.redis_limiter import RedisLimiter
from twin.serve.backends.sqlite import KINDS
from twin.serve.fault_sync import FaultSync
from twin.serve.faults import Faults
from twin.serve.loop_lag import LoopLag
from twin.serve.metrics import Metrics
from twin.serve.processor import PROCESSOR_KEY, StreamProcessor
from twin.serve.ratelimit import Limiter, LocalLimiter
from twin.serve.revocation import RevocationWatch
from twin.serve.sealing import KEY_FILE, SampleSealer, load_key, refuse_other_key
from twin.serve.state import STATE, ServeSettings, ServeState
from twin.serve.tokens import Signer

__all__ = ["EDGE_MODULES", "build_state", "create_app"]

EDGE_MODULES = (
    "twin.serve.streaming",
    "twin.serve.recommend",
    "twin.serve.admin",
    "twin.serve.openapi",
)
ADMIN_MODULE = "twin.serve.admin"
REVOCATIONS_KEY = "revocations"
_CORE = "backend"


def _exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_state(settings: ServeSettings) -> ServeState:
    """The shared state, with the catalogue drawn from the settings' seed."""
    # Deferred: numpy and the catalogue are needed once a state is built, not on import.
    import numpy as np

    from twin.platform.catalog import build_catalog

    catalog_rng, state_rng = np.random.default_rng(settings.seed).spawn(2)
    backend = open_backend(
        redis_url=settings.redis_url,
        data_dir=settings.data_dir,
        shards=settings.consumers,
        pool_size=redis_pool_size(settings.max_inflight, settings.consumers),
    )
    faults = Faults()
    state = ServeState(
        settings=settings,
        backend=backend,
        catalog=build_catalog(catalog_rng),
        signer=Signer(settings.secret),
        metrics=Metrics(),
        faults=faults,
        rng=state_rng,
        user_limiter=_limiter(backend, "token", settings.rate_per_s, settings.burst),
        device_limiter=_limiter(
            backend, "device", settings.device_samples_per_s, settings.device_burst
        ),
        sealer=SampleSealer(load_key(settings.data_dir)),
    )
    if settings.redis_url:
        state.fault_sync = FaultSync(backend, faults)  # type: ignore[arg-type]
    return state


def _limiter(backend: Backend, name: str, rate: float, burst: float) -> Limiter:
    """Buckets in Redis on the Redis backend (shared by the workers), else in this process."""
    if backend.kind == "redis":
        return RedisLimiter(backend, name, rate, burst)  # type: ignore[arg-type]
    return LocalLimiter(name, rate, burst)


def _middlewares(settings: ServeSettings) -> list[Middleware]:
    chain: list[Middleware] = [
        middleware.metrics,
        admission,  # early: a refusal must cost little (the 503s still counted by route)
        middleware.errors,
        middleware.body_limit,
        middleware.auth,
        middleware.rate_limit,
    ]
    if settings.redis_url:
        chain.append(middleware.share_faults)
    if _exists("twin.serve.fault_injection"):
        chain.insert(0, importlib.import_module("twin.serve.fault_injection").middleware)
    return chain


async def _core(app: web.Application) -> AsyncIterator[None]:
    state = app[STATE]
    await state.backend.start()
    if (time_calls := getattr(state.backend, "time_calls", None)) is not None:  # embedded
        kinds = {kind: state.metrics.sqlite.labels(kind) for kind in KINDS}
        time_calls(lambda kind, seconds: kinds[kind].observe(seconds))
    stored_key = await state.backend.claim_key_id(state.sealer.key_id)
    if stored_key != state.sealer.key_id:
        await state.backend.close()
        raise refuse_other_key(state.settings.data_dir / KEY_FILE, stored_key, state.sealer.key_id)
    revocations = RevocationWatch(state.backend, state.signer)
    await revocations.start()
    state.extras[REVOCATIONS_KEY] = revocations
    if state.fault_sync is not None:
        await state.fault_sync.start()
    processor = StreamProcessor(
        state.backend, state.metrics, state.faults, worker=state.settings.worker_index
    )
    await processor.start()
    state.extras[PROCESSOR_KEY] = processor
    loop_lag = LoopLag(state.metrics.loop_lag)
    await loop_lag.start()
    state.mark_ready(_CORE)
    yield
    await loop_lag.stop()
    await processor.stop()
    await revocations.stop()
    if state.fault_sync is not None:
        await state.fault_sync.stop()
    await state.backend.close()


def create_app(settings: ServeSettings) -> web.Application:
    """The application for `settings`; serve it with aiohttp's runner (see `twin.cli.serve`)."""
    state = build_state(settings)
    app = web.Application(
        middlewares=_middlewares(settings), client_max_size=settings.max_body_bytes
    )
    app[STATE] = state
    app[ADMISSION] = Admission(settings.max_inflight, state.metrics.registry)
    state.mark_pending(_CORE)
    app.cleanup_ctx.append(_core)
    for module in (routes_ops, routes_ingest, routes_classes, routes_workouts, routes_tempo):
        module.setup(app)
    for name in EDGE_MODULES:
        if name == ADMIN_MODULE and not settings.admin:
            continue  # no fault injection unless `twin serve --admin`
        if _exists(name):
            importlib.import_module(name).setup(app)
    return app
