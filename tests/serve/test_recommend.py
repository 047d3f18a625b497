"""Recommendations: the ALS model really learns preferences, the cache expires, the route works."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import numpy as np
import pytest

from twin.config.vocabulary import DEVICES, REGION_CODES
from twin.platform.catalog import EQUIPMENT, build_catalog
from twin.serve.recommend.cache import MemoryCache, RedisCache, cache_key
from twin.serve.recommend.interactions import generate_history, rider_id, rider_index
from twin.serve.recommend.model import AlsConfig, train
from twin.serve.recommend.service import initial_history

SEED = 7
N_RIDERS = 1500


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return build_catalog(np.random.default_rng(SEED))


@pytest.fixture(scope="module")
def history(catalog):  # type: ignore[no-untyped-def]
    return initial_history(catalog, N_RIDERS, SEED)


@pytest.fixture(scope="module")
def model(history):  # type: ignore[no-untyped-def]
    return train(history, [], AlsConfig(seed=SEED))


def _types(catalog) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {c.id: c.type for c in catalog.on_demand}


def _yoga_rides(catalog, k: int = 8) -> list:  # type: ignore[no-untyped-def]
    """k yoga classes drawn as a yoga rider of the population picks them: by popularity."""
    yoga = [c for c in catalog.on_demand if c.type == "yoga"]
    weights = np.array([c.popularity for c in yoga])
    picks = np.random.default_rng(SEED).choice(
        len(yoga), k, replace=False, p=weights / weights.sum()
    )
    return [yoga[i] for i in picks]


def test_rider_ids_round_trip() -> None:
    assert rider_id(42) == "rider-42"
    assert rider_index("rider-42") == 42
    assert rider_index("rider-042") is None
    assert rider_index("rider-") is None
    assert rider_index("someone") is None


def test_history_follows_preferences_and_devices(catalog, history) -> None:  # type: ignore[no-untyped-def]
    from twin.platform.population import build_population

    rng = np.random.default_rng([SEED, 0x5EC])
    population = build_population(N_RIDERS, rng)
    types = np.array([catalog.type_index(c.type) for c in catalog.on_demand])
    taken_type = types[history.item]
    preferred = population.preferred_types[history.rider]
    # 80% of rides are of the preferred type by construction, plus the share of the other
    # 20% that lands on it by chance: well above half, well below all.
    share = float(np.mean(taken_type == preferred))
    assert 0.8 <= share <= 0.95
    # App-only riders never take a bike or tread class.
    app = population.device[history.rider] == 2
    bike_or_tread = np.isin(
        taken_type, [catalog.type_index("cycling"), catalog.type_index("running")]
    )
    assert not np.any(app & bike_or_tread)
    # Four weeks at each rider's weekly rate.
    expected = float(np.sum(np.maximum(1, population.weekly_rides * 4)))
    assert history.rider.size == pytest.approx(expected, rel=0.05)


def test_history_is_a_function_of_the_seed(catalog) -> None:  # type: ignore[no-untyped-def]
    a = initial_history(catalog, 300, 3)
    b = initial_history(catalog, 300, 3)
    c = initial_history(catalog, 300, 4)
    assert np.array_equal(a.item, b.item) and np.array_equal(a.rider, b.rider)
    assert not np.array_equal(a.item[:200], c.item[:200])


def test_als_uses_the_seeds_hyper_parameters(model) -> None:  # type: ignore[no-untyped-def]
    assert AlsConfig() == AlsConfig(factors=50, regularization=0.01, iterations=20, seed=0)
    inner = model._model
    assert (inner.factors, inner.regularization, inner.iterations) == (50, 0.01, 20)


def test_a_yoga_rider_gets_mostly_yoga(catalog, history) -> None:  # type: ignore[no-untyped-def]
    types = _types(catalog)
    yoga = [c.id for c in catalog.on_demand if c.type == "yoga"]
    base_rate = len(yoga) / len(catalog.on_demand)  # what a random pick gives
    taken = [c.id for c in _yoga_rides(catalog, 10)]
    model = train(history, [("new-yogi", c, 1.0) for c in taken], AlsConfig(seed=SEED))
    recs = model.recommend("new-yogi", 10)
    assert recs is not None and len(recs) == 10
    share = sum(types[c] == "yoga" for c, _ in recs) / 10
    assert share >= 0.6 > 3 * base_rate
    assert not set(taken) & {c for c, _ in recs}  # never a class already taken
    scores = [s for _, s in recs]
    assert scores == sorted(scores, reverse=True)


def test_riders_whose_history_is_all_yoga_get_mostly_yoga(catalog, model) -> None:  # type: ignore[no-untyped-def]
    types = _types(catalog)
    all_yoga = [
        rider_id(i)
        for i in range(N_RIDERS)
        if all(types[c] == "yoga" for c in model.taken(rider_id(i)))
    ]
    assert len(all_yoga) >= 10
    shares = [
        sum(types[c] == "yoga" for c, _ in model.recommend(r, 10) or []) / 10 for r in all_yoga
    ]
    assert np.mean(shares) >= 0.7
    # Cyclists, by contrast, are recommended rides, not yoga.
    cyclists = [
        rider_id(i)
        for i in range(N_RIDERS)
        if Counter(types[c] for c in model.taken(rider_id(i))).most_common(1)[0][0] == "cycling"
    ][:30]
    cycling = [
        sum(types[c] == "cycling" for c, _ in model.recommend(r, 10) or []) for r in cyclists
    ]
    assert np.mean(cycling) >= 7


def test_unknown_rider_and_exclusions(model) -> None:  # type: ignore[no-untyped-def]
    assert model.recommend("nobody", 10) is None
    first = model.recommend(rider_id(5), 5)
    assert first is not None
    skip = {first[0][0]}
    again = model.recommend(rider_id(5), 5, exclude=skip)
    assert again is not None and again[0][0] == first[1][0]
    assert all(c not in model.taken(rider_id(5)) for c, _ in first)


def _segment_counts(history, catalog, region: str, device: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rides per playable class by the riders of a region and device, from the raw history."""
    riders = (history.rider_region == REGION_CODES.index(region)) & (
        history.rider_device == DEVICES.index(device)
    )
    counts = Counter(history.class_ids[k] for k in history.item[riders[history.rider]])
    plays = {c.id for c in catalog.on_demand if EQUIPMENT[c.type] in (None, device)}
    return {c: k for c, k in counts.items() if c in plays}


