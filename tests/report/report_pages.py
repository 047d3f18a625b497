"""Every kind of page twin writes, built from real inputs, for the browser test and the shots.

- run: the hand-built bare-network run of `report_fake` (a surge incident) and a real small
  platform run (`twin run live-broadcast-failure`, fluid, 1,000 riders, 40 min), which has
  the rider's view and an incident; for the shots also an exact-engine run, whose rider's
  view counts spoiled classes by cause;
- drill: the committed drill `scenarios/calibration/daily-peak-3e-4` with a prediction at
  0.8 times its latencies, and its measured-against-predicted page (a compare page);
- compare: the platform run on two designs (phase 2 and phase 3) through `twin compare`;
- capacity: `capacity.html` (and its `capacity.png`) of a search on an M/M/1 whose latency is
  known in closed form, written as `twin capacity` writes them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "scenarios/calibration/daily-peak-3e-4/summary.json"
PREDICTED_SHARE = 0.8  # predicted latency / measured latency
PLATFORM = [
    str(ROOT / "scenarios/live-broadcast-failure.yaml"), "--engine", "fluid",
    "--riders", "1000", "--set", "duration_s=2400",
]  # fmt: skip

__all__ = ["PREDICTED_SHARE", "build_pages", "predicted_for", "tracking_series"]


def predicted_for(measured: dict[str, Any]) -> dict[str, Any]:
    """A prediction for a drill: its summary with every latency at PREDICTED_SHARE of the
    measured one and three replications' counts."""
    predicted = copy.deepcopy(measured)
    predicted.update(replications=3, prediction={"engine": "exact", "scale": 3e-4,
                                                 "speedup": 60.0, "duration_s": 60})  # fmt: skip
    for block in predicted["requests"].values():
        block["count"] *= 3
        block["latency_ms"] = {q: v * PREDICTED_SHARE for q, v in block["latency_ms"].items()}
        block.pop("latency_ci95_ms", None)
    return predicted


def tracking_series(tracked: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per drill second, each tracking window's figures held over its seconds."""
    width = tracked["window_s"]
    columns = ("riders_requested", "riders_achieved", "rate_requested", "rate_achieved")
    held = {c: np.repeat([w[c] for w in tracked["windows"]], width) for c in columns}
    return {"t_s": np.arange(width * len(tracked["windows"]), dtype=float), **held}


def _twin(*args: str) -> None:
    from twin.cli.app import main

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(args))
    if code != 0:
        raise RuntimeError(f"twin {' '.join(args)} exited with {code}")


def _run_pages(out: Path) -> dict[str, Path]:
    from tests.report.report_fake import SURGE, fake_summary, fake_timeseries
    from twin.report import render_report

    timeseries = fake_timeseries(np.random.default_rng(7), extras=True)
    network = render_report(out / "run-network", fake_summary(), timeseries, incidents=[SURGE])
    return {"run-network": network}


def _drill_pages(out: Path) -> dict[str, Path]:
    from twin.report.drill_page import render_drill_report

    measured = json.loads(DRILL.read_text())
    series = tracking_series(measured["drill"]["tracking"])
    page = render_drill_report(out / "drill", measured, predicted_for(measured), series=series)
    return {"drill": page, "drill-vs-predicted": page.parent / "vs-predicted/compare.html"}


def _platform_pages(out: Path) -> dict[str, Path]:
    """Two designs run (the scenario's own, phase 3, is the platform run page) and compared."""
    designs = []
    for design in ("phase2-microservices", "phase3-global"):
        folder = out / f"run-{design}"
        _twin("run", *PLATFORM, "--set", f"architecture={design}", "--out", str(folder))
        designs.append(str(folder))
    _twin("compare", *designs, "--out", str(out / "compare"))
    return {
        "run-platform": Path(designs[-1]) / "report.html",
        "compare": out / "compare/compare.html",
    }


def _mm1_summary(load: float, _reps: int) -> dict[str, Any]:
    # lambda = load requests/s into one server of rate 100/s: mean sojourn 1/(100 - load) s.
    latency = 1000.0 / (100.0 - load) if load < 100 else 1e9
    return {"services": {"api": {"latency_ms": {"mean": latency, "p99": latency * 4.6}}}}


def _capacity_page(out: Path) -> dict[str, Path]:
    """What `twin capacity` writes (plot, page, capacity.json) for the M/M/1 search."""
    from twin.report.capacity_plot import write_capacity
    from twin.results.capacity import capacity_document, search
    from twin.results.slo import parse_expression

    slos = [parse_expression(e) for e in ("services.api.latency_ms.mean<=50",
                                           "services.api.latency_ms.p99<=500")]  # fmt: skip
    result = search(_mm1_summary, slos, start=10, rel_tol=0.01, ceiling=99)  # stable loads
    folder = out / "capacity"
    folder.mkdir(parents=True, exist_ok=True)
    document = capacity_document("mm1-api", "fluid", "load_factor", 40.0, result, slos)
    write_capacity(folder, result, slos, "load_factor", document)
    return {"capacity": folder / "capacity.html"}


def _exact_page(out: Path) -> dict[str, Path]:
    """The exact engine's run, whose rider's view counts spoiled classes by cause (~15 s)."""
    folder = out / "run-exact"
    _twin("run", str(ROOT / "scenarios/live-broadcast-failure.yaml"), "--scale", "0.002",
          "--out", str(folder))  # fmt: skip
    return {"run-exact": folder / "report.html"}


def build_pages(out: Path, *, exact: bool = False) -> dict[str, Path]:
    """Write every page kind under `out`; their paths by name. `exact` adds an exact-engine
    platform run (`run-exact`), too slow for `make test`."""
    pages = {**_run_pages(out), **_platform_pages(out), **_drill_pages(out), **_capacity_page(out)}
    return {**pages, **_exact_page(out)} if exact else pages
