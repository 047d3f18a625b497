"""The drill's wire format, defined once: the plan `twin drill` hands its load generators and
the records each load-generating process hands back.

    Plan         plan.json: users per drill second, live shares, classes, riders, constants
    Profile      the target's profile in a plan: each driven request type's `RequestSpec`,
                 the HLS master playlist templates, how tokens are presented
    LiveClass    one live class of a plan, on the drill's clock or on the epoch clock
    TypeRecord   one request type in one process: counts, per-second series, HdrHistograms
    RecordFile   rec-<pid>.json: one process's `TypeRecord`s and rider-experience counters

The two sides are different processes that must not share their imports: the Locust processes
(`locustfiles/`, monkey-patched by gevent) and twin (numpy, pandas). Both import this module,
so it imports the standard library and `twin.errors` only. Each document is encoded by its
`to_json()` and decoded by its `from_json()`, and nothing else reads or writes its keys; a
missing or unknown field, or a value of the wrong type, is an `InputError` naming the file and
the field. Histograms travel as HdrHistogram's own base64 encoding (strings): encoding and
decoding them is each side's business, so that this module needs no `hdrh`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from twin.errors import InputError

__all__ = [
    "CA_CERT_ENV",
    "FORMAT",
    "HLS_TYPES",
    "IN_PROGRESS_S",
    "JOURNEY_TYPES",
    "PARK_S",
    "RECORD_GLOB",
    "TOKEN_KINDS",
    "VARIABLES",
    "LiveClass",
    "Plan",
    "Profile",
    "RecordFile",
    "RequestSpec",
    "TypeRecord",
    "read_plan",
    "read_records",
    "record_name",
]

# The environment variable naming the PEM CA bundle an https:// host's certificate is checked
# with (`twin drill --ca-cert`), read by the Locust processes.
CA_CERT_ENV = "TWIN_DRILL_CA_CERT"

# The journey's users, as the prediction counts them too: one spawned in the first IN_PROGRESS_S
# starts mid-session (no app open); a stopped user's rider waits PARK_S for a new one to resume.
IN_PROGRESS_S = 1.5
PARK_S = 5.0  # longer than the plan's dither hold (twin.drill.plan.DITHER_HOLD_S = 3)

FORMAT = 4  # the `format` of plan.json and rec-<pid>.json; a reader refuses any other
RECORD_GLOB = "rec-*.json"
_CONSTANTS = (
    "segment_s",
    "telemetry_batch_s",
    "leaderboard_live_s",
    "leaderboard_od_s",
    "feedback_share",
    "tempo_s",
    "music_share",
)


# The journey's request types a profile describes one by one (`RequestSpec`), and those its
# HLS player makes from the playlists it reads (a profile names only the master playlist).
JOURNEY_TYPES = ("recommend", "join", "telemetry", "leaderboard", "workout", "feedback", "tempo")
HLS_TYPES = ("master", "playlist", "segment")
TOKEN_KINDS = ("rider", "device", "none")  # which of a rider's tokens a request presents
# The variables each template may name, by where the template is used. `seq` is the first
# sample's sequence number of a telemetry batch, `samples` the batch (a list); `workout` and
# `recommended` are what `capture` took from the workout's and the recommend's replies.
_BASE = ("rider", "device")
VARIABLES: dict[str, tuple[str, ...]] = {
    "recommend": _BASE,
    "join": (*_BASE, "class"),
    "telemetry": (*_BASE, "class", "seq", "samples"),
    "leaderboard": (*_BASE, "class"),
    "workout": (*_BASE, "class", "duration_s", "output_kj"),
    "feedback": (*_BASE, "class", "workout", "rating"),
    "tempo": (*_BASE, "class", "t", "cadence_rpm"),
    "master": (*_BASE, "class"),
    "sample": ("seq", "t", "cadence_rpm", "resistance_pct", "power_w", "heart_rate_bpm",
               "speed_kph"),
}  # fmt: skip


def record_name(pid: int) -> str:
    """The file name of process `pid`'s records (one of `RECORD_GLOB`)."""
    return f"rec-{pid}.json"


# -- reading values, with the file and the field of anything wrong -------------------------


