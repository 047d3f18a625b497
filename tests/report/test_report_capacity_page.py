"""The capacity page (`capacity.html`): the answer, the SLO that bound it, every probe.

On an M/M/1 of rate 100/s the mean sojourn is 1 / (100 - load) s, so "mean <= 50 ms" breaks
at a load of 80 and "p99 <= 500 ms" (4.6 x the mean, the exponential's p99) near 90.8: the
page must give about 80, bound by the mean, with each probe's readings.
"""

from __future__ import annotations

import pytest

from tests.report.report_pages import _mm1_summary
from twin.report.capacity_page import capacity_context, render_capacity
from twin.results.capacity import capacity_document, search
from twin.results.slo import parse_expression

SLOS = [parse_expression(e) for e in ("services.api.latency_ms.mean<=50",
                                      "services.api.latency_ms.p99<=500")]  # fmt: skip


@pytest.fixture(scope="module")
def document():
    result = search(_mm1_summary, SLOS, start=10, rel_tol=0.01, ceiling=99)
    return capacity_document("mm1-api", "fluid", "load_factor", 40.0, result, SLOS)


def test_the_answer_and_what_bound_it(document) -> None:
    assert document["max_load_factor"] == pytest.approx(80.0, rel=0.01)
    context = capacity_context(document, SLOS, "capacity.png")
    facts = dict(context["facts"])
    assert facts["largest load meeting every SLO"] == f"x{document['max_load_factor']:.3g}"
    assert facts["headroom"] == f"+{(document['max_load_factor'] / 40 - 1) * 100:.1f}%"
    assert context["headline"].startswith("Every SLO (services.api.latency_ms.mean<=50; ")
    assert "is met up to x80 the scenario's rates: +100.0% against" in context["headline"]
    assert "services.api.latency_ms.mean<=50" in context["binding"]
    assert "(meets it)" in context["binding"] and "(misses it)" in context["binding"]


def test_every_probe_is_a_row_with_its_readings(document) -> None:
    table = capacity_context(document, SLOS, "capacity.png")["probes"]
    assert len(table.rows) == len(document["probes"])
    loads = [p["load"] for p in sorted(document["probes"], key=lambda p: p["load"])]
    for row, load in zip(table.rows, loads, strict=True):
        mean_ms = 1000.0 / (100.0 - load)
        assert row[1].text == ("meets" if mean_ms <= 50 else "misses")
        assert float(row[3].title) == pytest.approx(mean_ms)
        assert (row[3].css == "differ") == (mean_ms > 50)  # a missed reading is marked


def test_the_page_is_written_beside_its_plot(document, tmp_path) -> None:
    path = render_capacity(tmp_path, document, SLOS, "capacity.png")
    page = path.read_text()
    assert path.name == "capacity.html"
    assert '<img src="capacity.png"' in page and "Loads probed" in page
    assert page.count("<tr>") == len(document["probes"]) + 1
