"""From the domain to the engines: a scenario, its architecture and riders become arrays per tick.

`build_platform` draws the riders and catalogue, runs demand and workload and keeps the
sessions (a drill replays them); `compile_platform` gives the engine input alone. Compiling
applies the incidents to each component's capacity and hands an engine everything it needs
and nothing it must interpret: servers, egress, shards and write capacity per tick, offered
requests per second per request type, routes with the share of requests that reach each hop
(after a CDN, only the misses), the service time each station serves (the load-weighted
mixture where request types have their own), and the byte and record flows of video and
telemetry. Reactive autoscaling is left to the engine (it depends on the queue it simulates);
predictive autoscaling, which follows a forecast the twin already knows, is computed here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from twin.config.architecture import (
    Architecture,
    Autoscaling,
    Component,
    StationSpec,
)
from twin.config.network import ServiceTime
from twin.config.platform import CapacityCut, ComponentDown, PlatformScenario, ShardCount, Surge
from twin.config.scaling import check_scale, scale_platform
from twin.config.vocabulary import DEVICES, TELEMETRY_BATCH_S
from twin.platform.catalog import Catalog
from twin.platform.cohorts import Cohorts
from twin.platform.demand import Demand, class_joiners, compute_demand, od_length_pmf
from twin.platform.population import Population
from twin.platform.scenario_riders import scenario_catalog, scenario_cohorts, segment_scales
from twin.platform.workload import (
    FEEDBACK_SHARE,
    LEADERBOARD_LIVE_S,
    LEADERBOARD_OD_S,
    RECOMMEND_PER_START,
    Workload,
    compute_workload,
    rendition_shares,
)
from twin.runs.segment_service import plus_segment_mb, segment_mb_mix
from twin.sim.class_weights import ClassWeights
from twin.sim.platform_input import CompiledPlatform, Journey, ServiceSpec
from twin.sim.sessions import SessionFlows

__all__ = [
    "WRITE_TYPES",
    "PlatformBuild",
    "build_platform",
    "build_scaled",
    "compile_platform",
    "predictive_instances",
    "route_visits",
    "segment_mb",
    "service_mixture",
    "session_flows",
]

# Request types that write (POST): a database on their route takes them as writes.
WRITE_TYPES = frozenset({"join", "telemetry", "workout", "feedback"})


def route_visits(route: list[str], architecture: Architecture) -> list[tuple[str, float]]:
    """Each hop of a route with the share of requests reaching it (a CDN passes on misses)."""
    share, visits = 1.0, []
    for hop in route:
        visits.append((hop, share))
        cdn = architecture.components[hop].cdn
        if cdn is not None:
            share *= 1.0 - cdn.hit_ratio
    return visits


def service_mixture(parts: Sequence[tuple[float, ServiceTime]]) -> ServiceTime:
    """The service time of a station serving `parts` (offered load, service) in one queue.

    A request is of part i with probability w_i (its share of the load), so the mixture has
    mean sum w_i m_i and second moment E[S^2] = sum w_i m_i^2 (1 + cv_i^2): exactly what
    Pollaczek-Khinchine and the capacity maths need. Its shape is a lognormal with that mean
    and cv (exponential at cv 1, deterministic at cv 0); one service alone is kept as it is.
    """
    loaded = [(w, s) for w, s in parts if w > 0]
    if not loaded or all(s == loaded[0][1] for _, s in loaded):
        return loaded[0][1] if loaded else parts[0][1]
    total = sum(w for w, _ in loaded)
    mean = sum(w * s.mean for w, s in loaded) / total
    second = sum(w * s.mean**2 * (1.0 + s.scv) for w, s in loaded) / total
    cv = math.sqrt(max(second / (mean * mean) - 1.0, 0.0))
    if abs(cv - 1.0) <= 1e-9:
        return ServiceTime(dist="exponential", mean_s=mean)
    if cv <= 1e-9:
        return ServiceTime(dist="deterministic", mean_s=mean)
    return ServiceTime(dist="lognormal", mean_s=mean, cv=cv)


def _arrivals(
    architecture: Architecture,
    visits: dict[str, list[tuple[str, float]]],
    work: Workload,
    persist: np.ndarray,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Offered requests/s and database writes/s per service, routes plus the ingest flows."""
    zero = np.zeros_like(work.telemetry_records_per_s)
    arrivals = {name: zero.copy() for name in architecture.services}
    writes = {name: zero.copy() for name, c in architecture.components.items() if c.database}
    for rtype, hops in visits.items():
        for hop, share in hops:
            arrivals[hop] += work.rates[rtype] * share
            if hop in writes and rtype in WRITE_TYPES:
                writes[hop] += work.rates[rtype] * share
    ing = architecture.ingest
    records = work.telemetry_records_per_s
    for target, flow in ((ing.processor, records), (ing.store, records), (ing.persist, persist)):
        if target in arrivals:
            arrivals[target] += flow
    if ing.persist in writes:
        writes[ing.persist] += persist
    return arrivals, writes