@dataclass(frozen=True)
class _At:
    """Where a value sits: the file, and the dotted path of the field in it."""

    source: str
    path: str = ""

    def __truediv__(self, key: object) -> _At:
        return _At(self.source, f"{self.path}.{key}" if self.path else str(key))

    def error(self, message: str) -> InputError:
        return InputError(self.source, self.path or None, message)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _exactly(
    doc: object, at: _At, names: Sequence[str], *, unknown: bool = False
) -> Mapping[str, object]:
    """`doc` as an object with exactly the fields `names` (at least, with `unknown`)."""
    if not isinstance(doc, dict):
        raise at.error(f"must be an object, got {_kind(doc)}")
    for name in names:
        if name not in doc:
            raise (at / name).error("missing")
    for key in doc:
        if key not in names and not unknown:
            raise (at / key).error(f"unknown field (expected {', '.join(names)})")
    return doc


def _versioned(doc: object, at: _At, names: Sequence[str]) -> Mapping[str, object]:
    """`doc` as a file's top object: its `format` first (another version's fields would not
    be the ones this reader knows), then exactly `format` and the fields `names`."""
    version = _exactly(doc, at, ["format"], unknown=True)["format"]
    if _int(version, at / "format") != FORMAT:
        raise (at / "format").error(
            f"version {version} of the drill's wire format; this twin reads version {FORMAT} "
            "(are the load generators and twin from different checkouts?)"
        )
    return _exactly(doc, at, ["format", *names])


def _int(value: object, at: _At) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise at.error(f"must be a whole number, got {_kind(value)}")
    return value


def _float(value: object, at: _At) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise at.error(f"must be a number, got {_kind(value)}")
    return float(value)


def _str(value: object, at: _At) -> str:
    if not isinstance(value, str):
        raise at.error(f"must be a string, got {_kind(value)}")
    return value


def _list(value: object, at: _At, length: int | None = None) -> list[object]:
    if not isinstance(value, list):
        raise at.error(f"must be a list, got {_kind(value)}")
    if length is not None and len(value) != length:
        raise at.error(f"must hold {length} items, got {len(value)}")
    return value


def _object(value: object, at: _At) -> dict[str, object]:
    """A JSON object whose keys are data (names, seconds), not fields."""
    if not isinstance(value, dict):
        raise at.error(f"must be an object, got {_kind(value)}")
    return value


def _second(key: str, at: _At) -> int:
    try:
        return int(key)
    except ValueError:
        raise (at / key).error("must be keyed by a whole number (a second or window)") from None


def _by_second(value: object, at: _At) -> dict[int, int]:
    return {_second(k, at): _int(v, at / k) for k, v in _object(value, at).items()}


def _seconds_key(counts: Mapping[int, Any]) -> dict[str, Any]:
    return {str(k): v for k, v in sorted(counts.items())}


def _floats(value: object, at: _At) -> tuple[float, ...]:
    return tuple(_float(v, at / i) for i, v in enumerate(_list(value, at)))


def _read(path: str | Path) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(str(path), None, f"is not JSON ({exc})") from None


# -- the target's profile ------------------------------------------------------------------


def _strings(value: object, at: _At) -> dict[str, str]:
    return {k: _str(v, at / k) for k, v in _object(value, at).items()}


def _optional_str(value: object, at: _At) -> str | None:
    return None if value is None else _str(value, at)


@dataclass(frozen=True)
class RequestSpec:
    """One request type of a profile: templates (`{variable}`) for its path, body (a JSON
    value whose strings are templates; a string that is one variable alone becomes that
    variable's value, a list or a number), headers and, for telemetry, each sample.

    `ok` are the statuses that count as success; `token` which rider token it presents;
    `capture` a dotted path into the JSON reply (lists are mapped over) whose value the
    journey keeps: the workout's id for `feedback`, the recommended classes of `recommend`.
    """

    method: str
    path: str
    body: Any
    headers: dict[str, str]
    ok: tuple[int, ...]
    token: str
    capture: str | None
    sample: Any

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "body": self.body,
                "headers": dict(self.headers), "ok": list(self.ok), "token": self.token,
                "capture": self.capture, "sample": self.sample}  # fmt: skip

    @classmethod
    def from_json(cls, doc: object, source: str, *, field: str = "") -> RequestSpec:
        at = _At(source, field)
        f = _exactly(doc, at, [spec.name for spec in fields(cls)])
        token = _str(f["token"], at / "token")
        if token not in TOKEN_KINDS:
            raise (at / "token").error(f"must be one of {', '.join(TOKEN_KINDS)}")
        return cls(
            method=_str(f["method"], at / "method"),
            path=_str(f["path"], at / "path"),
            body=f["body"],
            headers=_strings(f["headers"], at / "headers"),
            ok=tuple(_int(v, at / "ok" / i) for i, v in enumerate(_list(f["ok"], at / "ok"))),
            token=token,
            capture=_optional_str(f["capture"], at / "capture"),
            sample=f["sample"],
        )


