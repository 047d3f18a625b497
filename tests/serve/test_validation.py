"""Telemetry validation has a fast path (msgspec decodes and checks bounds in C) and a
reference path (field by field, naming the culprit). Whatever the body, both must reach the
same verdict: the same batch, byte for byte, or the same error."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import event, given, settings
from hypothesis import strategies as st

from twin.serve.problems import ApiError
from twin.serve.validation import (
    TelemetryBatch,
    check_telemetry,
    parse_json,
    parse_telemetry,
)

NOW = time.time()
LIMITS = {"now": NOW, "max_batch": 8, "max_future_s": 5.0, "max_age_s": 86_400.0}

values = st.one_of(
    st.integers(-5, 300), st.integers(2**53 - 2, 2**64), st.floats(allow_nan=False),
    st.sampled_from([NOW, NOW - 1.5, NOW + 4.9, NOW + 5.1, NOW - 86_401, 25, 250, 2500.5]),
    st.booleans(), st.none(), st.text(max_size=3),
)  # fmt: skip
fields = st.sampled_from(
    ["seq", "t", "power_w", "cadence_rpm", "resistance_pct", "heart_rate_bpm", "speed_kph", "x"]
)


@st.composite
def sample_docs(draw: st.DrawFn, seq: int) -> dict[str, Any]:
    """A valid sample, sometimes with a field bent or dropped."""
    doc: dict[str, Any] = {"seq": seq, "t": NOW - draw(st.floats(0, 100)),
                           "power_w": draw(st.floats(0, 2500)), "heart_rate_bpm": 140}  # fmt: skip
    if draw(st.integers(0, 9)) == 0:
        name = draw(fields)
        if draw(st.booleans()):
            doc[name] = draw(values)
        else:
            doc.pop(name, None)
    return doc


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly plausible batches: a bad id, a repeated seq or an extra field now and then."""
    ids = st.sampled_from(["bike-1", "live-x"] * 8 + ["", "a b", "é", 3])
    count = draw(st.integers(0, 10))
    seqs = draw(st.lists(st.integers(0, 30), min_size=count, max_size=count, unique=True))
    if seqs and draw(st.integers(0, 5)) == 0:
        seqs[-1] = seqs[0]  # a repeat inside the batch
    doc = {"device_id": draw(ids), "class_id": draw(ids),
           "samples": [draw(sample_docs(seq)) for seq in seqs]}  # fmt: skip
    if draw(st.integers(0, 9)) == 0:
        doc["extra"] = None
    return doc


def verdict(fn: Any) -> tuple[str, Any]:
    try:
        batch: TelemetryBatch = fn()
    except ApiError as exc:
        return "refused", (exc.status, exc.message)
    return "accepted", (batch.device_id, batch.class_id, batch.seqs, batch.times,
                        batch.powers, batch.docs_json)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(body=bodies())
def test_the_fast_path_agrees_with_the_reference(body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    fast = verdict(lambda: parse_telemetry(raw, **LIMITS))
    reference = verdict(lambda: check_telemetry(parse_json(raw), **LIMITS))
    event(fast[0] if fast[0] == "accepted" else f"refused {fast[1][0]}")
    assert fast == reference


def test_the_stored_document_keeps_every_field_and_nulls_the_missing() -> None:
    body = {"device_id": "bike-1", "class_id": "live-x", "samples": [
        {"seq": 3, "t": NOW, "power_w": 212, "cadence_rpm": 91.5},
    ]}  # fmt: skip
    batch = parse_telemetry(json.dumps(body).encode(), **LIMITS)
    assert json.loads(batch.docs[0]) == {
        "class_id": "live-x", "seq": 3, "t": NOW, "power_w": 212.0, "cadence_rpm": 91.5,
        "resistance_pct": None, "heart_rate_bpm": None, "speed_kph": None,
    }  # fmt: skip
    assert (batch.seqs, batch.times, batch.powers) == ([3], [NOW], [212.0])
    assert json.loads(batch.docs_json) == [json.loads(batch.docs[0])]