def _up_share(
    comp: Component, incidents: list[ComponentDown | CapacityCut], t: np.ndarray
) -> np.ndarray:
    """Share of a component's capacity left up at each tick by cuts and outages."""
    up = np.ones_like(t, dtype=float)
    for inc in incidents:
        inside = (t >= inc.start_s) & (t < inc.end_s)
        if isinstance(inc, CapacityCut):
            up[inside] *= inc.remaining
            continue
        fo = comp.failover
        if fo.mode == "active-active":
            left = max(0.0, (fo.regions - inc.regions) / fo.regions)
        elif fo.mode == "active-passive" and inc.regions < fo.regions:
            left = 1.0  # the standby region takes the whole load after the switch
        else:
            left = 0.0
        if fo.mode == "active-passive" and left > 0:
            switching = inside & (t < inc.start_s + fo.switch_s)
            up[switching] = 0.0
            inside = inside & ~switching
        up[inside] *= left
    return up


def predictive_instances(
    load: np.ndarray, per_instance_per_s: float, scaling: Autoscaling, tick_s: float
) -> np.ndarray:
    """Instances a forecast asks for: the next lead time's peak load at the target utilization."""
    lead = max(1, math.ceil((scaling.predictive_lead_s or 0.0) / tick_s))
    padded = np.concatenate([load, np.full(lead, load[-1])])
    windows = np.lib.stride_tricks.sliding_window_view(padded, lead + 1)[: load.size]
    need = np.ceil(windows.max(axis=1) / (scaling.target_utilization * per_instance_per_s))
    return np.clip(need, scaling.min, scaling.max)


@dataclass(frozen=True)
class _Run:
    """What every service's compilation shares: the workload, incidents and tick grid."""

    work: Workload
    scenario: PlatformScenario
    t: np.ndarray
    tick_s: float
    visits: dict[str, list[tuple[str, float]]]

    def incidents_on(self, name: str) -> list[object]:
        return [i for i in self.scenario.incidents if getattr(i, "component", None) == name]


def segment_mb(rates: Mapping[str, np.ndarray], segment_bytes_per_s: np.ndarray) -> float:
    """MB per video segment request over the run (its rendition mix); 0 without segments."""
    count = float(np.sum(rates.get("segment", 0.0)))
    return float(np.sum(segment_bytes_per_s)) / count / 1e6 if count > 0 else 0.0


def _by_request(station: StationSpec, run: _Run) -> dict[str, ServiceTime]:
    """Each request type's own time at the station, segments' per-MB cost included."""
    by_request = dict(station.service_by_request)
    if station.service_per_mb_s > 0:
        mb = segment_mb(run.work.rates, run.work.segment_bytes_per_s)
        base = by_request.get("segment", station.service)
        mix = segment_mb_mix(mb, run.work.riders_by_rendition)
        by_request["segment"] = plus_segment_mb(base, station.service_per_mb_s, mix)
    return by_request


