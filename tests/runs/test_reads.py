"""`twin run` reads its scenario file once (the kind, the model and the architecture come from
that one read) and the architecture once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.yaml_reads import counting_yaml_reads
from twin.cli.app import main

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("mmc-example", ["--set", "duration_s=2000", "--set", "warmup_s=100"]),
        ("daily-peak", ["--engine", "fluid", "--riders", "20000", "--set", "duration_s=1800"]),
    ],
)
def test_twin_run_reads_each_file_once(tmp_path: Path, name: str, args: list[str]) -> None:
    scenario = SCENARIOS / f"{name}.yaml"
    with counting_yaml_reads() as reads:
        assert main(["run", str(scenario), *args, "--out", str(tmp_path / "out"), "-q"]) == 0
    assert reads[str(scenario.resolve())] == 1
    assert reads and all(n == 1 for n in reads.values()), reads
    if name == "daily-peak":  # a platform: its architecture was read too, once
        assert len(reads) == 2
