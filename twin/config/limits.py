"""The upper limits of twin's inputs, in one place: what a scenario, an architecture or an
option may ask for before it is refused (exit code 2, the limit named), checked when the input
is read and before anything large is allocated.

Each limit sits well above every shipped scenario and below what hangs or runs out of memory
on an ordinary machine (measured on a 2-core machine; see README "Input limits"):

    limit                   value          applies to
    ----------------------  -------------  -----------------------------------------------------
    MAX_RIDERS              200,000,000    population.riders and --riders, times growth.factor
                                           (a run holds riders as cohorts, whose size does not
                                           grow with riders: 100M build in ~1 s and under 2 GB;
                                           the largest shipped scenario has 5M)
    MAX_TICKS               250,000        duration_s / tick_s of a platform; duration_s / 1 s of
                                           a bare network on the fluid engine (a phase-3
                                           platform holds ~3.5 KB a tick: ~1 GB, ~1 min;
                                           covid-growth has 60,480, mmc-example 200,000)
    MAX_ROWS                1,000,000      timeseries rows: duration_s / interval_s
    MAX_EXACT_VISITS        100,000,000    station visits the exact engine is expected to
                                           simulate, over all replications (~90,000 a second on
                                           a platform, ~150,000 on a bare network: 10-20 min;
                                           daily-peak at 3M riders would need 408M)
    MAX_NETWORK_SERVERS     1,000,000      servers of a bare network's station (queueing
                                           theory's Erlang recursion runs over every server)
    MAX_STATION_SERVERS     1,000,000,000  servers of a platform station at its most instances
                                           (servers_per_instance x max(count, autoscaling.max))
    MAX_INSTANCES           1,000,000      count, autoscaling.min/max of a component
    MAX_SHARDS              1,000,000      stream shards (file, autoscaling, shard_count
                                           incidents) and database shards
    MAX_RATE_PER_S          1,000,000,000  a bare network source's rate_per_s
    MAX_SURGE               1,000          a surge's multiplier on session starts
    MAX_SEED                2**63 - 1      seed and --seed (0 and up: NumPy's SeedSequence)
    MAX_REPLICATIONS        1,000          --replications
    MAX_JOBS                1,024          --jobs: local processes for units of work
    MAX_SWEEP_POINTS        500            points of a `twin sweep` grid, each a whole run
                                           (with replications); a million is refused at once
    MAX_FILE_BYTES          16 MiB         a scenario or architecture file
    MAX_YAML_NODES          1,000,000      values in a YAML document once aliases are expanded
                                           (an alias bomb is refused before it is built)
    MAX_YAML_DEPTH          100            nesting of a YAML document

Every float of a scenario or architecture must also be finite (no .inf, no .nan): see
`twin.config.network.Frozen`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, Field

from twin.errors import InputError

__all__ = [
    "AUTO_BUDGET_S",
    "EXACT_VISITS_PER_S",
    "MAX_EXACT_VISITS",
    "MAX_FILE_BYTES",
    "MAX_INSTANCES",
    "MAX_JOBS",
    "MAX_NETWORK_SERVERS",
    "MAX_RATE_PER_S",
    "MAX_REPLICATIONS",
    "MAX_RIDERS",
    "MAX_ROWS",
    "MAX_SEED",
    "MAX_SHARDS",
    "MAX_STATION_SERVERS",
    "MAX_SURGE",
    "MAX_SWEEP_POINTS",
    "MAX_TICKS",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "Instances",
    "NetworkServers",
    "Riders",
    "Seed",
    "Shards",
    "check_exact_visits",
    "check_jobs",
    "check_replications",
    "check_seed",
    "check_sweep_points",
    "over",
    "too_many_ticks",
]

MAX_RIDERS = 200_000_000
MAX_TICKS = 250_000
MAX_ROWS = 1_000_000
MAX_EXACT_VISITS = 100_000_000
# `--engine auto` picks the exact engine up to a minute's work: station visits per second it
# manages on one core with riders (the New Year surge at 1/1000 on a 2-core CI machine).
EXACT_VISITS_PER_S = 60_000.0
AUTO_BUDGET_S = 60.0
MAX_NETWORK_SERVERS = 1_000_000
MAX_STATION_SERVERS = 1_000_000_000
MAX_INSTANCES = 1_000_000
MAX_SHARDS = 1_000_000
MAX_RATE_PER_S = 1e9
MAX_SURGE = 1_000.0
MAX_SEED = 2**63 - 1
MAX_REPLICATIONS = 1_000
MAX_JOBS = 1_024  # processes one machine runs units of work on (--jobs)
MAX_SWEEP_POINTS = 500  # points of a `twin sweep` grid (each a whole run)
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_YAML_NODES = 1_000_000
MAX_YAML_DEPTH = 100


def over(what: str, value: float, limit: float, name: str, unit: str = "") -> str:
    """The message of a value past its limit, naming the limit: one phrase, no field."""
    value_text, limit_text = _number(value), _number(limit)
    return f"{what} {value_text}{unit} is over the limit of {limit_text}{unit} ({name}, see README)"


def _number(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**300:
        return f"~1e{len(str(abs(value))) - 1}"  # past a float
    if abs(value) < 1e15 and float(value).is_integer():
        return f"{int(value):,}"
    return f"{float(value):.6g}"


N = TypeVar("N", int, float)


def at_most(limit: float, name: str, what: str) -> Callable[[N], N]:
    """A pydantic after-validator refusing a value over `limit` with a message naming it."""

    def check(value: N) -> N:
        if value > limit:
            raise ValueError(over(what, value, limit, name))
        return value

    return check


def _schema(limit: float) -> dict[str, Any]:
    # The limit is in the JSON Schema too (`maximum`), so editors and the field reference show it.
    return {"maximum": limit}


Riders = Annotated[
    int,
    Field(ge=1, json_schema_extra=_schema(MAX_RIDERS)),
    AfterValidator(at_most(MAX_RIDERS, "MAX_RIDERS", "riders")),
]
Seed = Annotated[
    int,
    Field(ge=0, json_schema_extra=_schema(MAX_SEED)),
    AfterValidator(at_most(MAX_SEED, "MAX_SEED", "seed")),
]
NetworkServers = Annotated[
    int,
    Field(ge=1, json_schema_extra=_schema(MAX_NETWORK_SERVERS)),
    AfterValidator(at_most(MAX_NETWORK_SERVERS, "MAX_NETWORK_SERVERS", "servers")),
]
Instances = Annotated[
    int,
    Field(ge=0, json_schema_extra=_schema(MAX_INSTANCES)),
    AfterValidator(at_most(MAX_INSTANCES, "MAX_INSTANCES", "instances")),
]
Shards = Annotated[
    int,
    Field(ge=1, json_schema_extra=_schema(MAX_SHARDS)),
    AfterValidator(at_most(MAX_SHARDS, "MAX_SHARDS", "shards")),
]


def check_seed(value: int, source: str = "--seed") -> int:
    """A seed NumPy's SeedSequence takes (>= 0) that every reader holds exactly (< 2**63)."""
    if not 0 <= value <= MAX_SEED:
        raise InputError(source, None, f"seed {value} must be between 0 and 2**63-1 (MAX_SEED)")
    return value


