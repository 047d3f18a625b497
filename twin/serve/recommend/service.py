"""The recommendation service: trains ALS off the event loop, retrains, caches, measures.

Its life: *training* from start-up (the platform's `/healthz` answers 503 meanwhile), then
*serving* from an immutable `Recommender`; every `retrain_interval_s` it reads the interactions
the platform stored (`POST /v1/workouts`, feedback) and, if they changed, trains a new model in a
worker thread and swaps it in. Answers are cached for `cache_ttl_s` under the model's
fingerprint, so a retrain never serves a list computed by the model before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge, Histogram

from twin.platform.population import build_population
from twin.serve.recommend.cache import RecommendationCache, cache_key
from twin.serve.recommend.interactions import History, generate_history
from twin.serve.recommend.model import AlsConfig, Interaction, Recommender, train

__all__ = ["RecommendMetrics", "RecommendService", "initial_history"]

log = logging.getLogger(__name__)
_HISTORY_STREAM = 0x5EC  # the recommender's own generator stream, derived from the run's seed
# Seed 000's prediction_latency_seconds buckets (0.1 ... 5 s) with finer ones below them: a
# cached or in-memory prediction takes well under a millisecond.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0)


class RecommendMetrics:
    """The seeds' `recommendation_requests_total` and `prediction_latency_seconds`, and more."""

    def __init__(self, registry: Any) -> None:

        self.requests = Counter(
            "recommendation_requests", "Total recommendation requests", registry=registry
        )
        self.latency = Histogram(
            "prediction_latency_seconds",
            "Time taken for predictions",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cache = Counter(
            "recommendation_cache", "Recommendation cache lookups", ["result"], registry=registry
        )
        self.trainings = Counter("recommendation_trainings", "ALS fits", registry=registry)
        self.training_seconds = Gauge(
            "recommendation_training_seconds", "Wall time of the last ALS fit", registry=registry
        )
        self.riders = Gauge(
            "recommendation_model_riders", "Riders the current model knows", registry=registry
        )
        self.answers = Counter(
            "recommendation_answers",
            "Answers by source: the model, or the cold-start popularity fallback",
            ["source"],
            registry=registry,
        )


def initial_history(catalog: Any, n_riders: int, seed: int) -> History:
    """The generated history of `n_riders` population riders: same seed, same history."""

    rng = np.random.default_rng([seed, _HISTORY_STREAM])
    return generate_history(build_population(n_riders, rng), catalog, rng)


class RecommendService:
    """Holds the current model; `run()` trains then retrains; `recommend()` answers."""

    def __init__(
        self,
        *,
        history: Callable[[], History],
        interactions: Callable[[], Awaitable[Iterable[Interaction]]],
        cache: RecommendationCache,
        metrics: RecommendMetrics,
        config: AlsConfig,
        ttl_s: float,
        retrain_interval_s: float,
        on_ready: Callable[[], None] = lambda: None,
    ) -> None:
        self._history_factory = history
        self._history: History | None = None
        self._interactions = interactions
        self.cache = cache
        self.metrics = metrics
        self.config = config
        self.ttl_s = ttl_s
        self.retrain_interval_s = retrain_interval_s
        self._on_ready = on_ready
        self.model: Recommender | None = None
        self._trained_on: int | None = None
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Train once, report ready, then retrain every interval while anything changed."""
        try:
            await self.retrain(force=True)
        except Exception:  # /healthz stays 503 naming "recommend"; say why in the log
            log.exception("the recommender's first training failed")
            raise
        self._on_ready()
        while True:
            await asyncio.sleep(self.retrain_interval_s)
            try:
                await self.retrain()
            except Exception:  # a failed retrain keeps the old model serving
                log.exception("recommendation retrain failed; keeping the current model")

    async def retrain(self, *, force: bool = False) -> bool:
        """Fit on the history plus stored interactions if they changed; True if it did."""
        async with self._lock:
            extra = list(await self._interactions())
            if not force and self._trained_on == len(extra):
                return False
            started = time.perf_counter()
            self.model = await asyncio.to_thread(self._fit, extra)
            self._trained_on = len(extra)
        self.metrics.trainings.inc()
        self.metrics.training_seconds.set(time.perf_counter() - started)
        self.metrics.riders.set(self.model.n_riders)
        return True

    def _fit(self, extra: list[Interaction]) -> Recommender:
        if self._history is None:
            self._history = self._history_factory()
        return train(self._history, extra, self.config)

    async def recommend(
        self, rider: str, n: int, *, region: str | None = None, device: str | None = None
    ) -> dict[str, Any]:
        """`{"source": "model", "recommendations": [{"class_id", "score"}]}`, top `n` first.

        A rider the model does not know gets `{"source": "popular", "region", "device", ...}`:
        the most popular classes of that region and device (either may be None: all). Raises
        `LookupError` while the first model is still training.
        """
        self.metrics.requests.inc()
        model = self.model
        if model is None:
            raise LookupError("the recommender is still training")
        if not model.knows(rider):
            self.metrics.answers.labels(source="popular").inc()
            popular = model.popular.top(n, region, device)
            return {"source": "popular", "region": popular.region, "device": popular.device,
                    "recommendations": _listed(popular.ranked)}  # fmt: skip
        self.metrics.answers.labels(source="model").inc()
        return {"source": "model", "recommendations": await self._personal(model, rider, n)}

    async def _personal(self, model: Recommender, rider: str, n: int) -> list[dict[str, Any]]:
        """The model's top `n` for a rider it knows, through the cache."""
        key = cache_key(model.fingerprint, rider, n)
        cached = await self.cache.get(key)
        self.metrics.cache.labels(result="miss" if cached is None else "hit").inc()
        if cached is not None:
            return cached
        with self.metrics.latency.time():
            ranked = model.recommend(rider, n) or []
        value = _listed(ranked)
        await self.cache.set(key, value, self.ttl_s)
        return value

    async def stop(self, task: asyncio.Task[None] | None) -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.cache.close()


def _listed(ranked: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"class_id": c, "score": round(s, 6)} for c, s in ranked]
