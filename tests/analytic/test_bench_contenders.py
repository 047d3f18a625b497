"""The benchmark's SimPy and Ciw contenders simulate the queue they claim to (Erlang C agrees)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from twin.analytic.erlang import mmc

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_exact.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_exact", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# At utilization 0.6 (lambda 2.4 on four 1 s servers; Erlang C: Wq = 0.1663 s) the mean
# wait of 20,000 customers scatters by ~8% from run to run (measured over 12 seeds), so 25%
# is three standard deviations. A wrong server count or service mean is off by 2x or more.
RATE, CUSTOMERS = 2.4, 20_000


@pytest.mark.parametrize("contender", ["simpy", "ciw"])
def test_contender_agrees_with_erlang_c(bench: ModuleType, contender: str) -> None:
    result = bench.CONTENDERS[contender](CUSTOMERS, 11, RATE)
    assert result["completed"] == pytest.approx(CUSTOMERS, rel=0.03)
    assert result["wait_mean_s"] == pytest.approx(mmc(RATE, 1.0, 4).wait_mean, rel=0.25)


def test_the_erlang_c_figure_printed_by_the_benchmark(bench: ModuleType) -> None:
    theory = mmc(3.6, 1.0, 4).wait_mean
    assert theory == pytest.approx(bench.WAIT_THEORY_S, abs=1e-6)


def test_a_contender_in_its_own_process_reports_json(bench: ModuleType) -> None:
    row = bench.time_in_subprocess("simpy", 2_000, seed=3)
    assert row["completed"] == pytest.approx(2_000, rel=0.1)
    assert row["wall_s"] > 0


def test_report_lines_hold_rates_and_ratio_verdicts(bench: ModuleType) -> None:
    runs = {
        "exact": [{"completed": 1000, "wall_s": 1.0, "wait_mean_s": 2.0}] * 3,
        "simpy": [{"completed": 1000, "wall_s": 2.0, "wait_mean_s": 2.0}] * 3,
        "ciw": [{"completed": 1000, "wall_s": 1.0, "wait_mean_s": 2.0}] * 3,
    }
    text = "\n".join(bench.report(runs, 1000, 3))
    assert "exact/simpy = 2.00  (target >= 1.5: met)" in text
    assert "exact/ciw = 1.00  (target >= 1.5: MISSED)" in text
    assert "1,000" in text and "500" in text


def test_run_all_lists_the_benchmarks() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH.parent / "run_all.py"), "no-such-benchmark"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1 and "no benchmarks match" in proc.stderr


def test_run_all_says_which_benchmark_missed_its_target(monkeypatch, capsys) -> None:
    spec = importlib.util.spec_from_file_location("run_all", BENCH.parent / "run_all.py")
    run_all = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_all)
    codes = {"bench_a": 0, "bench_b": run_all.MISSED, "bench_c": 1}
    monkeypatch.setattr(run_all, "select", lambda _names: [Path(f"{n}.py") for n in codes])
    monkeypatch.setattr(run_all, "run_one", lambda path: (codes[path.stem], 1.0))
    assert run_all.main([]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[-1] for line in lines[-3:]] == ["ok", "MISSED", "1)"]
    assert "bench_b" in lines[-2] and "TARGET MISSED" in lines[-2] and "FAILED" in lines[-1]
    codes["bench_b"] = 0
    monkeypatch.setattr(run_all, "run_one", lambda path: (0, 1.0))
    assert run_all.main([]) == 0