def test_an_unknown_rider_gets_the_most_popular_classes_of_their_region_and_device(
    catalog, history, model
) -> None:  # type: ignore[no-untyped-def]
    types = _types(catalog)
    for device, banned in (("bike", "running"), ("tread", "cycling")):
        counts = _segment_counts(history, catalog, "US", device)
        popular = model.popular.top(10, "US", device)
        assert (popular.region, popular.device) == ("US", device)
        got = [c for c, _ in popular.ranked]
        assert [counts[c] for c in got] == sorted(counts.values(), reverse=True)[:10]
        total = sum(counts.values())
        assert [s for _, s in popular.ranked] == [round(counts[c] / total, 6) for c in got]
        assert all(types[c] != banned for c in got)  # a bike is never offered a tread class
    assert model.popular.top(10, "US", "bike").ranked != model.popular.top(10, "US", "tread").ranked


def test_a_region_with_too_few_rides_widens_to_every_region(catalog, history, model) -> None:  # type: ignore[no-untyped-def]
    few = len(_segment_counts(history, catalog, "SE", "tread"))
    assert few < 100  # a few Swedish tread riders in 1,500 have not ridden 100 classes
    popular = model.popular.top(100, "SE", "tread")
    assert (popular.region, popular.device) == (None, "tread")
    assert len(popular.ranked) == 100
    assert model.popular.top(few, "SE", "tread").region == "SE"  # enough: no widening
    everyone = model.popular.top(5)
    assert (everyone.region, everyone.device) == (None, None)
    rides = Counter(history.class_ids[k] for k in history.item)
    assert [c for c, _ in everyone.ranked] == [c for c, _ in rides.most_common(5)]


def test_training_is_deterministic_and_fingerprinted(history) -> None:  # type: ignore[no-untyped-def]
    a = train(history, [("x", "od-00001", 1.0)], AlsConfig(seed=1, iterations=2))
    b = train(history, [("x", "od-00001", 1.0)], AlsConfig(seed=1, iterations=2))
    c = train(history, [("x", "od-00002", 1.0)], AlsConfig(seed=1, iterations=2))
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert a.recommend("x", 5) == b.recommend("x", 5)


