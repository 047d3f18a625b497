"""Benchmark: the whole `twin run` against the engine's own time, and riders' cost at 100M.

1. Whole command. `twin run scenarios/new-year-surge.yaml --engine fluid` (3M riders, one
   simulated hour) as a user runs it, in a fresh process timed from outside: imports, loading,
   riders, compile, engine, summary, timeseries.csv and the report with its PNGs. The same
   process reports the engine's own time (`wall_seconds` of its summary), so the ratio
   command / engine comes from one run and a busy machine slows both alike. Target: <= 2.
2. Riders. Population and compile of the same scenario at 3M and at 100M riders, each in a
   fresh process: wall time and peak resident memory (the child's ru_maxrss, read with
   `os.wait4`, interpreter and imports included). Targets: 100M under 2 GB, and at most 3x
   the time of 3M.

    python benchmarks/bench_command.py [--repeat 3] [--riders 3000000,100000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "new-year-surge.yaml"
RATIO_TARGET = 2.0
MEMORY_TARGET_MB = 2048.0
GROWTH_TARGET = 3.0
MISSED = 3  # exit code: ran, and missed a target (benchmarks/run_all.py)


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def whole_command(out: Path) -> dict[str, float]:
    """One `twin run ... --json` from outside: its wall time and its engine's own."""
    cmd = [sys.executable, "-m", "twin.cli.app", "run", str(SCENARIO), "--engine", "fluid"]
    cmd += ["--out", str(out), "--json"]
    load = os.getloadavg()[0]  # a shared machine: the ratio means most on a quiet one
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=_env(), check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"twin run failed:\n{proc.stderr[-2000:]}")
    engine = float(json.loads(proc.stdout)["wall_seconds"])
    return {"command_s": wall, "engine_s": engine, "ratio": wall / engine, "load": load}


def riders_child(riders: int) -> dict[str, Any]:
    """In the child: population (cohorts) and compile of the surge at `riders`."""
    from twin.config.loader import load_platform
    from twin.runs.compile import build_platform

    started = time.perf_counter()
    scenario, architecture = load_platform(SCENARIO, [f"population.riders={riders}"])
    loaded = time.perf_counter()
    build = build_platform(scenario, architecture)
    done = time.perf_counter()
    return {
        "riders": riders,
        "build_s": done - loaded,
        "load_s": loaded - started,
        "peak_riders": round(float(build.compiled.active_riders.max())),
    }


def riders_case(riders: int) -> dict[str, Any]:
    """`riders_child` in a fresh process; its figures and its own peak memory."""
    cmd = [sys.executable, __file__, "--child", str(riders)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"riders {riders} failed (exit {proc.returncode})")
    return {**json.loads(output.strip().splitlines()[-1]), "peak_mb": usage.ru_maxrss / 1024.0}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="whole commands to time")
    parser.add_argument("--riders", default="3000000,100000000")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.child:
        sys.path.insert(0, str(ROOT))
        print(json.dumps(riders_child(opts.child)))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-command-") as tmp:
        runs = [whole_command(Path(tmp) / f"run{i}") for i in range(opts.repeat)]
    ratio = statistics.median(r["ratio"] for r in runs)
    print("twin run new-year-surge --engine fluid (3M riders, one hour), whole command:")
    for r in runs:
        print(
            f"  {r['command_s']:6.2f} s command, {r['engine_s']:5.2f} s engine: {r['ratio']:.2f}x"
            f"  (load average {r['load']:.1f} on {os.cpu_count()} cores)"
        )
    ok_ratio = ratio <= RATIO_TARGET
    print(f"  median {ratio:.2f}x the engine's own time (target <= {RATIO_TARGET:g}: "
          f"{'met' if ok_ratio else 'MISSED'})")  # fmt: skip
    cases = [riders_case(int(float(r))) for r in opts.riders.split(",")]
    print("population (cohorts) + compile, fresh process each:")
    for c in cases:
        print(
            f"  {c['riders']:>11,} riders: {c['build_s']:5.2f} s, {c['peak_mb']:6.0f} MB peak "
            f"(peak {c['peak_riders']:,} riding)"
        )
    growth = cases[-1]["build_s"] / cases[0]["build_s"]
    ok_growth = growth <= GROWTH_TARGET
    ok_memory = cases[-1]["peak_mb"] < MEMORY_TARGET_MB
    print(f"  {cases[-1]['riders']:,} / {cases[0]['riders']:,}: {growth:.2f}x the time "
          f"(target <= {GROWTH_TARGET:g}: {'met' if ok_growth else 'MISSED'}), "
          f"{cases[-1]['peak_mb']:.0f} MB (target < {MEMORY_TARGET_MB:.0f}: "
          f"{'met' if ok_memory else 'MISSED'})")  # fmt: skip
    if opts.json:
        print(json.dumps({"command": runs, "riders": cases}, indent=2))
    return 0 if ok_ratio and ok_growth and ok_memory else MISSED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
