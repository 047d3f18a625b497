"""Run the validation cases on both engines, one replication per unit of work, cached.

A unit is (case, engine, seed): one run of the seam `twin run` calls, in its own process,
with one replication and its own seed, so replications are independent runs that go to
separate processes and are kept separately. Each unit's summary is stored under the cache
folder by a key made of the case (scenario, scale, overrides), the engine, the seed and the
code version of its engine (a hash of the engine-side sources and the built-in scenario
files, less the other engine's own package): rerunning after a change to one engine reruns
that engine's units, after a change to what both share (the compile, the config, the
summary) every unit, after a change elsewhere (reports, CLI) none; and an interrupted run
resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.validation.cases import Case

__all__ = ["CACHE", "Unit", "code_version", "load_or_run", "run_units", "units_for"]

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("TWIN_VALIDATION_CACHE", ROOT / "reports" / ".validation-cache"))
# What a run's numbers depend on: the model, the engines and the built-in inputs. Reports,
# CLI, drills and the reference platform do not change a summary's figures.
_ENGINE_SIDE = ("errors.py", "rng.py", "analytic", "config", "platform", "sim", "runs", "results")
# The built-in scenarios and architectures: not the stored drills' folders, the target
# profiles or the schema files under scenarios/, which no engine reads.
_INPUTS = ("scenarios/*.yaml", "scenarios/architectures")


@dataclass(frozen=True)
class Unit:
    """One replication of one case on one engine."""

    case: Case
    engine: str
    seed: int

    def key(self, version: str) -> str:
        text = json.dumps(
            [self.case.scenario, self.case.scale, list(self.case.sets), self.engine, self.seed,
             version]
        )  # fmt: skip
        digest = hashlib.sha256(text.encode()).hexdigest()[:16]
        return f"{self.case.scenario}-{self.engine}-s{self.seed}-{digest}"


# Each engine's own package: a change to one does not rerun the other's units.
_OWN = {"exact": "sim/exact", "fluid": "sim/fluid"}


def code_version(root: Path = ROOT / "twin", engine: str | None = None) -> str:
    """A hash of every engine-side source file and built-in scenario (see the module); for
    `engine`, leaving out the other engine's own package."""
    other = [root / own for name, own in _OWN.items() if engine is not None and name != engine]
    digest = hashlib.sha256()
    for part in _ENGINE_SIDE + _INPUTS:
        base = root / part
        if "*" in part:
            files = sorted(root.glob(part))
        else:
            files = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in files:
            if any(path.is_relative_to(o) for o in other):
                continue
            if path.is_file() and path.suffix in {".py", ".yaml", ".json"}:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def units_for(case: Case, engine: str, replications: int, base_seed: int = 1) -> list[Unit]:
    """`replications` units of `case` on `engine`, seeds base_seed, base_seed + 1, ..."""
    return [Unit(case, engine, base_seed + i) for i in range(replications)]


def _path(unit: Unit, version: str, cache: Path) -> Path:
    return cache / f"{unit.key(version)}.json"


# The child process: `twin.runs.run.run_file`, the seam `twin run` calls, without the report
# pages (their plots would cost a fluid run several times its simulation).
_CHILD = """
import json, sys, time
from twin.runs.run import run_file
scenario, engine, scale, seed, sets = json.loads(sys.argv[1])
started = time.perf_counter()
run = run_file(scenario, sets, engine=engine, seed=seed, replications=1, scale=scale)
summary = dict(run.summary, wall_seconds=time.perf_counter() - started)
sys.stdout.write(json.dumps(summary))
"""


def _run(unit: Unit) -> dict[str, Any]:
    """One unit in its own process, with this repository's `twin`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    case = unit.case
    args = json.dumps([case.scenario, unit.engine, case.scale, unit.seed, list(case.sets)])
    done = subprocess.run([sys.executable, "-c", _CHILD, args], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{unit}: exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return dict(json.loads(done.stdout))


def _store(path: Path, summary: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(summary), encoding="utf-8")
    partial.replace(path)  # a unit is kept whole or not at all


def load_or_run(
    units: Iterable[Unit],
    *,
    jobs: int = 2,
    cache: Path = CACHE,
    say: Callable[[str], None] = lambda _: None,
) -> dict[Unit, dict[str, Any]]:
    """Every unit's summary: from the cache when there, else run (on `jobs` processes) and
    stored as each finishes."""
    version = {engine: code_version(engine=engine) for engine in _OWN}
    found: dict[Unit, dict[str, Any]] = {}
    todo = []
    for unit in units:
        path = _path(unit, version[unit.engine], cache)
        if path.exists():
            found[unit] = json.loads(path.read_text(encoding="utf-8"))
        else:
            todo.append(unit)
    versions = ", ".join(f"{e} {v}" for e, v in version.items())
    say(f"{len(found)} units cached, {len(todo)} to run (code versions {versions})")
    for unit, summary in run_units(todo, jobs=jobs):
        _store(_path(unit, version[unit.engine], cache), summary)
        found[unit] = summary
        say(f"ran {unit.case.scenario} {unit.engine} seed {unit.seed}: "
            f"{summary['wall_seconds']:.0f} s")  # fmt: skip
    return found


def run_units(units: list[Unit], *, jobs: int = 2) -> Iterable[tuple[Unit, dict[str, Any]]]:
    """Run `units` on `jobs` processes at once, yielding each with its summary as it finishes:
    the exact engine's first (the long ones, so none is left alone on one core at the end),
    seed by seed, so that an interrupted run has every case at its first replications."""
    ordered = sorted(units, key=lambda u: (u.engine != "exact", u.seed))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # threads wait on processes
        futures = {pool.submit(_run, unit): unit for unit in ordered}
        for future in as_completed(futures):
            yield futures[future], future.result()
