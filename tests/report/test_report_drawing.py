"""The report's figures drawn on other processes: the same bytes as drawn here, in order, and
a `twin run` process that never imports matplotlib itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.report.report_fake import fake_summary, fake_timeseries
from twin.report.drawing import Drawing, available_cores
from twin.report.figures import plot_style, png_bytes
from twin.report.plots import all_plots

ROOT = Path(__file__).resolve().parents[2]


def test_processes_draw_the_bytes_this_process_draws_in_the_same_order() -> None:
    summary, ts = fake_summary(), fake_timeseries(np.random.default_rng(3), extras=True)
    with plot_style():
        here = [(p.name, png_bytes(p.figure)) for p in all_plots(summary, ts, ())]
    with Drawing.start(jobs=2) as drawing:
        first = drawing.draw(summary, ts, ())
        again = drawing.draw(summary, ts.iloc[: len(ts) // 2], ())  # a second report
    assert [(d.name, d.png) for d in first] == here
    assert len(here) >= 5 and len({png for _, png in here}) == len(here)
    assert [d.name for d in again] == [d.name for d in first]
    assert [d.png for d in again] != [d.png for d in first]


def test_one_job_draws_here_and_says_what_each_figure_is() -> None:
    summary, ts = fake_summary(), fake_timeseries(np.random.default_rng(3), extras=True)
    with Drawing.start(jobs=1) as drawing:
        drawn = drawing.draw(summary, ts, ())
    assert drawn[0].name == "latency" and drawn[0].png.startswith(b"\x89PNG")
    assert all(d.title and d.caption for d in drawn)


def test_a_failing_figure_fails_the_report_and_leaves_no_process() -> None:
    summary, ts = fake_summary(), fake_timeseries(np.random.default_rng(3), extras=True)
    with pytest.raises(Exception), Drawing.start(jobs=2) as drawing:  # noqa: B017
        drawing.draw(summary, ts.drop(columns=["interval_s"]), ())
    assert available_cores() >= 1


def test_twin_run_itself_never_imports_matplotlib(tmp_path: Path) -> None:
    """The command's own process: its report is drawn by the processes it started."""
    code = (
        "import sys\n"
        "from twin.cli.app import main\n"
        "code = main(['run', 'mmc-example', '--set', 'duration_s=20000', '--set', "
        f"'warmup_s=200', '--out', {str(tmp_path / 'run')!r}, '-q'])\n"
        "assert code == 0, code\n"
        "print('matplotlib' in sys.modules)\n"
    )
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
        timeout=300, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    expected = "False" if available_cores() > 1 else "True"
    assert proc.stdout.strip().splitlines()[-1] == expected
    assert (tmp_path / "run" / "latency.png").stat().st_size > 10_000


def test_submitted_figures_come_back_once_each_with_their_place_then_leave_no_payload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Figures come back as they finish; `order` puts them back in the report's order."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the payload goes
    summary, ts = fake_summary(), fake_timeseries(np.random.default_rng(3), extras=True)
    with plot_style():
        here = [(p.name, png_bytes(p.figure)) for p in all_plots(summary, ts, ())]
    with Drawing.start(jobs=2) as drawing, drawing.submit(summary, ts, ()) as submitted:
        drawn = list(submitted)
        assert len(list(tmp_path.glob("twin-draw-*"))) == 1  # the payload, while reading
    assert not list(tmp_path.glob("twin-draw-*"))
    assert len({d.order for d in drawn}) == len(drawn) == len(here)
    assert [(d.name, d.png) for d in sorted(drawn, key=lambda d: d.order)] == here
