"""`twin analyze` end to end: tables, JSON keys, and the one-line refusal of an unstable network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli.app import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "scenarios" / "mmc-example.yaml")

FEEDBACK = """\
name: feedback
kind: network
duration_s: 1000
network:
  sources:
    - {name: web, rate_per_s: [[0, 2.0], [500, 4.0]], to: api}
  stations:
    api:
      servers: 2
      service: {dist: exponential, mean_s: 0.2}
      routes: {db: 0.3, exit: 0.7}
    db:
      servers: 1
      service: {dist: deterministic, mean_s: 0.1}
      routes: {api: 1.0}
"""


@pytest.fixture
def feedback(tmp_path: Path) -> str:
    path = tmp_path / "feedback.yaml"
    path.write_text(FEEDBACK, encoding="utf-8")
    return str(path)


def test_table_shows_erlang_c_for_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE]) == 0
    out = capsys.readouterr().out
    # M/M/4 at 3.6/s, 1 s service: Wq = 1.96938 s, W = 2.96938 s (Erlang C by hand).
    assert "90.0%" in out and "1,969.4" in out and "2,969.4" in out
    assert "Erlang C" in out and "requests" in out


def test_json_has_the_contract_keys_in_milliseconds(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    api = data["stations"]["api"]
    assert api["arrival_rate_per_s"] == pytest.approx(3.6)
    assert api["servers"] == 4
    assert api["utilization"] == pytest.approx(0.9)
    assert api["wait_ms_mean"] == pytest.approx(1969.383, abs=1e-3)
    assert api["latency_ms_mean"] == pytest.approx(2969.383, abs=1e-3)
    assert api["method"] == "M/M/c"
    assert data["sources"]["requests"]["latency_ms_mean"] == pytest.approx(2969.383, abs=1e-3)


def test_overrides_and_peak_rates_reach_the_model(
    feedback: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Mean rate over 1000 s is 3/s; api sees 3 / 0.7 of it. At peak it is 4 / 0.7.
    assert main(["analyze", feedback, "--json"]) == 0
    mean = json.loads(capsys.readouterr().out)
    assert mean["stations"]["api"]["arrival_rate_per_s"] == pytest.approx(3 / 0.7)
    assert mean["stations"]["db"]["method"] == "M/G/1 P-K"
    assert main(["analyze", feedback, "--json", "--at-peak", "--set",
                 "network.stations.api.servers=3"]) == 0  # fmt: skip
    peak = json.loads(capsys.readouterr().out)
    assert peak["rates"] == "peak"
    assert peak["stations"]["api"]["arrival_rate_per_s"] == pytest.approx(4 / 0.7)
    assert peak["stations"]["api"]["servers"] == 3


def test_quiet_prints_nothing_when_stable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", EXAMPLE, "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_unstable_is_one_line_naming_the_station(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["analyze", EXAMPLE, "--set", "network.stations.api.servers=3"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "'api'" in lines[0] and "1.200" in lines[0] and lines[0].startswith("twin: ")


def test_unstable_from_a_real_process_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "twin.cli.app", "analyze", EXAMPLE, "--set",
         "network.sources.0.rate_per_s=4.0"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [
        "twin: station 'api' is unstable: utilization 1.000 >= 1, so it has no steady state "
        "(add servers or lower its arrival rate)"
    ]


def test_missing_file_and_bad_field_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["analyze", str(tmp_path / "nope.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["analyze", EXAMPLE, "--set", "network.stations.api.servers=0"]) == 2
    assert "network.stations.api.servers" in capsys.readouterr().err
