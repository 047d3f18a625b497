"""The shipped `reference-platform.yaml` predicts a drill it was not calibrated on.

`scenarios/architectures/reference-platform.yaml` was calibrated (`twin calibrate`) on a
daily-peak drill (seed 1, scale 3e-4, 15x, 240 s). This drill differs in scenario (the New
Year surge's fixed variant), seed (2020), scale (2.5e-5) and speedup (120x, 30 s): the twin's
predicted p50 and p95 of each request type must fall within 25 % of the measured ones.
Request types with fewer than 50 requests in the drill are left out: a p95 of a few dozen
samples is noise, not a measurement.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.25
MIN_COUNT = 50


@pytest.mark.slow
def test_calibrated_model_predicts_an_unseen_drill_within_25_percent(tmp_path):
    out = tmp_path / "drill"
    code = main([
        "drill", str(ROOT / "scenarios/new-year-surge-fixed.yaml"), "--target", "local",
        "--scale", "2.5e-5", "--speedup", "120", "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    measured = json.loads((out / "summary.json").read_text())
    predicted = json.loads((out / "predicted.json").read_text())
    assert predicted["architecture"] == "reference-platform"
    compared, misses = [], []
    for rtype, p in predicted["requests"].items():
        m = measured["requests"][rtype]
        if m["count"] < MIN_COUNT:
            continue
        for q in ("p50", "p95"):
            error = p["latency_ms"][q] / m["latency_ms"][q] - 1.0
            compared.append(rtype)
            if abs(error) > TOLERANCE:
                misses.append(f"{rtype} {q}: predicted {p['latency_ms'][q]:.2f} ms, "
                              f"measured {m['latency_ms'][q]:.2f} ms ({error:+.0%})")  # fmt: skip
    assert len(set(compared)) >= 5  # segment, playlist, telemetry, leaderboard, join/recommend
    assert not misses, "; ".join(misses)
