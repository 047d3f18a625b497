"""The validation table as published: the README's section is the one made from
docs/validation/engines.json, every stored verdict on a row follows from its figures, and the
comparison itself judges rows as the issue's targets say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.validation import table
from tests.validation.agreement import TARGETS, Row, compare, within

ROOT = Path(__file__).resolve().parents[2]
STORED = ROOT / "docs" / "validation" / "engines.json"


@pytest.fixture(scope="module")
def stored() -> tuple[list[Row], dict]:
    data = json.loads(STORED.read_text(encoding="utf-8"))
    return [Row(**row) for row in data["rows"]], data["meta"]


def test_the_readme_shows_the_stored_table(stored) -> None:
    rows, meta = stored
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    wanted = table.replace_section(readme, table.readme_markdown(rows, meta))
    assert readme == wanted, (
        "README.md's engines-agree section is not docs/validation/engines.json: run "
        "`python tests/validation/engines_agree.py --write` (it reuses its cache)"
    )


def test_every_stored_row_is_judged_by_its_target(stored) -> None:
    rows, _ = stored
    kinds = {"mean", "p99", "utilization", "lag", "fraction", "joins", "verdict", "scaling"}
    assert {r.kind for r in rows} == kinds
    for row in rows:
        if row.passed is None or row.kind in {"verdict", "scaling", "joins"}:
            continue
        if row.note.startswith("missing"):
            continue  # failed joins: judged against the exact engine's joins, not on the row
        assert row.passed == within(row.kind, row.exact, row.fluid), row


def _summary(mean: float, p99: float, util: float, degraded: float, passed: bool) -> dict:
    return {
        "requests": {"join": {"count": 1000, "latency_ms": {"mean": mean, "p99": p99}}},
        "services": {"api": {"utilization_mean": util}},
        "experience": {"leaderboard_lag_s": {"p99": 5.0}, "join_failures": 0,
                       "video_degraded_fraction": degraded, "sessions_spoiled_fraction": 0.0},
        "slo": [{"name": "join p99", "passed": passed}],
    }  # fmt: skip


def _by_figure(rows: list[Row]) -> dict[str, Row]:
    return {r.figure: r for r in rows}


def test_rows_pass_inside_and_fail_outside_the_targets() -> None:
    exact = [_summary(10.0, 100.0, 0.50, 0.010, True), _summary(10.0, 100.0, 0.50, 0.012, True)]
    inside = _by_figure(compare("x", exact, [_summary(10.9, 119.0, 0.54, 0.030, True)]))
    assert all(r.passed for r in inside.values()), inside
    outside = _by_figure(compare("x", exact, [_summary(11.2, 121.0, 0.57, 0.040, False)]))
    assert not outside["join mean"].passed and not outside["join p99"].passed
    assert not outside["api utilization"].passed
    assert not outside["video degraded fraction"].passed  # 0.029 apart: beyond 0.02 abs
    assert not outside["SLO: join p99"].passed
    assert outside["join mean"].diff == pytest.approx(0.12)


def test_a_figure_one_engine_lacks_fails() -> None:
    fluid = _summary(10.0, 100.0, 0.5, 0.01, True)
    del fluid["experience"]["sessions_spoiled_fraction"]
    rows = _by_figure(compare("x", [_summary(10.0, 100.0, 0.5, 0.01, True)], [fluid]))
    assert rows["sessions spoiled fraction"].passed is False
    assert rows["sessions spoiled fraction"].note == "missing on fluid"


def test_the_targets_are_the_issues() -> None:
    assert TARGETS["mean"] == (0.10, None) and TARGETS["p99"] == (0.20, None)
    assert TARGETS["fraction"] == (0.15, 0.02) and TARGETS["lag"] == (0.15, None)
