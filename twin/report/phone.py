"""How a table fits a phone: which tables are stacked as cards, and a design table's parts.

On a 390 px phone a table wider than the screen would only scroll inside its box, hiding its
right-hand columns. The pages have no script, so the choice is made when they are rendered:
`stacked` estimates a table's natural width from its longest text per column (the pages' 14 px
tabular figures are about 7.7 px a character, plus each cell's 18 px of padding) and marks the
ones wider than a phone's text column; the templates show those as one card per row below
600 px (each value beside its column's heading). A comparison's table grouped by design is
split instead into one narrower table per design (`by_group`), each stacked if still too wide,
leaving out the rows a design has none of (named in a line under its table).
The browser test (`tests/report/test_report_pages_browser.py`) checks the estimate: at 390 px
no table may scroll.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["CHAR_PX", "PHONE_TEXT_PX", "by_group", "stacked"]

PHONE_TEXT_PX = 366.0  # a 390 px phone less the page's 12 px margins
CHAR_PX = 7.7  # one character of a 14 px table (13 px bold headings come out the same)
_CELL_PAD_PX = 18.0  # 9 px each side


def _longest(texts: Iterable[str]) -> int:
    return max((len(t) for t in texts), default=0)


def _width(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> float:
    """Natural width (px) of a table with these headings and rows of cells."""
    total = 0.0
    for i, heading in enumerate(columns):
        texts = [heading]
        for row in rows:
            if i < len(row):
                texts += [row[i].text, getattr(row[i], "sub", "")]
        total += _longest(texts) * CHAR_PX + _CELL_PAD_PX
    return total


def stacked(table: Any) -> bool:
    """Whether `table` (columns and rows of cells) is too wide for a phone: shown as cards."""
    columns = tuple(getattr(table, "lead", ()) and (table.lead,)) + tuple(table.columns)
    return _width(columns, table.rows) > PHONE_TEXT_PX


class _Part:
    """One design's columns of a grouped table: the lead column and that group's cells, and
    the rows the design has none of (named in `note`, not shown)."""

    def __init__(
        self, name: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], lead: str
    ) -> None:
        self.name = name
        self.columns = tuple(columns)
        kept = [tuple(r) for r in rows if not all(c.css == "absent" for c in r[1:])]
        lacking = [r[0].text for r in rows if r[1:] and all(c.css == "absent" for c in r[1:])]
        self.rows = tuple(kept)
        self.note = f"{name} has no {lead} " + ", ".join(lacking) + "." if lacking else ""


def by_group(table: Any) -> list[_Part]:
    """A grouped table (lead, groups of (name, span), columns, rows) as one part per group."""
    parts, at = [], 0
    for name, span in table.groups:
        columns = (table.lead, *table.columns[at : at + span])
        rows = [(row[0], *row[1 + at : 1 + at + span]) for row in table.rows]
        parts.append(_Part(name, columns, rows, table.lead))
        at += span
    return parts
