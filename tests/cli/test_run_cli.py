"""`twin run` end to end: files written, one-line errors, exit codes, nothing lost."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from twin.cli.app import main

EXAMPLE = Path(__file__).parents[2] / "scenarios" / "mmc-example.yaml"
SHORT = ["--set", "duration_s=4000", "--set", "warmup_s=400"]


def test_run_writes_the_contract_files(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", str(EXAMPLE), *SHORT, "--replications", "2", "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in ("scenario", "engine", "seed", "replications", "simulated_seconds", "wall_seconds"):
        assert key in summary
    api = summary["services"]["api"]
    for key in ("arrivals", "completed", "dropped", "utilization_mean", "utilization_peak"):
        assert isinstance(api[key], int | float)
    assert set(api["latency_ms"]) >= {"mean", "ci95", "p50", "p95", "p99", "p999"}
    assert set(api["wait_ms"]) == {"mean", "ci95"}
    assert summary["requests"]["requests"]["count"] > 10_000
    assert summary["replications"] == 2
    ts = pd.read_csv(out / "timeseries.csv")
    assert {
        "t_s",
        "service",
        "arrivals",
        "completed",
        "queue_mean",
        "utilization",
        "latency_ms_p50",
        "latency_ms_p95",
        "latency_ms_p99",
    } <= set(ts.columns)
    assert ts["arrivals"].sum() == pytest.approx(
        summary["services"]["api"]["arrivals"] / 2, rel=0.15
    )
    assert (out / "report.html").stat().st_size > 10_000


def test_seed_and_set_reach_the_engine(tmp_path: Path) -> None:
    out = tmp_path / "r"
    main(
        [
            "run",
            str(EXAMPLE),
            *SHORT,
            "--seed",
            "42",
            "--set",
            "network.stations.api.servers=8",
            "--out",
            str(out),
            "-q",
        ]
    )
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seed"] == 42
    assert summary["services"]["api"]["utilization_mean"] == pytest.approx(0.45, rel=0.05)


def test_precision_keeps_adding_replications_until_reached(tmp_path: Path) -> None:
    out = tmp_path / "p"
    main(
        [
            "run",
            str(EXAMPLE),
            "--set",
            "duration_s=3000",
            "--set",
            "warmup_s=300",
            "--set",
            "network.sources.0.rate_per_s=2.0",
            "--precision",
            "3%",
            "--out",
            str(out),
            "-q",
        ]
    )
    summary = json.loads((out / "summary.json").read_text())
    lat = summary["services"]["api"]["latency_ms"]
    assert summary["precision"] == {"target": 0.03, "reached": True}
    assert summary["replications"] >= 3
    assert (lat["ci95"][1] - lat["ci95"][0]) / 2 <= 0.03 * lat["mean"]


def _twin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "twin.cli.app", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--set", "network.stations.api.servers=0"], "network.stations.api.servers"),
        (["--set", "network.sources.0.rate_per_s=-3"], "network.sources.0.rate_per_s"),
        (["--engine", "warp"], "unknown engine"),
        (["--precision", "banana"], "--precision"),
        (["--riders", "1000"], "population"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_loses_nothing(
    tmp_path: Path, args: list[str], words: str
) -> None:
    out = tmp_path / "kept"
    out.mkdir()
    (out / "summary.json").write_text('{"kept": true}\n')
    proc = _twin("run", str(EXAMPLE), *args, "--out", str(out))
    assert proc.returncode == 2
    assert words in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr
    assert (out / "summary.json").read_text() == '{"kept": true}\n'


def test_a_missing_file_is_named() -> None:
    proc = _twin("run", "no/such/scenario.yaml")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "twin: no/such/scenario.yaml: no such file"


def test_without_out_a_new_folder_lands_under_reports(tmp_path: Path) -> None:
    proc = _twin("run", str(EXAMPLE), *SHORT, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    folder = Path(tmp_path / proc.stdout.strip())
    assert folder.parent.name == "reports" and folder.name.startswith("mmc-example-")
    assert (folder / "summary.json").exists()


def test_token_json_names_its_subject_id_and_expiry(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWIN_SECRET", "x" * 32)
    assert main(["token", "--device", "bike-7", "--ttl", "60", "--json", "-q"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["kind"] == "device" and facts["subject"] == "bike-7"
    assert facts["token"].count(".") == 1 and len(facts["id"]) == 16


def test_the_heap_is_frozen_before_the_interpreter_collects_at_exit() -> None:
    """`main` freezes the heap at exit (once, however often it ran), so the interpreter's own
    full collections at exit walk nothing; a handler registered before `main` runs after it."""
    code = (
        "import atexit, gc\n"
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0))\n"
        "from twin.cli.app import main\n"
        "assert main(['--help']) == 0 and main(['--help']) == 0\n"
        "print('frozen before exit:', gc.get_freeze_count() > 0)\n"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"}, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[-2:] == ["frozen before exit: False", "frozen at exit: True"]


def test_a_run_in_process_leaves_nothing_set_aside_from_the_collector(tmp_path: Path) -> None:
    """`twin run` freezes what its imports made while it runs (`twin.cli.heap`) and unfreezes
    it when done: a process that runs many commands (this test session) leaks nothing."""
    import gc

    leftover = gc.get_freeze_count()
    assert main(["run", str(EXAMPLE), *SHORT, "--out", str(tmp_path / "run"), "-q"]) == 0
    assert gc.get_freeze_count() == leftover == 0
    assert (tmp_path / "run" / "summary.json").is_file()
