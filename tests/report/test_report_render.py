"""render_report end to end: the files it writes, the PNGs, and what the page says."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import twin.results.files as result_files
from tests.report.report_fake import SURGE, Rendered, fake_summary, fake_timeseries
from twin.errors import InputError
from twin.report import render_report

TIME_PLOTS = ("latency", "utilization", "queue", "throughput")
EXTRA_PLOTS = ("servers", "riders")  # columns the fake adds beyond the contract


def _pngs(folder: Path) -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_every_plot_is_written(rendered: Rendered) -> None:
    assert rendered.html.name == "report.html"
    names = set(_pngs(rendered.html.parent))
    assert names == {*TIME_PLOTS, *EXTRA_PLOTS, "percentiles"}
    assert [p.name for p in rendered.html.parent.iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("name", [*TIME_PLOTS, *EXTRA_PLOTS, "percentiles"])
def test_each_png_is_a_real_image_about_1000_px_wide(rendered: Rendered, name: str) -> None:
    data = (rendered.html.parent / f"{name}.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(data)) as image:
        image.verify()
    with Image.open(io.BytesIO(data)) as image:
        assert image.width == 1000
        assert 300 <= image.height <= 2000
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # lines, text and shading, not a blank


def test_the_page_embeds_every_png_as_a_data_uri(rendered: Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8")
    pngs = _pngs(rendered.html.parent)
    for data in pngs.values():
        assert f'src="data:image/png;base64,{base64.b64encode(data).decode()}"' in page
    assert page.count("<img ") == len(pngs)


def test_the_page_loads_nothing_from_elsewhere(rendered: Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8").lower()
    for needle in ("http://", "https://", "<script", "<link", "@import", "url("):
        assert needle not in page
    sources = re.findall(r'src="([^"]{0,30})', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)


def test_the_page_shows_the_header_and_the_tables(rendered: Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8")
    for text in (
        "<title>twin report: mmc-example</title>",
        "200,000 s (55.6 h)",  # simulated time
        "<dd>exact</dd>",
        "712,800",  # api arrivals
        "2,138 (1.0%)",  # db drops and their share of arrivals
        "90.0%",  # api mean utilization
        "erlang_c",
        "12.4 s",  # api p99
        'title="12412.3 ms"',  # the unrounded figure
        "(1.88 s to 2.03 s)",  # api wait CI
        "surge (api)",  # the incident
        "120,000 s (33.3 h)",
    ):
        assert text in page, text


def test_the_page_states_a_finding_per_service(rendered: Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8")
    assert (
        "api runs at 90% utilization (peak 100%); p99 latency 12.4 s, with requests waiting "
        "66% of their time."  # 1,955.2 ms of 2,954.9 ms
    ) in page
    assert "db runs at 43% utilization (peak 83%); p99 latency 371 ms" in page
    assert page.count('<li class="warn">') == 2


def test_sections_without_data_are_left_out(rendered: Rendered) -> None:
    page = rendered.html.read_text(encoding="utf-8")
    for section in ("slo", "cost", "experience"):
        assert f'id="{section}"' not in page
    assert 'id="incidents"' in page


def _platform_summary() -> dict[str, Any]:
    return fake_summary() | {
        "architecture": "phase2-microservices",
        "riders": 500_000,
        "bottlenecks": ["db", "api"],
        "slo": [
            {"name": "requests p99 <= 500 ms", "target": 500, "observed": 12460.0, "passed": False},
            {"name": "db drops <= 2%", "target": 0.02, "observed": 0.01, "passed": True},
        ],
        "experience": {
            "leaderboard_lag_s": {"p50": 0.9, "p99": 14_400.0, "max": 15_120.0},
            "join_failures": 4_312,
            "video_degraded_fraction": 0.031,
        },
        "cost": {
            "monthly_usd": 38_550.0,
            "per_user_month_usd": 0.0771,
            "by_component": {"compute": 21_000.0, "database": 9_550.0, "cdn": 8_000.0},
        },
    }


def test_a_platform_run_gets_slo_experience_and_cost(tmp_path: Path) -> None:
    html = render_report(tmp_path, _platform_summary(), pd.DataFrame())
    page = html.read_text(encoding="utf-8")
    for verdict in ("fail", "pass"):  # (a table stacked on a phone labels its cells too)
        assert re.search(rf'<td[^>]* class="{verdict}">{verdict.upper()}</td>', page)
    assert "1 of 2 SLOs fail: requests p99 &lt;= 500 ms (observed 12,460, target 500)." in page
    assert "<dd>4 h</dd>" in page and "<dd>4,312</dd>" in page and "<dd>3.1%</dd>" in page
    assert "<dd>$38,550</dd>" in page and "<dd>$0.08</dd>" in page
    assert "<dd>500,000</dd>" in page and "<dd>phase2-microservices</dd>" in page
    cost_png = (tmp_path / "cost.png").read_bytes()
    assert base64.b64encode(cost_png).decode() in page
    assert "Most saturated first: db (43%), api (90%)." in page


def test_text_from_the_summary_is_escaped(tmp_path: Path) -> None:
    summary = fake_summary() | {"scenario": "<b>x</b> & y"}
    page = render_report(tmp_path, summary, pd.DataFrame()).read_text(encoding="utf-8")
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in page
    assert "<b>x</b>" not in page


def test_same_inputs_same_bytes(rendered: Rendered, tmp_path: Path) -> None:
    again = render_report(tmp_path, rendered.summary, rendered.timeseries, incidents=[SURGE])
    assert again.read_bytes() == rendered.html.read_bytes()
    assert _pngs(tmp_path) == _pngs(rendered.html.parent)


def test_an_empty_time_series_still_gives_the_tables(
    tmp_path: Path, summary: dict[str, Any]
) -> None:
    html = render_report(tmp_path, summary, pd.DataFrame())
    assert set(_pngs(tmp_path)) == {"percentiles"}
    assert "712,800" in html.read_text(encoding="utf-8")


def test_a_broken_time_series_writes_nothing(tmp_path: Path, summary: dict[str, Any]) -> None:
    ts = fake_timeseries(np.random.default_rng(1), intervals=10).drop(columns="service")
    with pytest.raises(InputError, match="timeseries: service: missing column"):
        render_report(tmp_path / "out", summary, ts)
    assert not (tmp_path / "out").exists()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.html"
    target.write_text("the previous report")

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(result_files.os, "replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        result_files.write_bytes(target, b"<html>new</html>")
    assert target.read_text() == "the previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
