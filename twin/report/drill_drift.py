"""The drill report's "Drift" section: each distribution's KS and KL against its reference.

Reads the summary's `drift` block (`twin.drill.drift`, the rule in `twin.results.drift`) and
returns a `Table`, one row per request type (and telemetry field), drifted rows first. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twin.report.tables import Cell, Table

__all__ = ["drift_table"]

_COLUMNS = ("distribution", "against", "n measured / reference", "median measured / reference",
            "KS D", "KS p", "KL (nats)", "verdict")  # fmt: skip
_ORDER = {"drift": 0, "agrees": 1, "too few": 2}


def _num(value: Any, spec: str) -> str:
    return "-" if not isinstance(value, int | float) else format(value, spec)


def _p(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return "< 1e-6" if value < 1e-6 else format(value, ".2g")


def _row(name: str, entry: Mapping[str, Any]) -> tuple[Cell, ...]:
    verdict = str(entry.get("verdict"))
    medians = " / ".join(_num(entry.get(k), ".3g") for k in ("median_measured",
                                                             "median_reference"))  # fmt: skip
    return (
        Cell(name, css="name"),
        Cell(str(entry.get("against"))),
        Cell(f"{entry.get('n_measured')} / {entry.get('n_reference')}"),
        Cell(medians),
        Cell(_num(entry.get("ks_d"), ".3f"), title=str(entry.get("ks_d"))),
        Cell(_p(entry.get("ks_p")), title=str(entry.get("ks_p"))),
        Cell(_num(entry.get("kl"), ".3f"), title=str(entry.get("kl"))),
        Cell(verdict, css={"drift": "fail", "agrees": "pass"}.get(verdict, "")),
    )


def drift_table(summary: Mapping[str, Any]) -> Table | None:
    """The drift checks as a table, drifted first; None when the summary has none."""
    block = summary.get("drift")
    if not isinstance(block, Mapping) or not block:
        return None
    names = sorted(block, key=lambda n: (_ORDER.get(str(block[n].get("verdict")), 3), n))
    return Table(_COLUMNS, tuple(_row(n, block[n]) for n in names))
