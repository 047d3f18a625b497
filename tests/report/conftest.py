"""Fixtures for the report tests: a hand-built run, rendered once per session."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.report.report_fake import SURGE, Rendered, fake_summary, fake_timeseries


@pytest.fixture
def summary() -> dict[str, Any]:
    return fake_summary()


@pytest.fixture
def timeseries() -> pd.DataFrame:
    return fake_timeseries(np.random.default_rng(7))


@pytest.fixture(scope="session")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """The bare-network report with a surge incident and two extra columns."""
    from twin.report import render_report

    summary = fake_summary()
    timeseries = fake_timeseries(np.random.default_rng(7), extras=True)
    out = tmp_path_factory.mktemp("report")
    html = render_report(out, summary, timeseries, incidents=[SURGE])
    return Rendered(html, summary, timeseries)
