"""The drill page (`twin.report.drill_page`) from a committed drill's summary.

The measured side is `scenarios/calibration/daily-peak-3e-4/summary.json`, a real 60 s drill
with four 15 s tracking windows and measured percentile intervals. The predicted side is that
summary with every latency percentile at 0.8 times the measured one and three replications'
counts, so every ratio on the page must read 1.25 and every predicted count the measured one.
The tracking series is the windows' figures held for each of their seconds.
"""

from __future__ import annotations

import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import pytest

import twin.report.drill_page as drill_page_module
from tests.report.report_pages import DRILL, predicted_for, tracking_series
from twin.report import render_report
from twin.report.drill_page import render_drill_report
from twin.report.drill_predicted import side_by_side
from twin.report.drill_tracking import verdict
from twin.report.html import environment


@dataclass(frozen=True)
class DrillPage:
    out: Path
    page: str
    written: list[str]  # file names in the order they were moved into place
    measured: dict[str, Any]


@pytest.fixture(scope="module")
def drill_page(tmp_path_factory: pytest.TempPathFactory) -> DrillPage:
    measured = json.loads(DRILL.read_text())
    out = tmp_path_factory.mktemp("drill")
    written: list[str] = []
    replace = os.replace

    def recording(src: Any, dst: Any) -> None:
        written.append(Path(dst).name)
        replace(src, dst)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", recording)
        series = tracking_series(measured["drill"]["tracking"])
        path = render_drill_report(out, measured, predicted_for(measured), series=series)
    return DrillPage(out, path.read_text(encoding="utf-8"), written, measured)


def _section(page: str, name: str) -> str:
    found = re.findall(rf'<section id="{name}">.*?</section>', page, flags=re.S)
    assert len(found) == 1, name
    return found[0]


def _rows(section: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", section, flags=re.S)
    cells = r"<td(?: data-label=\"[^\"]*\")?(?: class=\"name\")?>(.*?)</td>"
    return [[html.unescape(c) for c in re.findall(cells, r)] for r in rows[1:]]


def test_the_drill_sections_are_the_lead_block_of_the_template(tmp_path, monkeypatch):
    """drill.html.j2 fills the run report's `lead` block: mark the block's place in
    report.html.j2 and the sections come out between the marks."""
    base = environment()
    assert base.loader is not None
    source = base.loader.get_source(base, "report.html.j2")[0]
    block = "{% block lead %}{% endblock %}"
    assert source.count(block) == 1
    marked = source.replace(block, f"<!-- lead -->{block}<!-- /lead -->")
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"report.html.j2": marked}), base.loader])
    monkeypatch.setattr(drill_page_module, "environment", lambda: base.overlay(loader=loader))
    measured = json.loads(DRILL.read_text())
    page = render_drill_report(tmp_path, measured, None).read_text()
    assert re.search(r'<!-- lead --><section id="tracking">.*</section>\s*<!-- /lead -->\s*'
                     r'<section id="findings">', page, flags=re.S)  # fmt: skip


def test_the_page_is_the_run_report_with_the_drill_sections_above_the_findings(
    drill_page, tmp_path
):
    """Take the drill's sections out and what is left is the run report of the measured
    summary, byte for byte; the run report has nothing in their place."""
    page = drill_page.page
    lead = _section(page, "drill") + "\n\n" + _section(page, "tracking") + "\n\n"
    assert page.index(lead) < page.index('<section id="findings">')
    run_report = render_report(tmp_path, drill_page.measured, pd.DataFrame()).read_text()
    assert page.replace(lead, "") == run_report
    assert '<section id="drill">' not in run_report and '<section id="tracking">' not in run_report
    assert page.count("<html") == 1 and page.endswith("</html>\n")


def test_measured_and_predicted_side_by_side(drill_page):
    section = _section(drill_page.page, "drill")
    assert ("(exact engine on <code>reference-platform</code>, scale 0.0003, speedup 60.0x, "
            "60 s)") in section  # fmt: skip
    assert '<a href="vs-predicted/compare.html">measured vs predicted</a>' in section
    assert "pool" not in section  # one run, nothing pooled
    tables = re.findall(r"<table[^>]*>.*?</table>", section, flags=re.S)
    assert len(tables) == 2  # counts and errors; latency (cards on a phone)
    assert "<table>" in tables[0] and '<table class="cards">' in tables[1]
    counts = {row[0]: row for row in _rows(tables[0])}
    latency = {row[0]: row for row in _rows(tables[1])}
    assert set(counts) == set(latency) == set(drill_page.measured["requests"])
    assert counts["join"] == ["join", "37 / 37.0", "0.0% / 0.0%"]
    assert latency["join"] == ["join", "1.8 [1.6-2.0] / 1.5, 1.25", "3.6 [2.4-4.0] / 2.8, 1.25",
                               "4.0 [3.6-4.0] / 3.2, 1.25"]  # fmt: skip
    assert all(cell.endswith(", 1.25") for row in latency.values() for cell in row[1:])
    assert '<img src="measured-vs-predicted.png"' in section
    assert (drill_page.out / "vs-predicted" / "compare.html").is_file()


