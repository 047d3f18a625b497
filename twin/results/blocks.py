"""The blocks of `summary.json` beside services and requests: what riders lived (`experience`),
what the run used and cost (`usage`, `cost`), the `incidents` it replayed, its `slo` verdicts,
and, for a bare network, the `precision` reached and queueing theory's `analytic` prediction.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag

from twin.results.base import Block, Number, Omittable, keys

__all__ = [
    "Analytic",
    "AnalyticSolution",
    "AnalyticSource",
    "AnalyticStation",
    "AnalyticUnavailable",
    "Cost",
    "Experience",
    "Incident",
    "LeaderboardLag",
    "Precision",
    "SloVerdict",
    "SpoiledBy",
    "TempoLag",
    "Usage",
]


class LeaderboardLag(Block):
    """Sample taken on the bike to visible on the leaderboard (s)."""

    p50: Number | None = Field(description="Median lag (s); null when no sample got through.")
    p99: Number | None = Field(description="99th percentile lag (s).")
    max: Number | None = Field(description="Largest lag (s).")
    samples: Omittable[int] = Field(None, description="Drills: samples the target measured.")


class TempoLag(Block):
    """Stroke to tempo change heard in the music (ms; seed 002: 120-180 ms, a rival 80-100)."""

    p50: Number | None = Field(description="Median lag (ms); null when no sample got through.")
    p99: Number | None = Field(description="99th percentile lag (ms).")
    max: Number | None = Field(description="Largest lag (ms) of those drawn or measured.")
    samples: Omittable[int] = Field(None, description="Drills: tempo answers measured.")


class SpoiledBy(Block):
    """Sessions spoiled, by the first thing that spoiled them (in this order)."""

    join: int = Field(description="Riders who gave up joining (retries past their patience).")
    stream_lost: Omittable[int] = Field(
        None, description="Riders who lost the stream and could not rejoin."
    )
    video: Omittable[int] = Field(
        None, description="Sessions with 10 % or more of their segments stalled."
    )
    leaderboard: Omittable[int] = Field(
        None,
        description="Sessions whose leaderboard was more than 30 s behind for 10 % or more of "
        "their ride: polls that found it so (exact), or in expectation from the lag (fluid).",
    )


class Experience(Block):
    """What riders lived through: simulated by both engines (the exact engine rider by rider),
    measured by drills."""

    leaderboard_lag_s: Omittable[LeaderboardLag] = Field(
        None,
        description="Leaderboard lag (s): probe samples (fluid), every batch (exact), or the "
        "target's own metrics (drill; omitted when the target exports none).",
    )
    join_failures: int = Field(
        description="Joins lost on their route (simulated) or answered with an error (drill)."
    )
    video_degraded_fraction: Omittable[Number] = Field(
        None,
        description="Share of video degraded (0-1): rider-seconds downshifted or rebuffering "
        "(fluid; exact: stalled segments too), or segments degraded (drill; omitted when no "
        "segment was fetched).",
    )
    video_degraded_peak_fraction: Omittable[Number] = Field(
        None,
        description="Simulated: the worst share of viewing degraded (0-1) over the shortest "
        "spans holding 6,000 rider-seconds of it (a tick, on the whole platform).",
    )
    video_degraded_rider_minutes: Omittable[int] = Field(
        None, description="Simulated: rider-minutes of degraded video."
    )
    downshifts: Omittable[int] = Field(
        None, description="Drills: bitrate downshifts the players made."
    )
    sessions_spoiled_fraction: Omittable[Number] = Field(
        None,
        description="Simulated platforms: share of sessions spoiled (0-1), see "
        "`sessions_spoiled_by` (fluid: in expectation).",
    )
    sessions_spoiled_by: Omittable[SpoiledBy] = Field(
        None, description="Simulated platforms: spoiled sessions by cause."
    )
    reconnects: Omittable[int] = Field(
        None,
        description="Simulated platforms: players that dropped their stream and joined again.",
    )
    tempo_lag_ms: Omittable[TempoLag] = Field(
        None,
        description="Sessions playing music that follows cadence: stroke to tempo change heard "
        "(ms): the tempo route's latency plus device, network round trip and the player's "
        "transition grain (`twin.sim.tempo`; drill: measured answers plus the same parts).",
    )
    tempo_stale_fraction: Omittable[Number] = Field(
        None,
        description="Share of tempo updates lost or answered after the next sample was sent: "
        "the rider hears the old tempo (0-1).",
    )
    audio_dry_fraction: Omittable[Number] = Field(
        None,
        description="Simulated: share of music listening in silence, the 30 s buffer run dry "
        "because the CDN could not refill it (0-1).",
    )


class Usage(Block):
    """Simulated platforms: what the run used, which `cost` prices beyond the listed capacity."""

    instances: dict[str, Number] = Field(
        description="Mean instances per service.", json_schema_extra=keys("service")
    )
    instances_peak: dict[str, Number] = Field(
        description="Most instances per service at any tick.", json_schema_extra=keys("service")
    )
    egress_gb_month: dict[str, Number] = Field(
        description="CDN egress delivered, in GB per month at the run's mean rate.",
        json_schema_extra=keys("cdn"),
    )
    shards: dict[str, Number] = Field(
        description="Mean shards per stream.", json_schema_extra=keys("stream")
    )


class Cost(Block):
    """The month with this run in it (USD)."""

    monthly_usd: Number = Field(
        description="The listed month plus what the run used beyond the listed capacity "
        "(instances, shards, egress), for as long as the run lasted (USD)."
    )
    per_user_month_usd: Number = Field(
        description="`monthly_usd` per rider, riders averaged over the run (USD)."
    )
    by_component: dict[str, Number] = Field(
        description="`monthly_usd` by component of the architecture (USD).",
        json_schema_extra=keys("component"),
    )
    listed_monthly_usd: Omittable[Number] = Field(
        None, description="The architecture's listed month (USD)."
    )
    sustained_monthly_usd: Omittable[Number] = Field(
        None, description="The month if the run's usage lasted all month (USD)."
    )
    basis: Omittable[str] = Field(None, description="How `monthly_usd` was priced, in words.")


class Incident(Block):
    """An incident of the scenario, as the report marks it."""

    name: str = Field(description="E.g. `surge x50`, `component down: live`.")
    start_s: Number | None = Field(description="Start, in seconds from the run's start.")
    end_s: Number | None = Field(description="End, in seconds from the run's start.")
    service: Omittable[str] = Field(None, description="The component it hits, if one.")


class SloVerdict(Block):
    """One service-level objective judged on this summary: `metric op target`."""

    name: str = Field(description="The SLO's name (its expression when unnamed).")
    metric: str = Field(
        description="Dotted key of this summary, e.g. `requests.join.latency_ms.p99`."
    )
    op: Literal["<=", "<", ">=", ">", "==", "!="] = Field(description="The comparison.")
    target: Number = Field(description="The number `metric` is compared with.")
    observed: Number | None = Field(
        description="The value at `metric`; null when the summary lacks it (and the SLO fails)."
    )
    passed: bool = Field(description="Whether `observed op target` holds.")


class Precision(Block):
    """`--precision`: replications were added until every mean-latency interval was narrow."""

    target: Number = Field(description="Half-width asked, as a fraction of the mean.")
    reached: bool = Field(description="Whether every station's interval got that narrow.")


class AnalyticStation(Block):
    """One station's steady state by queueing theory."""

    arrival_rate_per_s: Number = Field(description="Offered arrivals per second, drops included.")
    servers: int = Field(description="Servers.")
    utilization: Number = Field(description="Utilization (0-1).")
    wait_ms_mean: Number = Field(description="Mean wait (ms).")
    latency_ms_mean: Number = Field(description="Mean wait plus service (ms).")
    method: str = Field(description="The model solved, e.g. `M/M/c`, `M/M/c/K`.")
    approximate: bool = Field(description="True when the model is an approximation here.")
    blocking_probability: Omittable[Number] = Field(
        None, description="Finite queues: share of arrivals dropped."
    )


