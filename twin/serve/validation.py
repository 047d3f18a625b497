"""Strict request validation: every body is parsed here or refused with a 400 naming the field.

JSON is parsed without Python's extensions (`NaN`, `Infinity` are refused, as RFC 8259 says),
objects may carry no unknown fields, numbers are never booleans, and telemetry is checked for
physical plausibility: a sample outside these bounds is spoofed or broken, not a rider.

| field | bounds | why |
|---|---|---|
| heart_rate_bpm | 25-250 | below resting bradycardia, above any recorded maximum |
| cadence_rpm | 0-200 | track sprinters peak near 200 rpm |
| power_w | 0-2,500 | elite sprint peaks are ~2,000-2,500 W |
| resistance_pct | 0-100 | a percentage |
| speed_kph | 0-100 | a bike's virtual speed or a tread's belt, with margin |
| t | at most `max_future_s` ahead, at most `max_age_s` old | clocks drift; replays do not |
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec

from twin.serve.problems import ApiError, bad_request

__all__ = [
    "SAMPLE_BOUNDS",
    "FeedbackRequest",
    "JoinRequest",
    "SampleDoc",
    "TelemetryBatch",
    "TempoSample",
    "WorkoutRequest",
    "check_id",
    "check_telemetry",
    "parse_feedback",
    "parse_join",
    "parse_json",
    "parse_telemetry",
    "parse_tempo",
    "parse_workout",
    "query_bool",
    "query_choice",
    "query_int",
]

SAMPLE_BOUNDS: dict[str, tuple[float, float]] = {
    "cadence_rpm": (0.0, 200.0),
    "resistance_pct": (0.0, 100.0),
    "power_w": (0.0, 2500.0),
    "heart_rate_bpm": (25.0, 250.0),
    "speed_kph": (0.0, 100.0),
}
_SAMPLE_FIELDS = frozenset({"seq", "t", *SAMPLE_BOUNDS})
_OPTIONAL = ("cadence_rpm", "resistance_pct", "heart_rate_bpm", "speed_kph")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
MAX_SEQ = 2**53 - 1  # exact in every JSON reader


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    """A validated batch as parallel lists, one entry per sample (no object per sample).

    `docs_json` is the samples' documents as one JSON array, in the batch's order: each is
    the sample's canonical JSON as stored and served back, with the class id in it.
    """

    device_id: str
    class_id: str
    seqs: list[int]
    times: list[float]
    powers: list[float]
    docs_json: str

    def __len__(self) -> int:
        return len(self.seqs)

    @property
    def docs(self) -> list[str]:
        """Each sample's document: `docs_json` cut between samples (their fields are numbers
        and nulls, so `},{` occurs nowhere else)."""
        return [f"{{{fields}}}" for fields in self.docs_json[2:-2].split("},{")]


def _bounded(name: str) -> Any:
    lo, hi = SAMPLE_BOUNDS[name]
    return Annotated[float, msgspec.Meta(ge=lo, le=hi)]


_Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
_Power = _bounded("power_w")
_Cadence = _bounded("cadence_rpm")
_Resistance = _bounded("resistance_pct")
_HeartRate = _bounded("heart_rate_bpm")
_Speed = _bounded("speed_kph")


class SampleDoc(msgspec.Struct, forbid_unknown_fields=True):
    """One sample as sent; the bounds of `SAMPLE_BOUNDS` are checked while decoding.

    Its fields in this order are the stored document's (after `class_id`).
    """

    seq: _Seq
    t: float
    power_w: _Power  # type: ignore[valid-type]  # built by _bounded
    cadence_rpm: _Cadence | None = None  # type: ignore[valid-type]  # built by _bounded
    resistance_pct: _Resistance | None = None  # type: ignore[valid-type]  # built by _bounded
    heart_rate_bpm: _HeartRate | None = None  # type: ignore[valid-type]  # built by _bounded
    speed_kph: _Speed | None = None  # type: ignore[valid-type]  # built by _bounded


class _BatchDoc(msgspec.Struct, forbid_unknown_fields=True):
    device_id: str
    class_id: str
    samples: Annotated[list[SampleDoc], msgspec.Meta(min_length=1)]


_decode_batch = msgspec.json.Decoder(_BatchDoc).decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class JoinRequest:
    rider_id: str
    device_id: str | None


@dataclass(frozen=True, slots=True)
class WorkoutRequest:
    rider_id: str
    class_id: str
    duration_s: float
    output_kj: float | None
    device_id: str | None


@dataclass(frozen=True, slots=True)
class FeedbackRequest:
    rating: int
    completion_pct: float | None


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(body: bytes) -> Any:
    """The JSON document in `body`, or a 400 saying why it is not one."""
    if not body:
        raise bad_request("body", "empty; a JSON object is required")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise bad_request("body", "JSON nested too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, integers too long to convert
        raise bad_request("body", f"invalid JSON: {exc}") from exc


def _obj(doc: Any, where: str, allowed: frozenset[str], required: tuple[str, ...]) -> dict:
    if not isinstance(doc, dict):
        raise bad_request(where, f"must be a JSON object, got {type(doc).__name__}")
    unknown = doc.keys() - allowed
    if unknown:
        raise bad_request(where, f"unknown field {sorted(unknown)[0]!r}")
    for name in required:
        if name not in doc:
            raise bad_request(f"{where}.{name}" if where else name, "is required")
    return doc


def check_id(value: Any, field: str) -> str:
    """An identifier: 1-128 of `A-Za-z0-9._:@-`, starting alphanumeric."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise bad_request(field, f"must be an id (1-128 of A-Za-z0-9._:@-), got {value!r:.80}")
    return value


