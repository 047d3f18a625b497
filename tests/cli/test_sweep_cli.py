"""`twin sweep` end to end: the tables and page, the same on one process or two, bad grids."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from twin.cli.app import main
from twin.runs import run_file

GRID = ["--grid", "architecture=phase2-microservices,phase3-global", "--grid", "riders=2e4,1e5"]
SMALL = ["--engine", "fluid", "--set", "duration_s=900", "-q"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    two = tmp_path_factory.mktemp("two")
    one = tmp_path_factory.mktemp("one")
    assert main(["sweep", "daily-peak", *GRID, *SMALL, "--jobs", "2", "--out", str(two)]) == 0
    assert main(["sweep", "daily-peak", *GRID, *SMALL, "--jobs", "1", "--out", str(one)]) == 0
    return two, one


def test_two_processes_sweep_the_same_table_byte_for_byte(swept: tuple[Path, Path]) -> None:
    two, one = swept
    assert (two / "sweep.csv").read_bytes() == (one / "sweep.csv").read_bytes()
    assert (two / "sweep.parquet").read_bytes() == (one / "sweep.parquet").read_bytes()


def test_the_table_is_tidy_and_holds_each_point_as_twin_run_gives_it(
    swept: tuple[Path, Path],
) -> None:
    table = pd.read_csv(swept[0] / "sweep.csv")
    assert pd.read_parquet(swept[0] / "sweep.parquet").shape == table.shape
    assert sorted(table["point"].unique()) == [0, 1, 2, 3]
    assert not table.duplicated(["point", "metric", "slo"]).any()
    # Point 3 is phase3-global at 100,000 riders: the same numbers as that run on its own.
    run = run_file(
        "daily-peak",
        ["duration_s=900", "architecture=phase3-global", "population.riders=100000"],
        engine="fluid",
    )
    rows = table[table["point"] == 3].set_index(["metric"])
    assert set(rows["architecture"]) == {"phase3-global"} and set(rows["riders"]) == {100_000}
    cost = run.summary["cost"]["per_user_month_usd"]
    assert rows.loc["cost.per_user_month_usd", "value"] == pytest.approx(cost, rel=1e-12)
    for verdict in run.summary["slo"]:
        row = table[(table["point"] == 3) & (table["slo"] == verdict["name"])].iloc[0]
        assert row["value"] == pytest.approx(verdict["observed"], rel=1e-9)
        assert bool(row["passed"]) == verdict["passed"]


def test_the_page_shows_every_slo_margin_the_cost_and_the_cheapest_design(
    swept: tuple[Path, Path],
) -> None:
    page = (swept[0] / "sweep.html").read_text()
    slos = pd.read_csv(swept[0] / "sweep.csv")["slo"].dropna().unique()
    assert len(slos) >= 3
    assert len(re.findall(r'<img src="data:image/png;base64,', page)) == len(slos) + 1
    for name in slos:
        assert f"Margin: {name}" in page or f"SLO margin: {name}" in page
    assert "Cheapest design meeting every SLO" in page and "<script" not in page
    assert {p.name for p in swept[0].glob("sweep-*.png")} >= {"sweep-cost-per-user.png"}


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        (["nosuch.key=1,2"], "twin: --grid: nosuch"),
        (["riders=1e5", "architecture="], "twin: --grid: architecture: has an empty list"),
        (["riders=1,2,3", "architecture=phase9-nowhere"], "phase9-nowhere"),
        (
            ["riders=-5"],
            "population.riders: Input should be greater than or equal to 1 "
            "(at the grid point riders=-5)",
        ),
        ([f"riders={','.join(map(str, range(1, 1001)))}"], "over the limit of 500"),
    ],
)
def test_bad_grids_are_one_line_and_exit_2_before_anything_runs(
    grid: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never"
    args = [a for g in grid for a in ("--grid", g)]
    assert main(["sweep", "daily-peak", *args, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()


def test_sweep_json_free_of_wall_time(swept: tuple[Path, Path]) -> None:
    # wall_seconds differs run to run; the table leaves it out so sweeps compare byte for byte.
    table = pd.read_csv(swept[0] / "sweep.csv")
    assert not table["metric"].str.contains("wall").any()
    assert json.loads(json.dumps(list(table.columns)))[:4] == [
        "point", "architecture", "riders", "engine",
    ]  # fmt: skip
