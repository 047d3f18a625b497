"""Benchmark: the exact engine riding a platform rider by rider, against a plain SimPy loop.

Two figures, each from a whole process timed from outside (these machines are shared):

1. Event rate. The exact engine rides the New Year surge at 1/1000 (3,000 riders) for
   `--minutes` simulated minutes; its work is R calls the riders made (each a timeout of the
   rider's schedule) and V station visits (each a resource request and a service timeout).
   A plain SimPy loop then does the same R timeouts and V resource requests with service
   timeouts (riders as processes, one `Resource` per station, the textbook pattern). The
   ratio of their rates (plain wall / engine wall, same work) must be >= 0.5: the engine's
   clients, routing and statistics may cost at most twice a bare loop.
2. Scale. The New Year surge at 1/300 (10,000 riders), one simulated hour, on the exact
   engine on one core: at most 10 minutes and under 2 GB of peak memory (it takes minutes:
   `--quick` leaves it out).

    python benchmarks/bench_riders.py [--minutes M] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "new-year-surge.yaml"
RATE_TARGET = 0.5
FULL_WALL_TARGET_S = 600.0
FULL_MEMORY_TARGET_MB = 2048.0
MISSED = 3


def run_engine(minutes: float, scale: float) -> dict[str, Any]:
    """The exact engine on the surge; its calls R and station visits V."""
    from twin.runs.run import run_file

    run = run_file(SCENARIO, [f"duration_s={minutes * 60:g}"], engine="exact", scale=scale)
    s = run.summary
    calls = sum(int(r.get("arrivals") or 0) for r in s["requests"].values())
    visits = sum(int(v["arrivals"]) for v in s["services"].values())
    return {"calls": calls, "visits": visits, "riders": s["riders"], "sessions": s["sessions"]}


def run_plain(calls: int, visits: int, seed: int = 1) -> dict[str, Any]:
    """R rider timeouts and V resource visits (request + service timeout) in plain SimPy."""
    import numpy as np
    import simpy

    env = simpy.Environment()
    servers = [simpy.Resource(env, capacity=64) for _ in range(4)]
    rng = np.random.default_rng(seed)
    riders = 500
    per_rider, hops = max(calls // riders, 1), max(round(visits / max(calls, 1)), 1)
    service = rng.exponential(0.005, 1_000_000).tolist()
    done = [0, 0]

    def rider(i: int) -> Any:
        k = i
        for _ in range(per_rider):
            yield env.timeout(1.0)
            done[0] += 1
            for h in range(hops):
                with servers[h % 4].request() as req:
                    yield req
                    yield env.timeout(service[k % 1_000_000])
                k += 7
                done[1] += 1

    for i in range(riders):
        env.process(rider(i))
    env.run()
    return {"calls": done[0], "visits": done[1]}


def _child(kind: str, args: list[str]) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", kind, *args]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{proc.stderr.strip()[-2000:]}")
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall, "peak_mb": peak_mb}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="leave out 1/300 for an hour")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scale", type=float, default=1e-3, help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--visits", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "engine":
        print(json.dumps(run_engine(args.minutes, args.scale)))
        return 0
    if args.child == "plain":
        print(json.dumps(run_plain(args.calls, args.visits)))
        return 0
    missed = False
    engine = _child("engine", ["--minutes", str(args.minutes), "--scale", "1e-3"])
    plain = _child("plain", ["--calls", str(engine["calls"]), "--visits", str(engine["visits"])])
    ratio = plain["wall_s"] / engine["wall_s"]
    missed |= ratio < RATE_TARGET
    print(
        f"New Year surge at 1/1000, {args.minutes:g} simulated min: {engine['calls']:,} calls, "
        f"{engine['visits']:,} station visits, {engine['sessions']:,} sessions\n"
        f"  exact engine {engine['wall_s']:.1f} s; plain SimPy, same timeouts and requests "
        f"({plain['calls']:,} / {plain['visits']:,}) {plain['wall_s']:.1f} s\n"
        f"  engine / plain event rate = {ratio:.2f}  (target >= {RATE_TARGET}: "
        f"{'met' if ratio >= RATE_TARGET else 'MISSED'})"
    )
    if not args.quick:
        full = _child("engine", ["--minutes", "60", "--scale", str(1 / 300)])
        ok = full["wall_s"] <= FULL_WALL_TARGET_S and full["peak_mb"] <= FULL_MEMORY_TARGET_MB
        missed |= not ok
        print(
            f"New Year surge at 1/300 ({full['riders']:,} riders), one hour: "
            f"{full['wall_s']:.0f} s, peak {full['peak_mb']:.0f} MB, {full['calls']:,} calls  "
            f"(targets <= {FULL_WALL_TARGET_S:.0f} s, <= {FULL_MEMORY_TARGET_MB:.0f} MB: "
            f"{'met' if ok else 'MISSED'})"
        )
    return MISSED if missed else 0


if __name__ == "__main__":
    sys.exit(main())
