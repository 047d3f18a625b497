"""A capacity search probing several loads at once finds what one probe at a time finds."""

from __future__ import annotations

import json
from pathlib import Path

from twin.runs.capacity import find_capacity
from twin.runs.units import LocalUnits, Units

MMC = Path(__file__).parents[2] / "scenarios" / "mmc-example.yaml"


def test_capacity_on_two_processes_is_the_serial_search_byte_for_byte() -> None:
    args = (MMC, ["duration_s=3000", "warmup_s=300"], ["services.api.latency_ms.mean<=2000"])
    seen: list[tuple[float, float]] = []
    serial = find_capacity(*args, engine="fluid", only=True, units=Units())
    with LocalUnits(2) as units:
        parallel = find_capacity(
            *args, engine="fluid", only=True, units=units, progress=lambda d, t: seen.append((d, t))
        )
    assert json.dumps(parallel.document) == json.dumps(serial.document)
    # Erlang C: the M/M/4 mean sojourn reaches 2 s near 3.3 requests/s (factor ~0.92 of 3.6/s).
    assert 0.85 < serial.document["max_load_factor"] < 0.99
    assert serial.document["confirmed"]
    # Probed ahead two at a time: more loads evaluated than the search kept, in fewer rounds.
    assert seen[-1][0] > len(serial.document["probes"])
    assert all(done <= total for done, total in seen)
