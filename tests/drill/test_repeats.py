"""How far identical drills agree (`twin.drill.repeats`), on the stored repeats: the daily
peak at 2e-3 and the music launch at 2.4e-3, each drilled three times back to back at 06:10
UTC on 7 December (`scenarios/validation-repeat/`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from twin.drill.out_of_sample import error_rows
from twin.drill.repeats import config_of, repeat_agreement

ROOT = Path(__file__).resolve().parents[2]
REPEATS = ROOT / "scenarios/validation-repeat"


def _drills(*names: str) -> list[tuple[str, dict]]:
    return [(n, json.loads((REPEATS / n / "summary.json").read_text())) for n in names]


PEAK = [f"daily-peak-2e-3-r{i}" for i in (1, 2, 3)]
MUSIC = [f"music-partner-launch-fixed-2.4e-3-r{i}" for i in (1, 2, 3)]


def test_identical_drills_are_grouped_and_others_are_not():
    drills = _drills(*PEAK, *MUSIC)
    assert len({config_of(s) for _, s in drills}) == 2
    got = repeat_agreement(drills)
    assert got is not None
    assert sorted(map(tuple, got["groups"])) == [tuple(PEAK), tuple(MUSIC)]
    # one drill of each: nothing repeats
    assert repeat_agreement(_drills(PEAK[0], MUSIC[0])) is None
    # the same drill with another seed is another configuration
    ((name, other),) = _drills(PEAK[1])
    other = copy.deepcopy(other)
    other["seed"] += 1
    assert repeat_agreement([*_drills(PEAK[0]), (name, other)]) is None


def test_each_drill_predicts_its_repeats_over_the_figures_both_count():
    drills = dict(_drills(*PEAK))
    got = repeat_agreement(list(drills.items()))
    rows = got["rows"]
    assert {(r["drill"], r["predicted_by"]) for r in rows} == {
        (a, b) for a in PEAK for b in PEAK if a != b
    }
    for r in rows:
        a, b = drills[r["drill"]], drills[r["predicted_by"]]
        measured = a["requests"][r["request"]]["latency_ms"][r["q"]]
        by_repeat = b["requests"][r["request"]]["latency_ms"][r["q"]]
        assert r["error"] == pytest.approx(by_repeat / measured - 1.0, abs=1e-3)
        # counted in both: a figure the predicting drill did not pin down is left out
        key = (r["request"], r["q"])
        (mine,) = [x for x in error_rows("b", b, b) if (x["request"], x["q"]) == key]
        assert r["counts"] and mine["counts"]
    # the figures each drill counts differ (r1 and r3 pin a join p50 and a recommend p50 that
    # r2 does not): 62 candidate rows, 58 compared
    counted = {n: {(x["request"], x["q"]) for x in error_rows(n, s, s) if x["counts"]}
               for n, s in drills.items()}  # fmt: skip
    assert len(rows) == sum(len(counted[a] & counted[b]) for a in PEAK for b in PEAK if a != b)
    assert len(rows) < sum(len(counted[a]) for a in PEAK for b in PEAK if a != b)
    t = got["repeats"]
    assert t["counted"] == len(rows)
    assert t["within_target"] == sum(abs(r["error"]) <= 0.25 for r in rows)
    # measured: the three back-to-back drills disagree by more than 25 % on some figures
    # (leaderboard p95 6.16 ms against 9.53; telemetry p50 2.90 against 3.78)
    assert 0 < t["within_target"] < t["counted"]


def test_the_model_is_scored_on_the_same_figures():
    drills = _drills(*PEAK)
    # a model that predicts every figure 10 % high, on every figure of every drill
    model = [r for folder, s in drills for r in error_rows(folder, s, {"requests": {
        t: {"latency_ms": {q: v * 1.1 for q, v in b["latency_ms"].items() if v}}
        for t, b in s["requests"].items() if b.get("latency_ms")}})]  # fmt: skip
    got = repeat_agreement(drills, model)
    figures = {(r["drill"], r["request"], r["q"]) for r in got["rows"]}
    assert got["model"]["counted"] == len(figures) < len(model)
    assert got["model"]["mean_abs_error"] == pytest.approx(0.1, abs=1e-3)
    assert got["model"]["within_target"] == len(figures)
