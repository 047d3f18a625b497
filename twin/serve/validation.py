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
from typing import Any

from twin.serve.problems import ApiError, bad_request

__all__ = [
    "SAMPLE_BOUNDS",
    "FeedbackRequest",
    "JoinRequest",
    "Sample",
    "TelemetryBatch",
    "WorkoutRequest",
    "check_id",
    "parse_feedback",
    "parse_join",
    "parse_json",
    "parse_telemetry",
    "parse_workout",
    "query_bool",
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
class Sample:
    """One accepted 1 Hz sample; `doc` is its canonical JSON as stored and served back."""

    seq: int
    t: float
    power_w: float
    doc: str


@dataclass(frozen=True, slots=True)
class TelemetryBatch:
    device_id: str
    class_id: str
    samples: tuple[Sample, ...]


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


def _sample(doc: Any, where: str, class_id: str, now: float, future: float, age: float) -> Sample:
    doc = _obj(doc, where, _SAMPLE_FIELDS, ("seq", "t", "power_w"))
    seq = _integer(doc["seq"], f"{where}.seq", 0, MAX_SEQ)
    t = _number(doc["t"], f"{where}.t", -math.inf, math.inf)
    if t > now + future:
        raise bad_request(f"{where}.t", f"{t - now:.1f} s in the future (at most {future:g} s)")
    if t < now - age:
        raise bad_request(f"{where}.t", f"{now - t:.0f} s old (at most {age:g} s)")
    power = _number(doc["power_w"], f"{where}.power_w", *SAMPLE_BOUNDS["power_w"])
    parts = [f'{{"seq":{seq},"t":{t!r},"class_id":"{class_id}","power_w":{power!r}']
    for name in _OPTIONAL:
        value = doc.get(name)
        if value is not None:
            value = _number(value, f"{where}.{name}", *SAMPLE_BOUNDS[name])
        parts.append(f',"{name}":{"null" if value is None else repr(value)}')
    # Hand-built JSON, identical to json.dumps: the id is checked to need no escaping and
    # repr() of a finite int or float is a JSON number. Five times faster, on the hot path.
    return Sample(seq, float(t), float(power), "".join(parts) + "}")


_TELEMETRY = frozenset({"device_id", "class_id", "samples"})


def parse_telemetry(
    doc: Any, *, now: float, max_batch: int, max_future_s: float, max_age_s: float
) -> TelemetryBatch:
    """A validated batch; duplicates of a seq inside one batch are refused as contradictory."""
    doc = _obj(doc, "", _TELEMETRY, tuple(_TELEMETRY))
    device_id = check_id(doc["device_id"], "device_id")
    class_id = check_id(doc["class_id"], "class_id")
    raw = doc["samples"]
    if not isinstance(raw, list) or not raw:
        raise bad_request("samples", "must be a non-empty list")
    if len(raw) > max_batch:
        raise ApiError(413, f"samples: {len(raw)} samples exceed the batch limit of {max_batch}")
    samples = [
        _sample(item, f"samples[{i}]", class_id, now, max_future_s, max_age_s)
        for i, item in enumerate(raw)
    ]
    _refuse_repeats(samples)
    return TelemetryBatch(device_id, class_id, tuple(samples))


def _refuse_repeats(samples: list[Sample]) -> None:
    first: dict[int, int] = {}
    for i, sample in enumerate(samples):
        j = first.setdefault(sample.seq, i)
        if j != i:
            raise bad_request(f"samples[{i}].seq", f"{sample.seq} repeats samples[{j}]")


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