def _number(value: Any, field: str, lo: float, hi: float) -> float:
    if type(value) is not int and type(value) is not float:
        raise bad_request(field, f"must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise bad_request(field, "must be finite")
    if value < lo:
        raise bad_request(field, f"{value:g} is below {lo:g}")
    if value > hi:
        raise bad_request(field, f"{value:g} is above {hi:g}")
    return value


def _integer(value: Any, field: str, lo: int, hi: int) -> int:
    if type(value) is not int or not lo <= value <= hi:
        raise bad_request(field, f"must be an integer in {lo}..{hi}, got {value!r:.40}")
    return value


def _sample(doc: Any, where: str, now: float, future: float, age: float) -> SampleDoc:
    doc = _obj(doc, where, _SAMPLE_FIELDS, ("seq", "t", "power_w"))
    seq = _integer(doc["seq"], f"{where}.seq", 0, MAX_SEQ)
    t = _number(doc["t"], f"{where}.t", -math.inf, math.inf)
    if t > now + future:
        raise bad_request(f"{where}.t", f"{t - now:.1f} s in the future (at most {future:g} s)")
    if t < now - age:
        raise bad_request(f"{where}.t", f"{now - t:.0f} s old (at most {age:g} s)")
    power = _number(doc["power_w"], f"{where}.power_w", *SAMPLE_BOUNDS["power_w"])
    optional = {}
    for name in _OPTIONAL:
        value = doc.get(name)
        if value is not None:
            value = float(_number(value, f"{where}.{name}", *SAMPLE_BOUNDS[name]))
        optional[name] = value
    return SampleDoc(seq, float(t), float(power), **optional)


_TELEMETRY = frozenset({"device_id", "class_id", "samples"})


def check_telemetry(
    doc: Any, *, now: float, max_batch: int, max_future_s: float, max_age_s: float
) -> TelemetryBatch:
    """The reference checks, field by field, on a parsed document: slow, but its 400 names
    the first bad field (`samples[3].heart_rate_bpm: 260 is above 250`)."""
    doc = _obj(doc, "", _TELEMETRY, tuple(_TELEMETRY))
    device_id = check_id(doc["device_id"], "device_id")
    class_id = check_id(doc["class_id"], "class_id")
    raw = doc["samples"]
    if not isinstance(raw, list) or not raw:
        raise bad_request("samples", "must be a non-empty list")
    if len(raw) > max_batch:
        raise _too_many(len(raw), max_batch)
    samples = [
        _sample(item, f"samples[{i}]", now, max_future_s, max_age_s) for i, item in enumerate(raw)
    ]
    _refuse_repeats([s.seq for s in samples])
    return _batch(device_id, class_id, samples)


def _too_many(count: int, max_batch: int) -> ApiError:
    return ApiError(413, f"samples: {count} samples exceed the batch limit of {max_batch}")


def _refuse_repeats(seqs: list[int]) -> None:
    first: dict[int, int] = {}
    for i, seq in enumerate(seqs):
        j = first.setdefault(seq, i)
        if j != i:
            raise bad_request(f"samples[{i}].seq", f"{seq} repeats samples[{j}]")


def _batch(device_id: str, class_id: str, samples: list[SampleDoc]) -> TelemetryBatch:
    """The batch, with its documents made by one encode of the whole list and one replace
    that puts the class id first in each (`{"seq":` opens every sample, and only there)."""
    head = f'{{"class_id":"{class_id}","seq":'  # an id never needs escaping
    docs_json = _encode(samples).decode().replace('{"seq":', head)
    return TelemetryBatch(
        device_id,
        class_id,
        [s.seq for s in samples],
        [s.t for s in samples],
        [s.power_w for s in samples],
        docs_json,
    )


def parse_telemetry(
    body: bytes, *, now: float, max_batch: int, max_future_s: float, max_age_s: float
) -> TelemetryBatch:
    """A validated batch from a request body; a 400 (or 413) names what is wrong.

    The common case, a valid batch, is decoded and bounds-checked in one pass of msgspec's C
    decoder, leaving a few list comprehensions in Python. Anything it refuses is checked
    again by `check_telemetry`, whose message names the field; duplicates of a seq inside
    one batch are refused as contradictory.
    """

    def checked() -> TelemetryBatch:  # the reference checks name what is wrong
        return check_telemetry(parse_json(body), now=now, max_batch=max_batch,
                               max_future_s=max_future_s, max_age_s=max_age_s)  # fmt: skip

    try:
        doc = _decode_batch(body)
    except msgspec.MsgspecError:
        return checked()
    samples = doc.samples
    times = [s.t for s in samples]
    seqs = [s.seq for s in samples]
    if (
        len(samples) > max_batch
        or not _ID.fullmatch(doc.device_id)
        or not _ID.fullmatch(doc.class_id)
        or max(times) > now + max_future_s
        or min(times) < now - max_age_s
        or len(set(seqs)) != len(seqs)
    ):
        return checked()
    return _batch(doc.device_id, doc.class_id, samples)


def parse_join(doc: Any) -> JoinRequest:
    doc = _obj(doc, "", frozenset({"rider_id", "device_id"}), ("rider_id",))
    device = doc.get("device_id")
    return JoinRequest(
        check_id(doc["rider_id"], "rider_id"),
        None if device is None else check_id(device, "device_id"),
    )


_WORKOUT = frozenset({"rider_id", "class_id", "duration_s", "output_kj", "device_id"})


def parse_workout(doc: Any) -> WorkoutRequest:
    """A ride summary: at most a day long, output at most 2,500 W for its whole duration."""
    doc = _obj(doc, "", _WORKOUT, ("rider_id", "class_id", "duration_s"))
    duration = _number(doc["duration_s"], "duration_s", 0.0, 86_400.0)
    output = doc.get("output_kj")
    if output is not None:
        output = _number(output, "output_kj", 0.0, 2.5 * duration)
    device = doc.get("device_id")
    return WorkoutRequest(
        check_id(doc["rider_id"], "rider_id"),
        check_id(doc["class_id"], "class_id"),
        float(duration),
        None if output is None else float(output),
        None if device is None else check_id(device, "device_id"),
    )


@dataclass(frozen=True, slots=True)
class TempoSample:
    """One cadence sample sent to the tempo service: when (unix s) and how fast (rpm)."""

    t: float
    cadence_rpm: float


def parse_tempo(doc: Any, *, now: float, max_future_s: float, max_age_s: float) -> TempoSample:
    """A cadence sample: `t` within the clock bounds of telemetry, `cadence_rpm` in its bounds."""
    doc = _obj(doc, "", frozenset({"t", "cadence_rpm"}), ("t", "cadence_rpm"))
    t = _number(doc["t"], "t", -math.inf, math.inf)
    if t > now + max_future_s:
        raise bad_request("t", f"{t - now:.1f} s in the future (at most {max_future_s:g} s)")
    if t < now - max_age_s:
        raise bad_request("t", f"{now - t:.0f} s old (at most {max_age_s:g} s)")
    cadence = _number(doc["cadence_rpm"], "cadence_rpm", *SAMPLE_BOUNDS["cadence_rpm"])
    return TempoSample(float(t), float(cadence))


def parse_feedback(doc: Any) -> FeedbackRequest:
    """A 1-5 star rating and, optionally, how much of the class was done (0-100 %)."""
    doc = _obj(doc, "", frozenset({"rating", "completion_pct"}), ("rating",))
    completion = doc.get("completion_pct")
    if completion is not None:
        completion = float(_number(completion, "completion_pct", 0.0, 100.0))
    return FeedbackRequest(_integer(doc["rating"], "rating", 1, 5), completion)


def query_int(query: Mapping[str, str], name: str, default: int, lo: int, hi: int) -> int:
    """An integer query parameter in lo..hi, `default` when absent."""
    raw = query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or not lo <= int(raw) <= hi:
        raise bad_request(name, f"must be an integer in {lo}..{hi}, got {raw!r:.40}")
    return int(raw)


def query_bool(query: Mapping[str, str], name: str) -> bool | None:
    """A `true`/`false` query parameter, None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw.lower() not in ("true", "false", "1", "0"):
        raise bad_request(name, f"must be true or false, got {raw!r:.40}")
    return raw.lower() in ("true", "1")


def query_choice(query: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str | None:
    """A query parameter that must be one of `choices`, None when absent."""
    raw = query.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise bad_request(name, f"must be one of {', '.join(choices)}, got {raw!r:.40}")
    return raw
