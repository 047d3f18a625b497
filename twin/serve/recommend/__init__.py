"""Recommendations: implicit ALS on the population's history, cached, retrained as rides arrive.

`setup(app)` adds `GET /v1/riders/{rider_id}/recommendations` (route `recommend`), holds
`/healthz` at 503 until the first model is trained (in a worker thread, never on the event
loop), retrains every `retrain_interval_s` when the stored interactions changed, and caches
answers for `cache_ttl_s` (in process, or in Redis with SETEX on the Redis backend).
The service is `app[STATE].extras["recommend"]`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from aiohttp import web

from twin.serve.recommend.cache import MemoryCache, RecommendationCache, RedisCache
from twin.serve.recommend.model import AlsConfig
from twin.serve.recommend.routes import SERVICE_KEY, recommendations
from twin.serve.recommend.service import RecommendMetrics, RecommendService, initial_history
from twin.serve.state import STATE, ServeState

__all__ = ["setup"]

_COMPONENT = "recommend"


def setup(app: web.Application) -> None:
    """Register the route and the service's start-up and shutdown on `app`."""
    state = app[STATE]
    state.mark_pending(_COMPONENT)
    service = _build_service(state)
    state.extras[SERVICE_KEY] = service
    app.router.add_get(
        "/v1/riders/{rider_id}/recommendations", recommendations, name="recommend", allow_head=False
    )

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.get_running_loop().create_task(service.run(), name="twin-recommend")
        yield
        await service.stop(task)

    app.cleanup_ctx.append(lifecycle)


def _build_service(state: ServeState) -> RecommendService:
    settings = state.settings
    backend = state.backend
    cache: RecommendationCache = MemoryCache()
    if settings.redis_url:  # share the backend's client: it exists once the backend started
        cache = RedisCache(lambda: backend.redis)  # type: ignore[attr-defined]
    catalog = state.catalog
    return RecommendService(
        history=lambda: initial_history(catalog, settings.n_riders, settings.seed),
        interactions=backend.interactions,
        cache=cache,
        metrics=RecommendMetrics(state.metrics.registry),
        config=AlsConfig(seed=settings.seed),
        ttl_s=settings.cache_ttl_s,
        retrain_interval_s=settings.retrain_interval_s,
        on_ready=lambda: state.mark_ready(_COMPONENT),
    )