class AnalyticSource(Block):
    """One source's requests end to end by queueing theory."""

    rate_per_s: Number = Field(description="Requests per second (mean, or peak).")
    to: str = Field(description="The station it enters at.")
    latency_ms_mean: Number = Field(
        description="Mean end-to-end latency of completed requests (ms)."
    )
    completed_fraction: Number = Field(description="Share of requests that complete (0-1).")
    visits: dict[str, Number] = Field(
        description="Expected arrivals at each station per request.",
        json_schema_extra=keys("station"),
    )


class AnalyticSolution(Block):
    """Queueing theory's prediction for a bare network (Jackson; Erlang C, M/M/c/K,
    Pollaczek-Khinchine or Allen-Cunneen per station)."""

    scenario: str = Field(description="The scenario solved.")
    rates: Literal["mean", "peak"] = Field(description="Whether rates are means or peaks.")
    stations: dict[str, AnalyticStation] = Field(
        description="Stations by name.", json_schema_extra=keys("name")
    )
    sources: dict[str, AnalyticSource] = Field(
        description="Sources by name.", json_schema_extra=keys("name")
    )


class AnalyticUnavailable(Block):
    """A bare network that queueing theory cannot solve (no steady state)."""

    unavailable: str = Field(
        description="In place of the prediction: why there is none (e.g. a station at "
        "utilization >= 1)."
    )


def _analytic_form(value: Any) -> str:
    # tags in brackets, as pydantic's own: an error's dotted path leaves them out
    if isinstance(value, dict):
        return "form[unavailable]" if "unavailable" in value else "form[solution]"
    return "form[unavailable]" if isinstance(value, AnalyticUnavailable) else "form[solution]"


Analytic = Annotated[
    Annotated[AnalyticSolution, Tag("form[solution]")]
    | Annotated[AnalyticUnavailable, Tag("form[unavailable]")],
    Discriminator(_analytic_form),
]
"""The prediction, or why there is none (told apart by the `unavailable` key)."""