def _served(
    name: str, station: StationSpec, arrivals: np.ndarray, run: _Run
) -> tuple[ServiceTime, ServiceTime | None, dict[str, ServiceTime]]:
    """(the service `name` serves, its own listed service or None when no type has its own,
    each type's own time)."""
    by_request = _by_request(station, run)
    if not by_request:
        return station.service, None, by_request
    own_load = float(arrivals.sum())
    parts = []
    for rtype, service in by_request.items():
        share = sum(s for hop, s in run.visits[rtype] if hop == name)
        load = float(run.work.rates[rtype].sum()) * share
        parts.append((load, service))
        own_load -= load
    mixture = service_mixture([(max(own_load, 0.0), station.service), *parts])
    return mixture, station.service, by_request


def _stream_shards(comp: Component, run: _Run) -> tuple[np.ndarray, Autoscaling | None]:
    """Shards per tick (predictive scaling and shard-count incidents applied)."""
    stream = comp.stream
    assert stream is not None
    records, data = run.work.telemetry_records_per_s, run.work.telemetry_bytes_per_s
    shards = np.full(run.t.shape, float(stream.shards))
    reactive = stream.autoscaling
    if reactive is not None and reactive.predictive_lead_s is not None:
        record_bytes = data.sum() / max(records.sum(), 1e-9)
        per_shard = min(
            stream.write_records_per_shard_s,
            stream.write_mb_per_shard_s * 1e6 / max(record_bytes, 1e-9),
        )
        shards = predictive_instances(records, per_shard, reactive, run.tick_s)
        reactive = None
    return shards, reactive


def _stream_extra(name: str, comp: Component, run: _Run, up: np.ndarray) -> dict[str, object]:
    assert comp.stream is not None
    shards, scaling = _stream_shards(comp, run)
    for inc in run.incidents_on(name):
        if isinstance(inc, ShardCount):
            shards[(run.t >= inc.start_s) & (run.t < inc.end_s)] = inc.shards
    shards = np.floor(shards * up + 1e-9)
    return {
        "instances": shards,
        "autoscaling": scaling,
        "shards": shards,
        "records_capacity_per_s": shards * comp.stream.write_records_per_shard_s,
        "bytes_capacity_per_s": shards * comp.stream.write_mb_per_shard_s * 1e6,
    }


def _kind_extra(comp: Component, up: np.ndarray, writes: np.ndarray | None) -> dict[str, object]:
    """CDN and database capacities per tick (streams are `_stream_extra`)."""
    if comp.cdn is not None:
        cdn = comp.cdn
        return {
            "egress_bps": cdn.egress_gbps * 1e9 * up,
            "hit_ratio": cdn.hit_ratio,
            "origin": cdn.origin,
        }
    if comp.database is not None:
        db = comp.database
        return {
            "write_capacity_per_s": db.write_capacity_per_s * db.shards * up,
            "lock_contention": db.lock_contention,
            "writes_per_s": writes,
        }
    return {}


