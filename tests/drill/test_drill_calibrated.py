"""The shipped `reference-platform.yaml` predicts a drill it was not calibrated on.

`scenarios/architectures/reference-platform.yaml` was calibrated (`twin calibrate`) on the
three drills kept in `scenarios/calibration/`: daily-peak (seed 1, scale 1e-3) and the music
partner launch's fixed variant (seed 2024, scales 3e-4 and 1.2e-3), 60 s at 60x each. This
drill differs in scenario (the New Year surge's fixed variant: a surge of riders joining
classes), seed (2020) and load (7e-5: ~80 riders, ~55 requests/s): the twin's predicted p50
and p95 of each request type must fall within 25 % of the measured ones.

Request types with fewer than 200 requests in the drill are left out: the p95 of n samples
is only known to within the order statistics n(0.95 +- 1.96 sqrt(0.05 x 0.95 / n)), at
n = 200 the 92nd to the 98th percentile, which for these latencies already spans +-30 %;
below that the measurement itself cannot hold 25 %.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.25
MIN_COUNT = 200


@pytest.mark.slow
def test_calibrated_model_predicts_an_unseen_drill_within_25_percent(tmp_path):
    out = tmp_path / "drill"
    code = main([
        "drill", str(ROOT / "scenarios/new-year-surge-fixed.yaml"), "--target", "local",
        "--scale", "7e-5", "--speedup", "60", "--out", str(out),
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
    assert len(set(compared)) >= 5  # segment, telemetry, leaderboard, playlist, join, recommend
    assert not misses, "; ".join(misses)
