"""Which tables a phone gets as cards, and a design table split per design (twin.report.phone).

The browser test checks the outcome at 390 px (no table scrolls); here the rules themselves.
"""

from __future__ import annotations

from twin.report.compare_page import GroupedTable
from twin.report.phone import PHONE_TEXT_PX, by_group, stacked
from twin.report.tables import Cell, Table

_ABSENT = Cell("\u2014", "this design has none", "absent")


def _row(*texts: str) -> tuple[Cell, ...]:
    return tuple(Cell(t) for t in texts)


def test_a_table_wider_than_a_phone_is_stacked_and_a_narrow_one_is_not() -> None:
    narrow = Table(("request", "p99"), (_row("join", "12 ms"), _row("segment", "7 ms")))
    assert not stacked(narrow)
    columns = ("request", "count", "errors", "mean", "p50", "p95", "p99", "p99.9")
    wide = Table(columns, (_row("leaderboard", "162,513", "0", "1.92 ms", "1.67 ms",
                                "3.66 ms", "5.49 ms", "9.01 ms"),))  # fmt: skip
    assert stacked(wide)
    # the estimate counts the longest text of a column, the heading included
    long_name = Table(("x", "y"), (_row("a" * int(PHONE_TEXT_PX / 7.7), "1"),))
    assert stacked(long_name)


def test_a_design_table_splits_into_one_table_per_design() -> None:
    table = GroupedTable(
        lead="service",
        groups=(("phase2", 2), ("phase3", 2)),
        columns=("util", "p99", "util", "p99"),
        rows=(
            _row("api", "50%", "20 ms", "30%", "10 ms"),
            (Cell("db"), Cell("70%"), Cell("5 ms"), _ABSENT, _ABSENT),  # phase 3 has no db
            (Cell("edge"), Cell("-", css="absent"), Cell("-", css="absent"), *_row("9%", "1 ms")),
        ),
    )
    parts = by_group(table)
    assert [p.name for p in parts] == ["phase2", "phase3"]
    assert parts[1].columns == ("service", "util", "p99")
    assert [[c.text for c in r] for r in parts[1].rows] == [["api", "30%", "10 ms"],
                                                            ["edge", "9%", "1 ms"]]  # fmt: skip
    assert parts[1].note == "phase3 has no service db."
    assert [r[0].text for r in parts[0].rows] == ["api", "db"]
    assert parts[0].note == "phase2 has no service edge."
    assert not stacked(parts[0])
