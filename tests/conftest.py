"""Fixtures every test folder shares: a small population, a catalogue, the scenario folders,
and `twin run`s that tests in several folders read (made once per session)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twin.platform.catalog import Catalog, build_catalog
from twin.platform.population import Population, build_population

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
ARCHITECTURES = SCENARIOS / "architectures"


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return build_catalog(np.random.default_rng(7))


@pytest.fixture(scope="session")
def population() -> Population:
    return build_population(200_000, np.random.default_rng(11))


@pytest.fixture(scope="session")
def scenarios_dir() -> Path:
    return SCENARIOS


@pytest.fixture(scope="session")
def architectures_dir() -> Path:
    return ARCHITECTURES


# daily-peak at 20,000 riders on the phase-1 monolith for ten minutes: its API at utilization
# ~0.75, where waiting shows; one replication varies ~5 % from seed to seed, four do not.
PHASE1_EVENING = ("--riders", "20000", "--set", "architecture=phase1-monolith",
                  "--set", "duration_s=600")  # fmt: skip


@pytest.fixture(scope="session")
def shared_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`twin run *args`, made once per session for every test that reads it, under pytest-xdist
    once for all workers (the first to ask runs it under a file lock, the others wait and
    read): the folder it wrote. Tests read it and write nothing there."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    return lambda *args: _run_once(root, [str(a) for a in args])


def _run_once(root: Path, args: list[str]) -> Path:
    from twin.cli.app import main

    key = hashlib.sha256("\0".join(args).encode()).hexdigest()[:16]
    folder, done = root / f"twin-run-{key}", root / f"twin-run-{key}.done"
    with (root / f"twin-run-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a run that failed part-way
            assert main(["run", *args, "--out", str(folder), "-q"]) == 0, args
            done.write_text(" ".join(args), encoding="utf-8")
    return folder


@pytest.fixture
def phase1_evening(shared_run: Callable[..., Path]) -> dict[str, dict[str, Any]]:
    """The PHASE1_EVENING run's summary by engine: `fluid`, and `exact` (four replications),
    both through `twin run`; fresh copies for each test."""
    path = SCENARIOS / "daily-peak.yaml"
    folders = {
        "fluid": shared_run(path, "--engine", "fluid", *PHASE1_EVENING),
        "exact": shared_run(path, "--engine", "exact", "--replications", "4", *PHASE1_EVENING),
    }
    return {k: json.loads((f / "summary.json").read_text("utf-8")) for k, f in folders.items()}
