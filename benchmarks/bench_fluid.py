"""Benchmark: the fluid engine against plain SimPy, and how its cost grows with riders.

Each measurement runs in a fresh Python process (spawned), timed inside it, with its peak
resident memory (`resource.getrusage`, ru_maxrss) read at its end, so one case's memory does
not hide another's.

    simpy      the textbook model: a process per customer taking a `simpy.Resource`, pushing
               1,000,000 customers through one M/M/1 at utilization 0.8
    network    the fluid engine on a bare network of 12 services and 8 request sources, one
               simulated hour at 1 s ticks, rates changing every tick (a surge)
    platform   `new-year-surge` (phase 3, 50x surge) at 30K, 300K and 3M riders: population,
               compile and fluid engine, one simulated hour at 1 s ticks

Targets: the 3M-rider platform hour in well under 60 s wall and 4 GB peak memory. Ratios
are of CPU seconds (time.process_time), which a machine shared with other work disturbs far
less than wall time: fluid CPU / SimPy CPU, below 1 when the fluid hour costs less than
SimPy's 1M customers.

    python benchmarks/bench_fluid.py [--customers N] [--riders 30000,300000,3000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "new-year-surge.yaml"
WALL_TARGET_S = 60.0
MEMORY_TARGET_MB = 4096.0
MISSED = 3  # exit code: ran, and missed a target (benchmarks/run_all.py)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def simpy_mm1(
    customers: int, lam: float = 0.8, mean_s: float = 1.0, seed: int = 1
) -> dict[str, Any]:
    """A process per customer through one simpy.Resource: the plain SimPy baseline."""
    import numpy as np
    import simpy

    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / lam, customers).tolist()
    services = rng.exponential(mean_s, customers).tolist()
    env = simpy.Environment()
    server = simpy.Resource(env, capacity=1)
    total = [0.0]

    def customer(env: simpy.Environment, service: float) -> Iterator[simpy.Event]:
        arrived = env.now
        with server.request() as req:
            yield req
            yield env.timeout(service)
        total[0] += env.now - arrived

    def source(env: simpy.Environment) -> Iterator[simpy.Event]:
        for gap, service in zip(gaps, services, strict=True):
            yield env.timeout(gap)
            env.process(customer(env, service))

    started, cpu = time.perf_counter(), time.process_time()
    env.process(source(env))
    env.run()
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu,
        "mean_sojourn_s": total[0] / customers,
        "peak_mb": _peak_mb(),
    }


def large_network() -> Any:
    """12 services, 8 sources with a rate that changes every second (a surge at 25 min)."""
    import numpy as np

    from twin.config.network import NetworkScenario

    t = np.arange(3600.0)
    shape = 1.0 + 2.5 * np.exp(-(((t - 1500.0) / 500.0) ** 2)) + 0.1 * np.sin(t / 7.0)
    names = [
        "edge",
        "api",
        "auth",
        "recs",
        "classes",
        "video",
        "ingest",
        "stream",
        "leader",
        "workouts",
        "db",
        "cache",
    ]
    routes = {
        "api": {"auth": 0.2, "recs": 0.3, "classes": 0.3, "exit": 0.2},
        "recs": {"cache": 0.5, "db": 0.1, "exit": 0.4},
        "classes": {"db": 0.3, "exit": 0.7},
        "ingest": {"stream": 1.0},
        "stream": {"leader": 0.1, "exit": 0.9},
        "leader": {"cache": 0.5, "exit": 0.5},
        "workouts": {"db": 1.0},
    }
    laws = [{"dist": "exponential"}, {"dist": "lognormal", "cv": 1.2}, {"dist": "gamma", "cv": 1.2}]
    stations = {
        n: {
            "servers": 400 + 50 * i,
            "service": {**laws[i % 3], "mean_s": 0.005},
            "routes": routes.get(n, {"exit": 1.0}),
        }
        for i, n in enumerate(names)
    }
    sources = {
        "recommend": ("api", 300.0), "join": ("api", 200.0), "playlist": ("video", 4000.0),
        "segment": ("video", 20000.0), "telemetry": ("ingest", 60000.0),
        "leaderboard": ("leader", 8000.0), "workout": ("workouts", 100.0),
        "feedback": ("workouts", 30.0),
    }  # fmt: skip
    return NetworkScenario.model_validate(
        {
            "name": "bench-network",
            "duration_s": 3600,
            "network": {
                "sources": [
                    {
                        "name": k,
                        "rate_per_s": [
                            [float(a), float(r * b)] for a, b in zip(t, shape, strict=True)
                        ],
                        "to": to,
                    }
                    for k, (to, r) in sources.items()
                ],
                "stations": stations,
            },
        }
    )


def fluid_network() -> dict[str, Any]:
    from twin.sim.fluid import run_fluid

    scenario = large_network()
    started, cpu = time.perf_counter(), time.process_time()
    result = run_fluid(scenario)
    wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "cpu_s": time.process_time() - cpu,
        "services": len(result.summary["services"]),
        "peak_mb": _peak_mb(),
    }


def fluid_platform(riders: int) -> dict[str, Any]:
    """Population (cohorts, as a run builds it), compile and fluid engine for `new-year-surge`
    at `riders`."""
    from twin.config.loader import load_platform
    from twin.platform.scenario_riders import scenario_cohorts
    from twin.runs.compile import compile_platform
    from twin.sim.fluid import run_fluid

    started, cpu = time.perf_counter(), time.process_time()
    scenario, architecture = load_platform(SCENARIO, [f"population.riders={riders}"])
    population = scenario_cohorts(scenario)
    built = time.perf_counter()
    compiled = compile_platform(scenario, architecture, population)
    compiled_at = time.perf_counter()
    result = run_fluid(compiled, seed=scenario.seed)
    done = time.perf_counter()
    return {
        "riders": riders,
        "population_s": built - started,
        "compile_s": compiled_at - built,
        "engine_s": done - compiled_at,
        "wall_s": done - started,
        "cpu_s": time.process_time() - cpu,
        "peak_mb": _peak_mb(),
        "bottleneck": result.summary["bottlenecks"][0],
        "video_degraded_fraction": result.summary["experience"]["video_degraded_fraction"],
    }


def _child(queue: Any, name: str, args: tuple[Any, ...]) -> None:
    queue.put(globals()[name](*args))


def isolated(name: str, *args: Any) -> dict[str, Any]:
    """Run `name(*args)` in a fresh process and return its figures."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, name, args))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--riders", default="30000,300000,3000000")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    opts = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    base = isolated("simpy_mm1", opts.customers)
    print(
        f"simpy M/M/1, {opts.customers:,} customers: {base['wall_s']:.2f} s wall, "
        f"{base['cpu_s']:.2f} s CPU, {base['peak_mb']:.0f} MB peak"
    )
    net = isolated("fluid_network")
    print(
        f"fluid, bare network of {net['services']} services, 8 sources, 3,600 ticks: "
        f"{net['wall_s']:.2f} s wall, {net['cpu_s']:.2f} s CPU "
        f"({net['cpu_s'] / base['cpu_s']:.2f} x simpy's CPU), {net['peak_mb']:.0f} MB peak"
    )
    rows = [isolated("fluid_platform", int(r)) for r in opts.riders.split(",")]
    print("new-year-surge, one hour at 1 s ticks (population + compile + engine):")
    missed = False
    for row in rows:
        ok = row["wall_s"] < WALL_TARGET_S and row["peak_mb"] < MEMORY_TARGET_MB
        missed = missed or not ok
        print(
            f"  {row['riders']:>9,} riders: {row['wall_s']:6.2f} s wall "
            f"(population {row['population_s']:.2f}, compile {row['compile_s']:.2f}, "
            f"engine {row['engine_s']:.2f}), {row['cpu_s']:.2f} s CPU = "
            f"{row['cpu_s'] / base['cpu_s']:.2f} x simpy's, {row['peak_mb']:6.0f} MB peak"
            f"{'' if ok else '  MISSES 60 s / 4 GB'}"
        )
    if len(rows) > 1:
        growth = ", ".join(f"{b['cpu_s'] / a['cpu_s']:.2f}x" for a, b in pairwise(rows))
        print(f"  CPU grows {growth} per step of riders")
    if opts.json:
        print(json.dumps({"simpy": base, "network": net, "platform": rows}, indent=2))
    return MISSED if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
