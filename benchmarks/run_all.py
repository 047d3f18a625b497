"""Run every `benchmarks/bench_*.py` in turn, each in its own process, and print its output.

`make bench` calls this. A benchmark prints its own figures; this script adds a header per
benchmark, its wall time, and a closing list. A benchmark exits 3 when it ran but missed a
performance target: the list says "TARGET MISSED"; it exits 4 when it ran but its run could
not judge the target (e.g. `bench_overload.py`: the load generator fell behind, or the disk
stalled before any overload): "NOT JUDGED". This script exits 1 unless every benchmark met
its targets.

    python benchmarks/run_all.py [NAME ...]   # only benchmarks whose file name contains NAME
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MISSED = 3  # a benchmark's exit code when it ran but missed a target
NOT_JUDGED = 4  # ... when it ran but its run could not judge the target
STATUS = {0: "ok", MISSED: "TARGET MISSED", NOT_JUDGED: "NOT JUDGED"}


def select(names: list[str]) -> list[Path]:
    """The benchmark files, sorted, filtered by any of `names` (all when none)."""
    paths = sorted(HERE.glob("bench_*.py"))
    return [p for p in paths if not names or any(n in p.stem for n in names)]


def run_one(path: Path) -> tuple[int, float]:
    """Run one benchmark with its output going straight to ours; (exit code, wall seconds)."""
    print(f"\n== {path.stem} ==", flush=True)
    start = time.perf_counter()
    code = subprocess.run([sys.executable, str(path)], cwd=ROOT, check=False).returncode
    return code, time.perf_counter() - start


def main(argv: list[str]) -> int:
    paths = select(argv)
    if not paths:
        print(f"no benchmarks match {' '.join(argv)!r} in {HERE}", file=sys.stderr)
        return 1
    results = [(path.stem, *run_one(path)) for path in paths]
    print("\n== summary ==")
    for name, code, wall in results:
        status = STATUS.get(code, f"FAILED (exit {code})")
        print(f"  {name:<24}{wall:>8.1f} s  {status}")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
