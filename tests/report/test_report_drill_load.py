"""The drill page's "Load generation" section (`twin.report.drill_load`): who made the load,
each process's share, CPU and wait for a CPU, and the speed index's two factors."""

from __future__ import annotations

import html
import json
import re

from tests.report.report_pages import DRILL, predicted_for
from twin.report.drill_load import load_generation
from twin.report.drill_page import render_drill_report


def _two_workers(measured: dict) -> dict:
    drill = {**measured["drill"], "workers": 2, "load_shares": [
        {"process": "rec-worker-hostA-1a2b", "run": 1, "requests": 300, "errors": 0,
         "cpu_s": 2.0, "wait_s": 0.5},
        {"process": "rec-worker-hostB-3c4d", "run": 1, "requests": 100, "errors": 2,
         "cpu_s": 1.0, "wait_s": None},
    ]}  # fmt: skip
    return {**measured, "drill": drill}


def test_two_remote_workers_each_get_a_row_with_their_share(tmp_path):
    measured = _two_workers(json.loads(DRILL.read_text()))
    predicted = predicted_for(measured)
    predicted["prediction"] = {**predicted["prediction"], "speed_index": 1.5, "cpu_index": 0.75,
                               "stall_factor": 2.0, "wait_per_cpu": 1.1,
                               "calibration_wait_per_cpu": 0.05, "target_cpu_index": 0.6,
                               "target_speed_index": 1.2}  # fmt: skip
    page = render_drill_report(tmp_path, measured, predicted).read_text()
    section = re.findall(r'<section id="load-generation">.*?</section>', page, flags=re.S)
    assert len(section) == 1
    text = html.unescape(section[0])
    assert "2 remote workers (twin drill-worker)" in text and "2 sent their records" in text
    # the header says so too
    assert "<dt>load generators</dt><dd>2 remote workers (Locust master/worker)</dd>" in page
    assert "speed index 1.50; CPU time per unit of work 0.75x" in text
    assert ("stall factor 2.00 (load generator and target waited 1.10 s for a CPU per CPU "
            "second, in calibration 0.05)") in text
    assert ("the target's components at their own speed index 1.20 (its CPU time per unit of "
            "work 0.60x the calibration's), the load generator's at the speed index.") in text
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", text)]
    assert rows[1] == ["rec-worker-hostA-1a2b", "1", "300", "75%", "0", "2.00", "0.50", "0.25"]
    assert rows[2] == ["rec-worker-hostB-3c4d", "1", "100", "25%", "2", "1.00", "-", "-"]


def test_local_processes_and_no_prediction():
    measured = json.loads(DRILL.read_text())
    assert load_generation(measured, None) is None  # an older summary: no section
    drill = {**measured["drill"], "workers": 1, "load_shares": [
        {"process": "rec-123", "run": 1, "requests": 10, "errors": 0, "cpu_s": None,
         "wait_s": None}]}  # fmt: skip
    section = load_generation({**measured, "drill": drill}, None)
    assert section is not None and section.who == "1 Locust process on this machine."
    assert section.speed is None


def test_the_sessions_ridden_are_stated(tmp_path):
    measured = json.loads(DRILL.read_text())
    drill = {**measured["drill"], "workers": 1, "load_shares": [
        {"process": "rec-123", "run": 1, "requests": 10, "errors": 0, "cpu_s": 1.0,
         "wait_s": 0.1}],
        "sessions": {"started": 257, "live": 46, "on_demand": 211, "live_unjoinable": 3,
                     "resumed": 20}}  # fmt: skip
    page = render_drill_report(tmp_path, {**measured, "drill": drill}, None).read_text()
    text = html.unescape(page)
    assert ("The riders rode 257 sessions: 46 live, 211 on demand (3 of them meant to be live, "
            "but the target ran no live class then); 20 were resumed") in text
    older = {k: v for k, v in drill.items() if k != "sessions"}  # a drill before the counts
    section = load_generation({**measured, "drill": older}, None)
    assert section is not None and section.sessions is None
