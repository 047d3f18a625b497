"""The shipped `reference-platform.yaml` predicts a drill it was not calibrated on.

`scenarios/architectures/reference-platform.yaml` was calibrated (`twin calibrate`) on the
drills kept in `scenarios/calibration/`: daily-peak (seed 1) and the music partner launch's
fixed variant (seed 2024), at several scales, 60 s at 60x each. This drill differs in scenario
(the New Year surge's fixed variant: a surge of riders joining classes), seed (2020) and load
(7e-5: ~80 riders, ~60 requests/s): the twin's predicted p50 and p95 of each request type must
fall within 25 % of the measured ones.

The drill runs three times (`--repeat 3`, a fresh `twin serve` each time) and is compared
pooled. One 60 s drill cannot measure a light request's p95 to 25 %: twelve identical drills
moved it by -30 % to +40 % (sd of log 0.11-0.23), because its tail lives in a few seconds of
the surge and this shared machine's speed drifts over tens of seconds; only repeats see that.

What is compared. A drill measures a percentile from a sample, and its summary says how well
(`latency_ci95_ms`): the wider of the distribution-free interval between the order statistics
n q -+ 1.96 sqrt(n q (1 - q)), and a block bootstrap over the drill's 1 s latency windows,
kept run by run, so the interval includes how much the runs differ. A percentile whose
interval reaches further than 25 % from the measured value is not compared: there the drill
cannot tell a 25 % miss from its own sampling noise. Types with fewer than 200 requests per
run are left out altogether, and at least six p50s and two p95s must be compared.

When a drill pins fewer than that (its runs disagreed: the machine was busy), it cannot judge
the model either way, and the test drills once more; a pinned miss fails at once. Measured
on this machine: of 7 real runs of this test's drill and 9 triples of 27 earlier single drills
pooled offline, 14 pinned enough and none missed; the other 2 were inconclusive.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.drill.measure import pinned

ROOT = Path(__file__).resolve().parents[2]
TOLERANCE = 0.25
MIN_COUNT = 200  # per run
REPEAT = 3
ATTEMPTS = 2  # drills, when the first pinned too few percentiles to judge (see above)


def test_pinned_means_the_interval_lies_within_the_tolerance():
    block = {"latency_ms": {"p50": 2.0, "p95": 10.0},
             "latency_ci95_ms": {"p50": [1.9, 2.1], "p95": [8.0, 14.0]}}  # fmt: skip
    assert pinned(block, "p50", TOLERANCE) and not pinned(block, "p95", TOLERANCE)  # +40 %


def _drill(out: Path) -> tuple[dict, dict]:
    code = main([
        "drill", str(ROOT / "scenarios/new-year-surge-fixed.yaml"), "--target", "local",
        "--scale", "7e-5", "--speedup", "60", "--repeat", str(REPEAT), "--out", str(out),
    ])  # fmt: skip
    assert code == 0
    measured = json.loads((out / "summary.json").read_text())
    predicted = json.loads((out / "predicted.json").read_text())
    assert predicted["architecture"] == "reference-platform"
    assert measured["replications"] == REPEAT
    return measured, predicted


def _compare(measured: dict, predicted: dict) -> tuple[dict[str, list[str]], list[str]]:
    """The percentiles the drill pinned down, and those the prediction missed by > 25 %."""
    compared: dict[str, list[str]] = {"p50": [], "p95": []}
    misses = []
    for rtype, p in predicted["requests"].items():
        m = measured["requests"][rtype]
        if m["count"] < MIN_COUNT * REPEAT:
            continue
        for q in ("p50", "p95"):
            if not pinned(m, q, TOLERANCE):
                continue
            compared[q].append(rtype)
            error = p["latency_ms"][q] / m["latency_ms"][q] - 1.0
            if abs(error) > TOLERANCE:
                misses.append(f"{rtype} {q}: predicted {p['latency_ms'][q]:.2f} ms, "
                              f"measured {m['latency_ms'][q]:.2f} ms "
                              f"(95 % CI {m['latency_ci95_ms'][q]}) ({error:+.0%})")  # fmt: skip
    return compared, misses


@pytest.mark.slow
def test_calibrated_model_predicts_an_unseen_drill_within_25_percent(tmp_path):
    seen = []
    for attempt in range(1, ATTEMPTS + 1):
        compared, misses = _compare(*_drill(tmp_path / f"drill-{attempt}"))
        assert not misses, "; ".join(misses)  # a pinned miss fails at once, never retried
        # segment, telemetry, leaderboard, playlist, join, recommend; segment and telemetry p95
        if len(compared["p50"]) >= 6 and len(compared["p95"]) >= 2:
            return
        seen.append(compared)
    pytest.fail(f"inconclusive {ATTEMPTS} times (too few percentiles pinned): {seen}")