def test_stored_interactions_on_live_classes_are_ignored_and_cancelled_rides_dropped(
    history,  # type: ignore[no-untyped-def]
) -> None:
    extra = [
        ("y", "live-20261121T1300-cycling-07", 1.0),
        ("y", "od-00003", 1.0),
        ("z", "od-00004", 1.0),
        ("z", "od-00004", -1.0),  # a bad rating cancelling the ride
    ]
    model = train(history, extra, AlsConfig(seed=1, iterations=2))
    assert model.taken("y") == ["od-00003"]
    assert model.taken("z") == []


def test_memory_cache_expires_after_its_ttl() -> None:
    now = [100.0]
    cache = MemoryCache(clock=lambda: now[0], max_entries=2)
    value = [{"class_id": "od-1", "score": 0.5}]

    async def scenario() -> list[object]:
        await cache.set("a", value, 3600)
        seen = [await cache.get("a")]
        now[0] += 3599
        seen.append(await cache.get("a"))
        now[0] += 2
        seen.append(await cache.get("a"))
        for key in "bcd":
            await cache.set(key, value, 10)
        seen.append(len(cache))
        return seen

    assert asyncio.run(scenario()) == [value, value, None, 2]


def test_cache_key_names_the_model() -> None:
    assert cache_key("abc", "rider-1", 10) == "twin:recommendations:abc:rider-1:10"