def check_replications(value: int) -> int:
    """At least one replication and at most MAX_REPLICATIONS."""
    if value < 1:
        raise InputError("--replications", None, "must be >= 1")
    if value > MAX_REPLICATIONS:
        message = over("replications", value, MAX_REPLICATIONS, "MAX_REPLICATIONS")
        raise InputError("--replications", None, message)
    return value


def too_many_ticks(duration_s: float, tick_s: float) -> str | None:
    """What is wrong with a run of duration_s / tick_s ticks past MAX_TICKS (the fluid engine
    holds arrays per tick), or None."""
    ticks = duration_s / tick_s
    if ticks <= MAX_TICKS:
        return None
    return over(f"duration_s / tick {tick_s:g} s =", ticks, MAX_TICKS, "MAX_TICKS", " ticks")


def check_exact_visits(name: str, visits: float) -> None:
    """Refuse an exact run expected to simulate more than MAX_EXACT_VISITS station visits."""
    if visits > MAX_EXACT_VISITS:
        what = f"{name}: expected station visits"
        message = over(what, round(visits), MAX_EXACT_VISITS, "MAX_EXACT_VISITS")
        hint = "use --engine fluid, fewer riders or replications, or a shorter duration_s"
        raise InputError("--engine", "exact", f"{message}; {hint}")


def check_jobs(value: int) -> int:
    """At least one process and at most MAX_JOBS (`--jobs`)."""
    if not 1 <= value <= MAX_JOBS:
        raise InputError("--jobs", None, f"{value} must be between 1 and {MAX_JOBS} (MAX_JOBS)")
    return value


def check_sweep_points(points: int) -> int:
    """A sweep of at most MAX_SWEEP_POINTS points (each one a whole run)."""
    if points > MAX_SWEEP_POINTS:
        message = over("points in the grid:", points, MAX_SWEEP_POINTS, "MAX_SWEEP_POINTS")
        raise InputError("--grid", None, f"{message}; sweep fewer values")
    return points