def _service_spec(
    name: str, comp: Component, arrivals: np.ndarray, writes: np.ndarray | None, run: _Run
) -> ServiceSpec:
    station = comp.station
    assert station is not None
    service, own_service, by_request = _served(name, station, arrivals, run)
    cuts = [i for i in run.incidents_on(name) if isinstance(i, CapacityCut | ComponentDown)]
    up = _up_share(comp, cuts, run.t)
    scaling = comp.autoscaling
    instances = np.full(run.t.shape, float(comp.count))
    if scaling is not None and scaling.predictive_lead_s is not None:
        per_instance = station.servers_per_instance / service.mean
        instances, scaling = predictive_instances(arrivals, per_instance, scaling, run.tick_s), None
    extra = _kind_extra(comp, up, writes)
    servers = np.floor(instances * station.servers_per_instance * up + 1e-9)
    if comp.stream is not None:
        extra = _stream_extra(name, comp, run, up)
        instances, scaling = extra.pop("instances"), extra.pop("autoscaling")  # type: ignore[assignment]
        servers = instances * station.servers_per_instance
    return ServiceSpec(
        name=name,
        kind=comp.kind,
        servers=servers.astype(np.int64),
        instances=instances,
        servers_per_instance=station.servers_per_instance,
        service=service,
        service_by_request=by_request,
        own_service=own_service,
        queue_capacity=station.queue_capacity,
        timeout_s=station.timeout_s,
        wake=(station.wake.penalty_s, station.wake.tau_s) if station.wake else None,
        autoscaling=scaling,
        connection_pool=comp.connection_pool,
        up=up,
        arrivals=arrivals,
        writers=tuple(t for t in WRITE_TYPES if any(h == name for h, _ in run.visits.get(t, [])))
        if comp.database is not None
        else (),
        **extra,  # type: ignore[arg-type]
    )


