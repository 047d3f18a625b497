"""`twin drill --repeat N`: repeated drills of one workload, pooled into one measurement."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from locustfiles.drill_recorder import new_window_histogram
from twin.cli.app import main
from twin.drill.measure import Measured, TypeMeasure, merge_records, pool_measured, window_ci
from twin.drill.predict import drill_seconds, speed_index
from twin.drill.run import DrillOptions
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]


def _run(rng, slowdown, windows=30, per_window=20, cpu=1.0):
    """One drill's `Measured` of type `t`: exponential latencies (mean 1 ms) x `slowdown`."""
    m = TypeMeasure()
    for w in range(windows):
        m.windows[w] = new_window_histogram()
        for v in rng.exponential(1000.0 * slowdown, per_window):
            m.windows[w].record_value(max(1, round(v)))
            m.intended.record_value(max(1, round(v)))
        m.per_second[w] = per_window
        m.count += per_window
    return Measured({"t": m}, {"segments": 10.0}, 1, cpu, 1.0)


def test_pool_adds_the_runs_and_keeps_their_windows_apart():
    rng = np.random.default_rng(3)
    a, b = _run(rng, 1.0, windows=5), _run(rng, 10.0, windows=5, cpu=2.0)
    pooled = pool_measured([a, b], block=3)
    t = pooled.types["t"]
    assert pooled.runs == 2 and pooled.cpu_s == 3.0 and pooled.experience == {"segments": 20.0}
    assert t.count == 200 and t.intended.get_total_count() == 200
    assert t.per_second == {k: 40 for k in range(5)}  # seconds of the drill, summed
    # run b's windows start on the next whole block (6), so no block holds both runs
    assert sorted(t.windows) == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert t.windows[6] is b.types["t"].windows[0]
    assert pool_measured([a, _run(rng, 1.0, cpu=None)]).cpu_s is None  # unknown stays unknown
    with pytest.raises(ValueError):
        pool_measured([])


def test_the_pooled_interval_sees_how_much_the_runs_differ():
    """Each run of a drill runs at its own speed (a shared machine drifts between runs): here a
    lognormal(0, 0.25) slowdown per run, three runs of 30 windows. Over 100 such pooled drills,
    a bootstrap that draws blocks as if they were independent covers the true median (of the
    mixture the runs are drawn from) far less often than it claims; drawing runs first and
    then blocks within each (what `pool_measured` sets up) covers it far more often. Three runs
    still understate the spread between runs (the bootstrap's variance of a mean of n is
    (n - 1) / n of the truth), so not 95 %."""
    from tests.drill.test_drill_units import _mixture_quantile  # Exp(1) x lognormal

    rng = np.random.default_rng(5)
    truth = _mixture_quantile(0.5, 0.25)
    covered = {"runs_then_blocks": 0, "blocks": 0}
    for _ in range(100):
        runs = [_run(rng, rng.lognormal(0.0, 0.25)) for _ in range(3)]
        pooled = pool_measured(runs).types["t"]
        assert pooled.run_starts == [0, 30, 60]
        for key, starts in (("runs_then_blocks", pooled.run_starts), ("blocks", None)):
            lo, hi = window_ci(pooled.windows, 0.5, rng, resamples=500, run_starts=starts)
            covered[key] += lo <= truth <= hi
    assert covered["blocks"] <= 65 and covered["runs_then_blocks"] >= 75, covered


def test_speed_index_counts_the_seconds_of_every_repeat():
    from twin.config.architecture import LoadCpu

    load_cpu = LoadCpu(per_request_s=0.001, per_mb_s=0.0, per_s=0.01)
    one = {"drill": {"duration_s": 60, "requests_total": 1000, "load_cpu_s": 1.6}, "requests": {}}
    three = {"replications": 3, "requests": {},
             "drill": {"duration_s": 60, "requests_total": 3000, "load_cpu_s": 4.8}}  # fmt: skip
    assert drill_seconds(one) == 60 and drill_seconds(three) == 180
    assert speed_index(one, load_cpu) == pytest.approx(1.0)
    assert speed_index(three, load_cpu) == pytest.approx(1.0)


def test_repeat_must_be_a_positive_count(tmp_path, capsys):
    options = DrillOptions(scenario=Path("x.yaml"), out=tmp_path, target="local", repeat=0)
    with pytest.raises(InputError, match="--repeat"):
        options.check()
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--target", "local",
                 "--repeat", "0", "--out", str(tmp_path / "x")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "--repeat" in err and len(err.strip().splitlines()) == 1


def test_a_repeated_drill_pools_its_runs(tmp_path):
    out = tmp_path / "drill"
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--target", "local",
                 "--duration", "8", "--repeat", "2", "--out", str(out), "--quiet"])  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    runs = [merge_records(out / f"run-{k}" / "load") for k in (1, 2)]
    assert summary["replications"] == 2 and summary["drill"]["repeat"] == 2
    assert summary["drill"]["requests_total"] == sum(r.total for r in runs) > 0
    assert [r["requests_total"] for r in summary["drill"]["runs"]] == [r.total for r in runs]
    for name, block in summary["requests"].items():
        counts = [r.types[name].count if name in r.types else 0 for r in runs]
        assert block["count"] == sum(counts), name
        if counts[0]:  # a rate is per drill second of one run, not of both added up
            sent = sum(r.types[name].series(8).sum() for r in runs if name in r.types)
            assert block["achieved_per_s"] == pytest.approx(sent / 2 / 8, abs=1e-3)
    assert summary["drill"]["load_cpu_s"] == pytest.approx(sum(r.cpu_s for r in runs), abs=1e-3)
    for k in (1, 2):  # each run had its own platform and its own server metrics
        assert (out / f"run-{k}" / "serve").is_dir() and (
            out / f"run-{k}" / "metrics.txt"
        ).is_file()
    assert "pool 2 runs of the drill" in (out / "report.html").read_text()
    assert json.loads((out / "predicted.json").read_text())["prediction"]["speed_index"]