@dataclass(frozen=True)
class Profile:
    """How the journey speaks to its target (`twin.drill.profile` validates the YAML it comes
    from): the request types it drives (`requests`; a type left out is not sent), the HLS
    master playlist templates of live and on-demand classes (None: no streaming), the header
    that carries a rider's token and its prefix (`Bearer `; no header: no token), headers on
    every request, and the statuses that count as success for the player's requests."""

    name: str
    requests: dict[str, RequestSpec]
    live_master: str | None
    vod_master: str | None
    auth_header: str | None
    auth_prefix: str
    headers: dict[str, str]
    hls_ok: tuple[int, ...]

    @property
    def streams(self) -> bool:
        return self.live_master is not None or self.vod_master is not None

    def drives(self, rtype: str) -> bool:
        """Whether the journey sends `rtype` at all (the player's types: with streaming)."""
        return self.streams if rtype in HLS_TYPES else rtype in self.requests

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name,
                "requests": {k: v.to_json() for k, v in sorted(self.requests.items())},
                "live_master": self.live_master, "vod_master": self.vod_master,
                "auth_header": self.auth_header, "auth_prefix": self.auth_prefix,
                "headers": dict(self.headers), "hls_ok": list(self.hls_ok)}  # fmt: skip

    @classmethod
    def from_json(cls, doc: object, source: str, *, field: str = "") -> Profile:
        at = _At(source, field)
        f = _exactly(doc, at, [spec.name for spec in fields(cls)])
        requests = _object(f["requests"], at / "requests")
        for name in requests:
            if name not in JOURNEY_TYPES:
                raise (at / "requests" / name).error(
                    f"unknown request type (expected {', '.join(JOURNEY_TYPES)})"
                )
        return cls(
            name=_str(f["name"], at / "name"),
            requests={
                k: RequestSpec.from_json(v, source, field=(at / "requests" / k).path)
                for k, v in requests.items()
            },
            live_master=_optional_str(f["live_master"], at / "live_master"),
            vod_master=_optional_str(f["vod_master"], at / "vod_master"),
            auth_header=_optional_str(f["auth_header"], at / "auth_header"),
            auth_prefix=_str(f["auth_prefix"], at / "auth_prefix"),
            headers=_strings(f["headers"], at / "headers"),
            hls_ok=tuple(
                _int(v, at / "hls_ok" / i) for i, v in enumerate(_list(f["hls_ok"], at / "hls_ok"))
            ),
        )


# -- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveClass:
    """A live class: `start`/`end` in the clock it belongs to, and its weight (riders)."""

    id: str
    start: float
    end: float
    weight: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "start": self.start, "end": self.end, "weight": self.weight}

    @classmethod
    def from_json(cls, doc: object, source: str, *, field: str = "") -> LiveClass:
        at = _At(source, field)
        f = _exactly(doc, at, ("id", "start", "end", "weight"))
        return cls(
            _str(f["id"], at / "id"),
            _float(f["start"], at / "start"),
            _float(f["end"], at / "end"),
            _float(f["weight"], at / "weight"),
        )


def _classes(value: object, at: _At) -> tuple[LiveClass, ...]:
    return tuple(
        LiveClass.from_json(c, at.source, field=(at / i).path)
        for i, c in enumerate(_list(value, at))
    )


def _pair(value: object, at: _At) -> tuple[float, float]:
    first, second = _list(value, at, 2)
    return _float(first, at / 0), _float(second, at / 1)


def _pairs(value: object, at: _At) -> tuple[tuple[float, float], ...]:
    return tuple(_pair(p, at / i) for i, p in enumerate(_list(value, at)))


def _join(value: object, at: _At) -> tuple[int, float]:
    index, joiners = _list(value, at, 2)
    return _int(index, at / 0), _float(joiners, at / 1)


def _joins(value: object, at: _At) -> tuple[tuple[tuple[int, float], ...], ...]:
    return tuple(
        tuple(_join(j, at / k / i) for i, j in enumerate(_list(second, at / k)))
        for k, second in enumerate(_list(value, at))
    )