def _share(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    return np.divide(part, whole, out=np.zeros_like(part), where=whole > 0)


def _sessions(
    scenario: PlatformScenario, population: Population | Cohorts, catalog: Catalog, tick: float
) -> Demand:
    return compute_demand(
        population,
        catalog,
        scenario.demand,
        start_utc=scenario.start_utc,
        duration_s=scenario.duration_s,
        tick_s=tick,
        surges=[i for i in scenario.incidents if isinstance(i, Surge)],
        segment=getattr(population, "segment", None),  # cohorts hold their segments
        segments=[s.name for s in scenario.population.resolved_segments()],
        segment_rides_scale=segment_scales(scenario),
    )


@dataclass(frozen=True)
class PlatformBuild:
    """A platform scenario made ready to run: its riders' sessions and the engines' input."""

    scenario: PlatformScenario
    architecture: Architecture
    population: Population | Cohorts
    sessions: Demand
    compiled: CompiledPlatform


def build_platform(
    scenario: PlatformScenario,
    architecture: Architecture,
    population: Population | Cohorts | None = None,
    *,
    tick_s: float | None = None,
    catalog: Catalog | None = None,
) -> PlatformBuild:
    """Riders, sessions and engine input for one run of `scenario` on `architecture`.

    `population` and `catalog` default to the ones the scenario's seed draws; `tick_s` to the
    scenario's.
    """
    population = scenario_cohorts(scenario) if population is None else population
    tick = float(tick_s if tick_s is not None else scenario.tick_s)
    catalog = catalog or scenario_catalog(scenario)
    sessions = _sessions(scenario, population, catalog, tick)
    compiled = _compile(scenario, architecture, population, sessions, tick)
    compiled = replace(
        compiled,
        session_flows=session_flows(
            sessions,
            population,
            catalog,
            architecture.video.max_rendition,
            music_share=scenario.demand.music_share,
        ),
    )
    return PlatformBuild(scenario, architecture, population, sessions, compiled)


def build_scaled(
    scenario: PlatformScenario, architecture: Architecture, factor: float
) -> PlatformBuild:
    """`build_platform` at `factor` of the scenario's size (`twin.config.scaling`): capacities
    times `factor`, and riders a miniature of the full population (its cohorts' rides times
    `factor`), so the load is the full scenario's times `factor` exactly."""
    population = scenario_cohorts(scenario).miniature(check_scale(factor))
    small, arch = scale_platform(scenario, architecture, factor)
    return build_platform(small, arch, population)


def compile_platform(
    scenario: PlatformScenario,
    architecture: Architecture,
    population: Population | Cohorts,
    *,
    tick_s: float | None = None,
    catalog: Catalog | None = None,
) -> CompiledPlatform:
    """The engine input alone for `scenario` on `architecture` with `population`."""
    return build_platform(
        scenario, architecture, population, tick_s=tick_s, catalog=catalog
    ).compiled


def _compile(
    scenario: PlatformScenario,
    architecture: Architecture,
    population: Population | Cohorts,
    sessions: Demand,
    tick: float,
) -> CompiledPlatform:
    video, music = architecture.video, scenario.demand.music_share
    work = compute_workload(
        sessions,
        population,
        max_rendition=video.max_rendition,
        segment_s=video.segment_s,
        music_share=music,
        tempo_every_s=architecture.audio.sample_every_s,
    )
    routes = _routes(architecture, music)
    visits = {rtype: route_visits(route, architecture) for rtype, route in routes.items()}
    persist = work.device_riders / architecture.ingest.persist_every_s
    arrivals, writes = _arrivals(architecture, visits, work, persist)
    run = _Run(work, scenario, sessions.t, tick, visits)
    services = {
        name: _service_spec(name, comp, arrivals[name], writes.get(name), run)
        for name, comp in architecture.services.items()
    }
    live_segments = sessions.active_live.sum(axis=0) / video.segment_s
    return CompiledPlatform(
        t=sessions.t,
        tick_s=tick,
        services=services,
        demand={k: v for k, v in work.rates.items() if k != "tempo" or k in routes},
        routes=routes,
        visits=visits,
        active_riders=sessions.active,
        riders=sessions.riders,
        bytes_per_s=work.segment_bytes_per_s,
        riders_by_rendition=work.riders_by_rendition,
        telemetry_records_per_s=work.telemetry_records_per_s,
        telemetry_bytes_per_s=work.telemetry_bytes_per_s,
        telemetry_samples_per_s=work.telemetry_samples_per_s,
        ingest=architecture.ingest,
        adaptive_bitrate=video.adaptive_bitrate,
        live_segment_share=_share(live_segments, work.rates["segment"]),
        live_playlist_share=_share(live_segments, work.rates["playlist"]),
        incidents=tuple(i.model_dump() for i in scenario.incidents),
        journey=Journey(
            segment_s=video.segment_s,
            telemetry_batch_s=TELEMETRY_BATCH_S,
            leaderboard_live_s=LEADERBOARD_LIVE_S,
            leaderboard_od_s=LEADERBOARD_OD_S,
            feedback_share=FEEDBACK_SHARE,
            recommend_per_start=RECOMMEND_PER_START,
            tempo_s=architecture.audio.sample_every_s,
            persist_s=architecture.ingest.persist_every_s,
        ),
        clients=scenario.clients,
        audio=architecture.audio if music > 0 else None,
    )


def _routes(architecture: Architecture, music_share: float) -> dict[str, list[str]]:
    """The routes requests take: `tempo`'s only when sessions play music that follows cadence
    (an architecture routes it where the partnership is built; without music none is sent)."""
    return {
        k: list(v) for k, v in architecture.routes.items() if k != "tempo" or music_share > 0
    }


def session_flows(
    sessions: Demand,
    population: Population | Cohorts,
    catalog: Catalog,
    max_rendition: str,
    *,
    music_share: float = 0.0,
) -> SessionFlows:
    """The demand as the exact engine draws its riders from it (twin.sim.sessions)."""
    first, blocks, at0, ends = class_joiners(sessions.live_classes, sessions.t, sessions.tick_s)
    weights = ClassWeights(len(DEVICES), len(sessions.t), first, blocks)
    return SessionFlows(
        t=sessions.t,
        tick_s=sessions.tick_s,
        starts=np.stack((sessions.starts_live, sessions.starts_od)),
        active0=np.stack((sessions.active_live[:, 0], sessions.active_od[:, 0])),
        class_weight=weights,
        class_weight0=at0,
        class_end_s=ends,
        od_pmf=od_length_pmf(catalog),
        rendition_shares=rendition_shares(population, max_rendition),
        telemetry=np.array([d != "app" for d in DEVICES]),
        music_share=music_share,
    )