def test_the_load_shape_has_a_row_and_a_verdict_per_window(drill_page):
    section = _section(drill_page.page, "tracking")
    assert "per window of 15 s; the target is 5% or better" in section
    assert "within 2 sd of it is marked <em>noise</em>" in section
    assert _rows(section) == [
        ["0-15", "19.7 / 19.7", "0.1 %", "14.8 / 15.8", "7.1 %", "-", "miss"],
        ["15-30", "17.7 / 18.0", "1.8 %", "12.9 / 11.8", "8.4 %", "-", "miss"],
        ["30-45", "20.4 / 20.4", "0.2 %", "14.9 / 14.4", "3.4 %", "-", "ok"],
        ["45-60", "21.4 / 21.7", "1.0 %", "15.1 / 14.0", "7.6 %", "-", "miss"],
    ]
    assert '<img src="tracking.png"' in section


def test_every_file_is_written_atomically_the_page_once_and_last(drill_page):
    """Nothing renders the page and then edits it on disk: report.html is moved into place
    once, after every file it names."""
    assert drill_page.written.count("report.html") == 1 and drill_page.written[-1] == "report.html"
    on_disk = {p.name for p in drill_page.out.rglob("*") if p.is_file()}
    assert on_disk == set(drill_page.written)
    assert not [name for name in on_disk if name.startswith(".")]  # no temporary left behind
    for image in re.findall(r'<img src="([^"]+\.png)"', drill_page.page):
        assert (drill_page.out / image).read_bytes().startswith(b"\x89PNG"), image


def test_the_footer_names_only_the_files_there(drill_page):
    """Without a timeline there is no timeseries.csv, and the footer does not name it."""
    footer = re.search(r"<footer>(.*?)</footer>", drill_page.page, flags=re.S)
    assert footer is not None
    assert "The figures come from summary.json beside this file" in footer.group(1)
    assert "timeseries.csv" not in footer.group(1)


def test_without_a_prediction_or_tracking_the_page_is_the_run_report(tmp_path):
    measured = json.loads(DRILL.read_text())
    measured["drill"]["tracking"] = {"window_s": 15, "windows": []}
    page = render_drill_report(tmp_path / "drill", measured, None).read_text()
    assert page == render_report(tmp_path / "run", measured, pd.DataFrame()).read_text()
    assert not (tmp_path / "drill" / "vs-predicted").exists()


def test_side_by_side_rows_and_ratios():
    measured = {"requests": {"join": {"count": 40, "errors": 1,
                                      "latency_ms": {"p50": 3.0, "p95": 9.0, "p99": 12.0},
                                      "latency_ci95_ms": {"p50": [2.5, 3.5], "p95": None}},
                             "master": {"count": 5, "errors": 0}}}  # fmt: skip
    predicted = {"replications": 2, "requests": {"join": {"count": 82, "dropped": 0,
                 "latency_ms": {"p50": 2.0, "p95": 10.0, "p99": None}}}}  # fmt: skip
    (row,) = side_by_side(measured, predicted)
    assert row["count_measured"] == 40 and row["count_predicted"] == 41.0
    assert row["error_ratio_measured"] == 0.025 and row["error_ratio_predicted"] == 0.0
    assert row["p50_ratio"] == 1.5 and row["p95_ratio"] == 0.9 and row["p99_ratio"] is None
    assert row["p50_ci_measured"] == (2.5, 3.5) and row["p95_ci_measured"] is None


def test_a_rate_miss_within_its_counting_noise_is_told_apart():
    row = {"riders_error": 0.01, "rate_error": 0.12, "rate_noise": 0.115}  # 75 requests
    assert verdict(row, 0.05) == "noise"
    assert verdict({**row, "rate_noise": 0.03}, 0.05) == "miss"  # 1,100 requests: 4 sd off
    assert verdict({**row, "rate_error": 0.04}, 0.05) == "ok"
    assert verdict({**row, "riders_error": 0.08}, 0.05) == "miss"  # riders have no such noise