@dataclass(frozen=True)
class Plan:
    """What `twin drill` tells its load generators (`plan.json`, `twin.drill.plan`).

    `t0` is the epoch second at drill second 0, shared by every process; per-second series
    (`users`, the live shares, `live_joins`) are indexed by drill second.
    """

    t0: float
    duration_s: int
    speedup: float
    users: tuple[int, ...]
    spawn_rate: float
    live_start_share: tuple[float, ...]
    active_live_share: tuple[float, ...]
    scenario_live: tuple[LiveClass, ...]  # drill seconds
    # per drill second: (index into scenario_live, joiners) of the classes taking joiners
    live_joins: tuple[tuple[tuple[int, float], ...], ...]
    od_lengths: tuple[tuple[float, float], ...]  # on-demand session (scenario s, probability)
    target_live: tuple[LiveClass, ...]  # epoch seconds, the target's own live classes
    on_demand: dict[str, float]  # class id -> length in seconds
    riders: tuple[dict[str, Any], ...]  # `twin.drill.rider_pool.rider_pool`, as it made them
    out_dir: str
    segment_s: float
    telemetry_batch_s: float
    leaderboard_live_s: float
    leaderboard_od_s: float
    feedback_share: float
    seed: int
    profile: Profile  # how the journey speaks to the target (`twin.drill.profile`)
    tempo_s: float = 2.0  # a music session's cadence sample period (`twin.config.audio`)
    music_share: float = 0.0  # sessions playing music that follows cadence

    def at(self, series: tuple[float, ...] | tuple[int, ...], tau: float) -> float:
        """The value of a per-second series at drill second `tau` (clamped to the run)."""
        if not series:
            return 0.0
        return float(series[min(max(int(tau), 0), len(series) - 1)])

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "t0": self.t0,
            "duration_s": self.duration_s,
            "speedup": self.speedup,
            "users": list(self.users),
            "spawn_rate": self.spawn_rate,
            "live_start_share": list(self.live_start_share),
            "active_live_share": list(self.active_live_share),
            "scenario_live": [c.to_json() for c in self.scenario_live],
            "live_joins": [[[i, w] for i, w in sec] for sec in self.live_joins],
            "od_lengths": [[s, p] for s, p in self.od_lengths],
            "target_live": [c.to_json() for c in self.target_live],
            "on_demand": dict(self.on_demand),
            "riders": [dict(r) for r in self.riders],
            "out_dir": self.out_dir,
            "seed": self.seed,
            "profile": self.profile.to_json(),
            "constants": {name: getattr(self, name) for name in _CONSTANTS},
        }

    @classmethod
    def from_json(cls, doc: object, source: str) -> Plan:
        at = _At(source)
        f = _versioned(doc, at, [*_plain_fields(cls), "constants"])
        where = at / "constants"
        consts = _exactly(f["constants"], where, _CONSTANTS)
        on_demand = _object(f["on_demand"], at / "on_demand")
        return cls(
            t0=_float(f["t0"], at / "t0"),
            duration_s=_int(f["duration_s"], at / "duration_s"),
            speedup=_float(f["speedup"], at / "speedup"),
            users=tuple(
                _int(u, at / "users" / i) for i, u in enumerate(_list(f["users"], at / "users"))
            ),
            spawn_rate=_float(f["spawn_rate"], at / "spawn_rate"),
            live_start_share=_floats(f["live_start_share"], at / "live_start_share"),
            active_live_share=_floats(f["active_live_share"], at / "active_live_share"),
            scenario_live=_classes(f["scenario_live"], at / "scenario_live"),
            live_joins=_joins(f["live_joins"], at / "live_joins"),
            od_lengths=_pairs(f["od_lengths"], at / "od_lengths"),
            target_live=_classes(f["target_live"], at / "target_live"),
            on_demand={k: _float(v, at / "on_demand" / k) for k, v in on_demand.items()},
            riders=tuple(
                _object(r, at / "riders" / i)
                for i, r in enumerate(_list(f["riders"], at / "riders"))
            ),
            out_dir=_str(f["out_dir"], at / "out_dir"),
            seed=_int(f["seed"], at / "seed"),
            profile=Profile.from_json(f["profile"], source, field="profile"),
            **{name: _float(consts[name], where / name) for name in _CONSTANTS},
        )


def _plain_fields(cls: type[Plan]) -> list[str]:
    """The plan's fields that sit at the top of its document (not in `constants`)."""
    return [spec.name for spec in fields(cls) if spec.name not in _CONSTANTS]


def read_plan(path: str | Path) -> Plan:
    """The plan in the file `path`."""
    return Plan.from_json(_read(path), str(path))


