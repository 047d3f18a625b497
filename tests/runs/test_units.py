"""Units of work on local processes: the same results as one after another, bit for bit."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from twin.cli.app import main
from twin.config.limits import check_jobs
from twin.errors import InputError, UnstableError
from twin.runs import run_file
from twin.runs.units import LocalUnits, Units, check_cluster, open_units

ROOT = Path(__file__).parents[2]
MMC = ROOT / "scenarios" / "mmc-example.yaml"
DAILY = ROOT / "scenarios" / "daily-peak.yaml"


def _without_wall(summary: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in summary.items() if k != "wall_seconds"}, sort_keys=True)


def test_exact_replications_on_two_processes_equal_serial_ones() -> None:
    args = (MMC, ["duration_s=6000", "warmup_s=300"])
    serial = run_file(*args, engine="exact", replications=3)
    with LocalUnits(2) as units:
        parallel = run_file(*args, engine="exact", replications=3, units=units)
    assert _without_wall(parallel.summary) == _without_wall(serial.summary)
    assert parallel.timeseries.equals(serial.timeseries)
    # Three different replications, not one three times: the interval has a width.
    low, high = serial.summary["services"]["api"]["latency_ms"]["ci95"]
    assert high > low


def test_rider_replications_on_two_processes_equal_serial_ones() -> None:
    args = (DAILY, ["population.riders=2000", "duration_s=600"])
    serial = run_file(*args, engine="exact", replications=2)
    with LocalUnits(2) as units:
        parallel = run_file(*args, engine="exact", replications=2, units=units)
    assert _without_wall(parallel.summary) == _without_wall(serial.summary)
    assert parallel.timeseries.equals(serial.timeseries)
    assert serial.summary["experience"] == parallel.summary["experience"]


def test_progress_counts_every_unit_once() -> None:
    seen: list[tuple[int, int]] = []
    with LocalUnits(2) as units:
        values = units.map(abs, [-4, 9, -16], lambda k, n: seen.append((k, n)))
    assert values == [4, 9, 16]  # in the order of the items, whatever finished first
    assert seen == [(1, 3), (2, 3), (3, 3)]


def test_an_error_in_a_worker_reaches_the_command_as_the_same_one_line() -> None:
    # A unit must be importable where it runs: a twin function, not one of this test file.
    with LocalUnits(2) as units, pytest.raises(InputError, match=r"^--jobs: 0 must be between"):
        units.map(check_jobs, [3, 0])
    unstable = pickle.loads(pickle.dumps(UnstableError("api", 1.2)))
    assert str(unstable) == str(UnstableError("api", 1.2))


def test_one_job_runs_in_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TWIN_CLUSTER", raising=False)
    assert type(open_units(jobs=1)) is Units
    assert open_units(jobs=3).jobs == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jobs", "0"], "--jobs: 0 must be between 1 and 1024 (MAX_JOBS)"),
        (["--cluster", "localhost"], "--cluster: localhost: expected a scheduler address"),
    ],
)
def test_bad_unit_options_are_one_line_and_exit_2(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(MMC), "--set", "duration_s=4000", "--out", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"twin: {message}") and err.count("\n") == 1
    assert not (tmp_path / "summary.json").exists()


def test_cluster_addresses() -> None:
    assert check_cluster(" tcp://10.0.0.5:8786 ") == "tcp://10.0.0.5:8786"
    with pytest.raises(InputError):
        check_cluster("http://host:8786")
