"""The agreement rows as files: CSV and JSON in docs/validation/, Markdown for the README
(a summary per case and every row outside its target) and for docs/validation/engines.md
(every row). Pure: rows in, text out."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from tests.validation.agreement import Row

__all__ = ["BEGIN", "END", "full_markdown", "readme_markdown", "replace_section", "to_csv",
           "to_json"]  # fmt: skip

BEGIN = "<!-- engines-agree:begin (made by `make validate`; a test keeps it so) -->"
END = "<!-- engines-agree:end -->"
_SECTION = re.compile(r"<!-- engines-agree:begin[^>]*-->\n.*?<!-- engines-agree:end -->", re.S)
_FIELDS = ["case", "figure", "kind", "exact", "exact_ci", "fluid", "diff", "target", "passed",
           "note"]  # fmt: skip


def _number(value: float | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _diff(row: Row | Mapping[str, Any]) -> str:
    d = row["diff"] if isinstance(row, Mapping) else row.diff
    return "-" if d is None else f"{d:+.1%}"


def _mark(passed: bool | None) -> str:
    return {True: "ok", False: "**OUT**", None: "not judged"}[passed]


def _line(row: Row) -> str:
    ci = "" if row.exact_ci is None else f" ±{_number(row.exact_ci)}"
    note = f" ({row.note})" if row.note else ""
    cells = [row.case, row.figure, f"{_number(row.exact)}{ci}", _number(row.fluid), _diff(row),
             row.target, _mark(row.passed) + note]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


_HEAD = (
    "| case | figure | exact (±95 %) | fluid | fluid vs exact | target | |\n"
    "|---|---|---:|---:|---:|---|---|\n"
)


def full_markdown(rows: Sequence[Row], meta: Mapping[str, Any]) -> str:
    """Every row, case by case, under a line saying how it was made."""
    return f"{_made(meta)}\n\n{_HEAD}" + "\n".join(_line(r) for r in rows) + "\n"


def _made(meta: Mapping[str, Any]) -> str:
    return (
        f"Made by `{meta['command']}` at code version `{meta['code_version']}`: "
        f"{meta['replications']} exact replications and {meta['fluid_runs']} fluid runs per "
        f"case (seeds from {meta['base_seed']})."
    )


def _worst(rows: Sequence[Row]) -> Row | None:
    """The failing row furthest from the exact engine (a figure, not a missing one)."""
    numeric = [r for r in rows if r.passed is False and r.diff is not None]
    return max(numeric, key=lambda r: abs(r.diff or 0.0)) if numeric else None


def _agree(rows: Sequence[Row], kind: str) -> str:
    mine = [r for r in rows if r.kind == kind]
    return f"{sum(bool(r.passed) for r in mine)}/{len(mine)}"


def _case_summary(rows: Sequence[Row], meta: Mapping[str, Any]) -> str:
    lines = ["| case | scale | riders | judged | outside target | verdicts agree | verdicts as at "
             "full scale | furthest figure outside target |",
             "|---|---:|---:|---:|---:|---|---|---|"]  # fmt: skip
    for case in dict.fromkeys(r.case for r in rows):
        mine = [r for r in rows if r.case == case]
        judged = [r for r in mine if r.passed is not None]
        out = [r for r in judged if not r.passed]
        worst = _worst(mine)
        text = "-" if worst is None else f"{worst.figure} {_diff(worst)}"
        info = meta["cases"][case]
        lines.append(f"| {case} | {info['scale']:g} | {info['riders']:,} | {len(judged)} | "
                     f"{len(out)} | {_agree(mine, 'verdict')} | {_agree(mine, 'scaling')} | "
                     f"{text} |")  # fmt: skip
    return "\n".join(lines)


def readme_markdown(rows: Sequence[Row], meta: Mapping[str, Any]) -> str:
    """The README's section: how it was made, a line per case, every row outside target."""
    out = [r for r in rows if r.passed is False]
    parts = [
        _made(meta),
        "",
        _case_summary(rows, meta),
        "",
        ("The 1 row outside its target" if len(out) == 1
         else f"The {len(out)} rows outside their target") + " (every row: "
        "[docs/validation/engines.md](docs/validation/engines.md), "
        "`docs/validation/engines.csv`, `docs/validation/engines.json`):",
        "",
        _HEAD + "\n".join(_line(r) for r in out),
    ]
    return "\n".join(parts) + "\n"


def replace_section(readme: str, body: str) -> str:
    """`readme` with its engines-agree section's body replaced by `body`."""
    if not _SECTION.search(readme):
        raise ValueError("README.md has no engines-agree markers")
    return _SECTION.sub(lambda _: f"{BEGIN}\n{body}{END}", readme)


def to_csv(rows: Sequence[Row]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row.to_mapping())
    return buffer.getvalue()


def to_json(rows: Sequence[Row], meta: Mapping[str, Any]) -> str:
    return json.dumps({"meta": dict(meta), "rows": [r.to_mapping() for r in rows]}, indent=1)
