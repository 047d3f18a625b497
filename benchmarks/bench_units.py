"""Benchmark: units of work on two processes against one after another (`--jobs 2` / `--jobs 1`).

Two workloads, each timed in a fresh Python process from the first unit to the last result
(the process pool's start-up included, the interpreter's imports not):

    replications  the exact engine on the project's M/M/4 at utilization 0.9, 4 replications
                  of ~CUSTOMERS customers each (`twin run --engine exact --replications 4`)
    sweep         4 points of a grid on the same queue, the arrival rate swept over
                  3.0, 3.2, 3.4, 3.6 per second, exact engine (`twin sweep --grid ...`)

Serial and parallel runs alternate (serial, parallel, serial, ...) so drift in the machine's
load hits both alike; the median of the repeats is reported, with each side's results checked
equal (the same summaries, but wall time). A last line gives the CPU time of one replication
in the command's process and in a pool worker: what a unit costs wherever it runs, which a
busy machine does not change. Target: units per second on two processes >= 1.7x
serial, on a machine with at least two cores. The load average is printed before and after:
two processes can only beat one when two cores are free (on a machine busy with other work,
Linux shares the CPU between sessions, not processes, and the ratio says nothing).

    python benchmarks/bench_units.py [--customers N] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "scenarios" / "mmc-example.yaml"
RATE = 3.6
UNITS = 4
TARGET = 1.7
MISSED = 3  # exit code: ran, and missed a target (benchmarks/run_all.py)


def _overrides(customers: int) -> list[str]:
    return [f"duration_s={customers / RATE:.0f}", "warmup_s=0"]


def _digest(summaries: list[dict[str, Any]]) -> str:
    return json.dumps(
        [{k: v for k, v in s.items() if k != "wall_seconds"} for s in summaries], sort_keys=True
    )


def run_replications(customers: int, jobs: int) -> dict[str, Any]:
    from twin.config.loader import load
    from twin.runs import run_loaded
    from twin.runs.units import open_units

    loaded = load(MMC, _overrides(customers))
    start = time.perf_counter()
    with open_units(jobs=jobs) as units:
        run = run_loaded(loaded, engine="exact", replications=UNITS, units=units)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "digest": _digest([run.summary])}


def run_sweep_points(customers: int, jobs: int) -> dict[str, Any]:
    from twin.runs.sweep import plan_sweep, run_sweep
    from twin.runs.units import open_units

    grid = ["network.sources.0.rate_per_s=3.0,3.2,3.4,3.6"]
    plan = plan_sweep(MMC, _overrides(customers), grid)
    start = time.perf_counter()
    with open_units(jobs=jobs) as units:
        summaries = run_sweep(plan, units, engine="exact")
    wall = time.perf_counter() - start
    return {"wall_s": wall, "digest": _digest(summaries)}


def _cpu_of(fn: Any, item: Any) -> float:
    """CPU seconds this process spends on `fn(item)` (a unit, wherever it runs)."""
    start = time.process_time()
    fn(item)
    return time.process_time() - start


def run_cpu_per_unit(customers: int, jobs: int) -> dict[str, Any]:
    """CPU seconds per replication in this process and in pool workers: what a unit costs
    where it runs, whatever share of the machine it gets."""
    from functools import partial

    from twin.config.loader import load
    from twin.runs.units import open_units
    from twin.sim.exact.engine import replicate
    from twin.sim.exact.model import from_network
    from twin.sim.records import Grid

    model = from_network(load(MMC, _overrides(customers)).scenario)
    unit = partial(_cpu_of, partial(replicate, model, Grid.for_run(model.duration_s, 60.0)))
    here = [unit(r) for r in range(2)]
    with open_units(jobs=max(jobs, 2)) as units:
        there = units.map(unit, range(2 * units.jobs))
    return {"here_s": statistics.median(here), "worker_s": statistics.median(there)}


WORKLOADS = {
    "replications": run_replications,
    "sweep": run_sweep_points,
    "cpu": run_cpu_per_unit,
}


def time_in_subprocess(workload: str, customers: int, jobs: int) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--workload", workload, "--jobs", str(jobs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*cmd, "--customers", str(customers)], capture_output=True, text=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{workload} --jobs {jobs} failed:\n{proc.stderr.strip()}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def measure(workload: str, customers: int, repeats: int) -> tuple[float, float, bool]:
    """(serial wall s, parallel wall s, same results) as medians of alternating runs."""
    serial, parallel, digests = [], [], set()
    for _ in range(repeats):
        for jobs, walls in ((1, serial), (2, parallel)):
            run = time_in_subprocess(workload, customers, jobs)
            walls.append(run["wall_s"])
            digests.add(run["digest"])
    return statistics.median(serial), statistics.median(parallel), len(digests) == 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # ~6 s of one core per unit: the pool's start-up (a fork server importing the engines,
    # about 1.5 s of CPU) is then small beside the work, as it is for real replications.
    parser.add_argument("--customers", type=int, default=1_500_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workload", choices=sorted(WORKLOADS), help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:  # the child: one workload, its wall time and results as JSON
        print(json.dumps(WORKLOADS[args.workload](args.customers, args.jobs)))
        return 0
    cores = len(os.sched_getaffinity(0))
    print(
        f"{UNITS} units of ~{args.customers:,} M/M/4 customers each (exact engine), median of "
        f"{args.repeats} alternating runs, {cores} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(f"  {'workload':<14}{'serial s':>10}{'2 jobs s':>10}{'units/s x':>11}  same results")
    missed = False
    for workload in ("replications", "sweep"):
        serial, parallel, same = measure(workload, args.customers, args.repeats)
        ratio = serial / parallel
        verdict = "met" if ratio >= TARGET else ("MISSED" if cores >= 2 else "n/a: one core")
        missed |= verdict == "MISSED" or not same
        print(
            f"  {workload:<14}{serial:>10.2f}{parallel:>10.2f}{ratio:>11.2f}  {same}"
            f"  (target >= {TARGET}: {verdict})",
            flush=True,
        )
    cpu = time_in_subprocess("cpu", args.customers // 4, 2)
    print(
        f"  CPU per replication: {cpu['here_s']:.2f} s in the command's process, "
        f"{cpu['worker_s']:.2f} s in a pool worker (x{cpu['here_s'] / cpu['worker_s']:.2f})"
    )
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    return MISSED if missed else 0


if __name__ == "__main__":
    sys.exit(main())