# -- the records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeRecord:
    """One request type as one load-generating process recorded it.

    `intended_hdr` is the latency from each request's intended send time, `service_hdr` from
    when it was sent; `windows` holds the intended latency per latency window (keyed by
    window, at the recorder's window precision). Per-second series are keyed by the drill
    second the request was sent in (negative: sent before `t0`).
    """

    intended_hdr: str  # HdrHistogram's base64 encoding
    service_hdr: str
    count: int
    errors: int
    bytes: int
    per_second: dict[int, int]
    errors_per_second: dict[int, int]
    messages: dict[str, int]  # a few distinct error messages, with how often each came
    windows: dict[int, str]

    def to_json(self) -> dict[str, Any]:
        return {
            "intended_hdr": self.intended_hdr,
            "service_hdr": self.service_hdr,
            "count": self.count,
            "errors": self.errors,
            "bytes": self.bytes,
            "per_second": _seconds_key(self.per_second),
            "errors_per_second": _seconds_key(self.errors_per_second),
            "messages": dict(self.messages),
            "windows": _seconds_key(self.windows),
        }

    @classmethod
    def from_json(cls, doc: object, source: str, *, field: str = "") -> TypeRecord:
        at = _At(source, field)
        f = _exactly(doc, at, [spec.name for spec in fields(cls)])
        windows = _object(f["windows"], at / "windows")
        messages = _object(f["messages"], at / "messages")
        return cls(
            intended_hdr=_str(f["intended_hdr"], at / "intended_hdr"),
            service_hdr=_str(f["service_hdr"], at / "service_hdr"),
            count=_int(f["count"], at / "count"),
            errors=_int(f["errors"], at / "errors"),
            bytes=_int(f["bytes"], at / "bytes"),
            per_second=_by_second(f["per_second"], at / "per_second"),
            errors_per_second=_by_second(f["errors_per_second"], at / "errors_per_second"),
            messages={k: _int(v, at / "messages" / k) for k, v in messages.items()},
            windows={
                _second(k, at / "windows"): _str(v, at / "windows" / k) for k, v in windows.items()
            },
        )


@dataclass(frozen=True)
class RecordFile:
    """`rec-<pid>.json`: what one load-generating process recorded, as of `written_at`.

    `cpu_s` is the process's CPU time since the load started (None: it had not started);
    `wait_s` its time runnable but waiting for a CPU since then (None: not started, or no
    `/proc/<pid>/schedstat`);
    `t0` and `window_s` are the plan's start and the latency windows' width, so that the files
    of every process line up. `users` is the process's Locust users in the middle of each drill
    second (sampled there: Locust's own history stamps whole seconds at an arbitrary phase).
    """

    pid: int
    cpu_s: float | None
    t0: float
    window_s: float
    written_at: float
    names: dict[str, TypeRecord]  # by request type
    experience: dict[str, float]  # rider-experience counters (sessions, segments_degraded...)
    users: dict[int, int]  # drill second -> users running in its middle
    wait_s: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "pid": self.pid,
            "cpu_s": self.cpu_s,
            "wait_s": self.wait_s,
            "t0": self.t0,
            "window_s": self.window_s,
            "written_at": self.written_at,
            "names": {name: rec.to_json() for name, rec in sorted(self.names.items())},
            "experience": dict(self.experience),
            "users": _seconds_key(self.users),
        }

    @classmethod
    def from_json(cls, doc: object, source: str) -> RecordFile:
        at = _At(source)
        f = _versioned(doc, at, [spec.name for spec in fields(cls)])
        names = _object(f["names"], at / "names")
        experience = _object(f["experience"], at / "experience")
        cpu, wait = f["cpu_s"], f["wait_s"]
        return cls(
            pid=_int(f["pid"], at / "pid"),
            cpu_s=None if cpu is None else _float(cpu, at / "cpu_s"),
            wait_s=None if wait is None else _float(wait, at / "wait_s"),
            t0=_float(f["t0"], at / "t0"),
            window_s=_float(f["window_s"], at / "window_s"),
            written_at=_float(f["written_at"], at / "written_at"),
            names={
                name: TypeRecord.from_json(part, source, field=(at / "names" / name).path)
                for name, part in names.items()
            },
            experience={k: _float(v, at / "experience" / k) for k, v in experience.items()},
            users=_by_second(f["users"], at / "users"),
        )


def read_records(path: str | Path) -> RecordFile:
    """The records in the file `path` (one of `RECORD_GLOB`)."""
    return RecordFile.from_json(_read(path), str(path))
