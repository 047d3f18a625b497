"""The engines agree (issue 15, item 5): every incident scenario and its fixed variant, on
both engines at the suite's scale, within the issue's targets figure by figure.

`slow` (run by `make validate`, after `tests/validation/engines_agree.py --write` has filled
the cache and written the table): one test per case, failing with every row outside its
target. A failing row is a disagreement between the engines to fix in an engine, never a
tolerance to widen (`tests.validation.agreement` holds the targets).
"""

from __future__ import annotations

import pytest

from tests.validation.agreement import Row
from tests.validation.cases import CASES, Case
from tests.validation.engines_agree import REPLICATIONS, case_rows, measure


def _out(rows: list[Row]) -> list[str]:
    return [
        f"{r.figure}: exact {r.exact} fluid {r.fluid} ({r.note or r.target})"
        for r in rows
        if r.passed is False
    ]


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_engines_agree_on(case: Case) -> None:
    exact, fluid, full = measure([case], replications=REPLICATIONS)[case]
    assert len(exact) == REPLICATIONS
    rows = case_rows(case, exact, fluid, full)
    assert any(r.kind == "verdict" for r in rows), "the scenario's SLOs are compared"
    out = _out(rows)
    assert not out, f"{case.name}: {len(out)} rows outside target:\n" + "\n".join(out)
