"""The built-ins from a user's own folder: a copied scenario runs on a built-in architecture,
a built-in scenario runs by name, and `twin architectures` lists them with cost and size."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
SHORT = ["--engine", "fluid", "--riders", "20000", "--set", "duration_s=600"]


def test_a_scenario_copied_to_an_empty_folder_runs_on_a_built_in_architecture(tmp_path):
    shutil.copy(ROOT / "scenarios" / "daily-peak.yaml", tmp_path / "daily-peak.yaml")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path}  # this checkout's twin, whatever is installed
    proc = subprocess.run(
        [sys.executable, "-m", "twin.cli.app", "run", "daily-peak.yaml", *SHORT, "--out", "run"],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["scenario"], summary["architecture"]) == ("daily-peak", "phase3-global")
    assert summary["riders"] == 20_000 and summary["requests"]["join"]["count"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daily-peak.yaml", "run"]


def test_a_built_in_scenario_runs_by_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "daily-peak-fixed", *SHORT, "--out", "run", "-q"]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["scenario"], summary["architecture"]) == ("daily-peak-fixed", "phase3-global")
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_unknown_name_is_one_line_listing_the_built_ins(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "daily-peek"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twin: daily-peek: no such file, nor a built-in scenario (")
    assert "daily-peak, daily-peak-fixed" in err and err.count("\n") == 1


def test_architectures_json_gives_cost_and_size(capsys):
    assert main(["architectures", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert list(rows) == [
        "nginx-origin", "phase1-monolith", "phase2-microservices", "phase3-global",
        "reference-platform",
    ]  # fmt: skip
    phase3 = rows["phase3-global"]
    # seed 001: $455,000 a month for 3M users; 730 billed hours a month
    assert phase3["monthly_usd"] == 455_000 and phase3["riders"] == 3_000_000
    assert phase3["hourly_usd"] == pytest.approx(455_000 / 730, abs=0.01)
    assert phase3["per_user_month_usd"] == pytest.approx(0.1517)
    assert (phase3["components"], phase3["services"]) == (25, 14)
    # 20 api + 15 live + 12 workout + 8 social + 10 hardware + 6 content + 8 mobile + 6 web
    # + 8 pg_cluster + 16 pg_read + 12 redis_global + 8 elasticsearch; autoscaled: 4x each
    assert (phase3["instances"], phase3["instances_max"]) == (129, 129 + 3 * (20 + 12 + 10 + 8))
    assert (phase3["cdn_egress_gbps"], phase3["stream_shards"]) == (1500, 400)
    assert phase3["db_writes_per_s"] == 4000 and phase3["max_rendition"] == "4k"
    assert rows["phase1-monolith"]["stream_shards"] is None  # no stream in phase 1
    assert Path(phase3["file"]).is_file()


def test_architectures_prints_one_column_per_architecture(capsys):
    assert main(["architectures"]) == 0
    out = capsys.readouterr().out
    assert "phase2-microservices" in out and "$455,000" in out and "1,500 Gb/s" in out
    assert "Built-in scenarios (twin run NAME): covid-growth, covid-growth-fixed" in out