@pytest.mark.redis
def test_redis_cache_sets_values_with_the_ttl(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async def scenario() -> tuple[object, int]:
        client = aioredis.from_url(redis_url, decode_responses=True)
        try:
            cache = RedisCache(lambda: client)
            await cache.set("twin:test:rec", [{"class_id": "od-1", "score": 1.0}], 3600)
            got = await cache.get("twin:test:rec")
            ttl = await client.ttl("twin:test:rec")
            await client.delete("twin:test:rec")
            return got, ttl
        finally:
            await client.aclose()

    got, ttl = asyncio.run(scenario())
    assert got == [{"class_id": "od-1", "score": 1.0}]
    assert 3590 <= ttl <= 3600


def test_generate_history_refuses_an_empty_catalogue() -> None:
    from twin.platform.population import build_population

    rng = np.random.default_rng(1)
    empty = build_catalog(rng, n_on_demand=0)
    with pytest.raises(ValueError, match="no class"):
        generate_history(build_population(10, rng), empty, rng)


# --- over HTTP, on both backends ---------------------------------------------------------------


@pytest.fixture(scope="module")
def server_overrides() -> dict[str, object]:
    return {
        "rate_per_s": 10_000.0,
        "burst": 10_000.0,
        "n_riders": N_RIDERS,
        "retrain_interval_s": 0.3,
    }


def _metric(client, name: str) -> float:  # type: ignore[no-untyped-def]
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def _recs(client, rider: str, n: int | None = None, token: str | None = None):  # type: ignore[no-untyped-def]
    query = "" if n is None else f"?n={n}"
    return client.get(
        f"/v1/riders/{rider}/recommendations{query}", token=token or client.token("rider", rider)
    )


def test_recommendations_over_http_are_cached_and_measured(client, server) -> None:  # type: ignore[no-untyped-def]
    requests_before = _metric(client, "recommendation_requests_total")
    predictions_before = _metric(client, "prediction_latency_seconds_count")
    hits_before = _metric(client, 'recommendation_cache_total{result="hit"}')
    first = _recs(client, "rider-3")
    second = _recs(client, "rider-3")
    assert first.status_code == second.status_code == 200
    recs = first.json()["recommendations"]
    assert len(recs) == 10 and second.json()["recommendations"] == recs
    model = server.state.extras["recommend"].model
    assert not {r["class_id"] for r in recs} & set(model.taken("rider-3"))
    assert _metric(client, "recommendation_requests_total") - requests_before == 2
    assert _metric(client, "prediction_latency_seconds_count") - predictions_before == 1
    assert _metric(client, 'recommendation_cache_total{result="hit"}') - hits_before == 1
    assert len(_recs(client, "rider-3", n=3).json()["recommendations"]) == 3


def test_a_rider_the_model_has_not_seen_gets_the_popular_classes_of_their_segment(
    client, server, uid
) -> None:  # type: ignore[no-untyped-def]
    rider = f"new-member-{uid}"
    popular_before = _metric(client, 'recommendation_answers_total{source="popular"}')
    response = client.get(
        f"/v1/riders/{rider}/recommendations?region=UK&device=tread&n=5",
        token=client.token("rider", rider),
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["source"], body["region"], body["device"]) == ("popular", "UK", "tread")
    catalog = server.state.catalog
    counts = _segment_counts(initial_history(catalog, N_RIDERS, SEED), catalog, "UK", "tread")
    got = [r["class_id"] for r in body["recommendations"]]
    assert [counts[c] for c in got] == sorted(counts.values(), reverse=True)[:5]
    assert _metric(client, 'recommendation_answers_total{source="popular"}') == popular_before + 1
    assert _recs(client, "rider-99999999").json()["source"] == "popular"  # past the population
    known = _recs(client, "rider-3").json()
    assert known["source"] == "model" and "region" not in known


def test_bad_recommendation_requests(client) -> None:  # type: ignore[no-untyped-def]
    assert _recs(client, "rider-3", token=client.token("rider", "rider-4")).status_code == 403
    assert client.get("/v1/riders/rider-3/recommendations").status_code == 401
    for n in ("0", "101", "abc", "-1", "1e2"):
        response = client.get(
            f"/v1/riders/rider-3/recommendations?n={n}", token=client.token("rider", "rider-3")
        )
        assert response.status_code == 400 and response.json()["error"].startswith("n:")
    for query in ("region=FR", "device=rower", "region=us", "device="):
        response = client.get(
            f"/v1/riders/x/recommendations?{query}", token=client.token("rider", "x")
        )
        assert response.status_code == 400
        assert response.json()["error"].startswith(query.split("=")[0] + ": must be one of")


def test_workouts_reach_the_model_through_the_periodic_retrain(client, server, uid) -> None:  # type: ignore[no-untyped-def]
    rider = f"yogi-{uid}"
    token = client.token("rider", rider)
    catalog = server.state.catalog
    taken = _yoga_rides(catalog)
    assert _recs(client, rider).json()["source"] == "popular"  # unknown until a ride is stored
    for info in taken:
        body = {"rider_id": rider, "class_id": info.id, "duration_s": float(info.duration_s)}
        assert client.post("/v1/workouts", token=token, json=body).status_code == 201
    service = server.state.extras["recommend"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the retrain every 0.3 s picks up all eight rides
        model = service.model
        if model.knows(rider) and len(model.taken(rider)) == len(taken):
            break
        time.sleep(0.05)
    response = _recs(client, rider)
    assert response.status_code == 200 and response.json()["source"] == "model"
    recs = response.json()["recommendations"]
    types = {c.id: c.type for c in catalog.on_demand}
    assert sum(types[r["class_id"]] == "yoga" for r in recs) >= 6
    assert not {r["class_id"] for r in recs} & {c.id for c in taken}


def test_answers_are_cached_for_an_hour_on_either_backend(
    client, server, backend_name, request
) -> None:  # type: ignore[no-untyped-def]
    assert _recs(client, "rider-7").status_code == 200
    service = server.state.extras["recommend"]
    key = cache_key(service.model.fingerprint, "rider-7", 10)
    if backend_name == "embedded":
        assert isinstance(service.cache, MemoryCache)
        assert 3590 <= (service.cache.ttl_s(key) or 0) <= 3600
        return
    import redis

    direct = redis.Redis.from_url(request.getfixturevalue("redis_url"), decode_responses=True)
    try:
        assert 3590 <= direct.ttl(key) <= 3600
        assert direct.keys("twin:recommendations:*:rider-7:10") == [key]
    finally:
        direct.close()


def test_healthz_waits_for_the_first_model_while_the_loop_keeps_answering(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import threading

    import requests

    from tests.serve.helpers import ThreadServer, settings_for

    # 4,000 riders take a second or more to train: long enough to watch /healthz meanwhile.
    server = ThreadServer(settings_for(tmp_path, "embedded", None, n_riders=4000))
    starting = threading.Thread(target=server.start, daemon=True)
    starting.start()
    seen: list[tuple[int, float, list[str]]] = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                response = requests.get(server.url + "/healthz", timeout=5)
            except requests.ConnectionError:
                time.sleep(0.02)
                continue
            body = response.json()
            seen.append(
                (response.status_code, time.perf_counter() - began, body.get("pending", []))
            )
            if response.status_code == 200:
                break
            time.sleep(0.02)
        starting.join(30)
    finally:
        server.stop()
    training = [s for s in seen if s[0] == 503 and s[2] == ["recommend"]]
    assert seen[-1][0] == 200
    assert len(training) >= 3  # /healthz said why it was not ready, several times
    assert max(latency for _, latency, _ in training) < 0.5  # the fit ran off the event loop
