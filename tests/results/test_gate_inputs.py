"""The gate never passes by accident: bad values fail with their reason, bad keys are bad
input, a regression needs the tolerance, the floor and (with replications) the intervals."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from twin.cli.app import main
from twin.errors import InputError
from twin.results.gate import compared_metrics, regression_checks
from twin.results.slo import parse_expression
from twin.results.summary_keys import check_key

P99 = "requests.join.latency_ms.p99"
RUN: dict[str, Any] = {
    "scenario": "s",
    "engine": "fluid",
    "services": {"api": {"latency_ms": {"mean": 40.0, "p99": 480.0}}},
    "requests": {"join": {"count": 1000, "errors": 2, "latency_ms": {"mean": 45.0, "p99": 490.0}}},
}


def _write(folder: Path, name: str, data: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(json.dumps(data))  # NaN is written as NaN, as a careless tool would
    return path


def _with_p99(value: Any) -> dict[str, Any]:
    data = copy.deepcopy(RUN)
    if value == "missing":
        del data["requests"]["join"]["latency_ms"]["p99"]
    else:
        data["requests"]["join"]["latency_ms"]["p99"] = value
    return data


BAD = [(math.nan, "NaN"), (None, "null"), ("missing", "missing"), ("fast", "not a number")]


@pytest.mark.parametrize(("value", "reason"), BAD)
@pytest.mark.parametrize("where", ["run", "baseline"])
def test_a_bad_value_fails_the_gate_with_its_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: Any, reason: str, where: str
) -> None:
    bad, good = _with_p99(value), RUN
    run = _write(tmp_path, "run.json", bad if where == "run" else good)
    base = _write(tmp_path, "base.json", bad if where == "baseline" else good)
    args = ["gate", str(run), "--slo", f"{P99}<=500", "--baseline", str(base), "--json"]
    assert main(args) == 1
    checks = json.loads(capsys.readouterr().out)["checks"]
    failed = [c for c in checks if not c["passed"]]
    assert [c["kind"] for c in failed] == (
        ["slo", "regression"] if where == "run" else ["regression"]
    )
    assert all(f"{P99} is {reason}" in c["message"] and where in c["message"] for c in failed)


def test_a_misspelt_key_is_bad_input_with_a_suggestion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(_write(tmp_path, "run.json", RUN))
    assert main(["gate", run, "--slo", "requests.jion.latency_ms.p99<=500"]) == 2
    assert main(["gate", run, "--slo", "requests.join.latency.p99<=500"]) == 2
    assert main(["gate", run, "--slo", "scenario<=1"]) == 2  # a string, not a number
    assert main(["gate", run, "--baseline", run, "--compare", "services.api.latncy_ms.p99"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 4 and "Traceback" not in "".join(lines)
    near = "requests.join.latency_ms.p99 or requests.join.latency_ms.p999"
    assert "names no such request type" in lines[0] and f"did you mean {near}" in lines[0]
    assert "names no number a summary.json holds" in lines[2]
    assert "services.api.latency_ms.p99" in lines[3]


def test_data_keyed_names_are_valid_even_when_the_run_lacks_them() -> None:
    assert check_key("requests.leaderboard.latency_ms.p99", [RUN], source="--slo")
    assert check_key("services.cdn.utilization_peak", [RUN], source="--slo")
    assert check_key("slo.0.observed", [RUN], source="--slo")
    with pytest.raises(InputError, match=r"did you mean cost\.per_user_month_usd"):
        check_key("cost.per_user_month", [RUN], source="--slo")


def _judge(now: float, base: float, metric: str = P99) -> bool:
    """Whether `metric` going from `base` to `now` passes, at the default 10 % and floors."""
    run, baseline = copy.deepcopy(RUN), copy.deepcopy(RUN)
    for data, value in ((run, now), (baseline, base)):
        *head, last = metric.split(".")
        node = data
        for part in head:
            node = node.setdefault(part, {})
        node[last] = value
    metrics = compared_metrics([parse_expression(f"{metric}<=1e9")])
    (check,) = regression_checks(run, baseline, metrics, tolerance=0.10)
    return check.passed


def test_a_regression_needs_the_tolerance_and_the_floor() -> None:
    assert _judge(1.135, 0.9998)  # +13.5 % but 0.14 ms: under the 1 ms floor
    assert not _judge(11.35, 9.998)  # +13.5 % and 1.35 ms
    assert _judge(505.0, 490.0)  # +3 %: within the tolerance
    degraded = "experience.video_degraded_fraction"
    assert _judge(0.0012, 0.0010, degraded)  # +20 %, but 0.02 points: under the 0.1 point floor
    assert not _judge(0.0125, 0.0100, degraded)  # +25 % and 0.25 points
    assert _judge(0.0831, 0.0800, "cost.per_user_month_usd")  # +3.9 %
    assert not _judge(0.0900, 0.0800, "cost.per_user_month_usd")  # +12.5 % and 1 cent


def test_with_replications_a_regression_must_leave_the_intervals() -> None:
    mean = "requests.join.latency_ms.mean"
    run, base = copy.deepcopy(RUN), copy.deepcopy(RUN)
    run["requests"]["join"]["latency_ms"].update(mean=60.0, ci95=[50.0, 70.0])
    base["requests"]["join"]["latency_ms"].update(mean=45.0, ci95=[35.0, 55.0])
    (check,) = regression_checks(run, base, {mean: True}, tolerance=0.1)
    assert check.passed and "95 % intervals overlap: within noise" in check.message
    run["requests"]["join"]["latency_ms"]["ci95"] = [56.0, 64.0]
    (check,) = regression_checks(run, base, {mean: True}, tolerance=0.1)
    assert not check.passed and "95 % intervals apart" in check.message
    del base["requests"]["join"]["latency_ms"]["ci95"]  # one run without replications
    (check,) = regression_checks(run, base, {mean: True}, tolerance=0.1)
    assert not check.passed and "intervals" not in check.message


def test_floor_option_sets_the_unit_floor(tmp_path: Path) -> None:
    run = _with_p99(500.0)
    args = ["gate", str(_write(tmp_path, "r.json", run)), "--slo", f"{P99}<=1000", "-q",
            "--baseline", str(_write(tmp_path, "b.json", _with_p99(400.0)))]  # fmt: skip
    assert main(args) == 1  # +25 % and 100 ms
    assert main([*args, "--floor", "150ms"]) == 0
    assert main([*args, "--tolerance", "30%"]) == 0
    assert main([*args, "--floor", "150"]) == 2  # a floor needs its unit


def test_unwritable_junit_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = str(_write(tmp_path, "run.json", RUN))
    assert (
        main(["gate", run, "--slo", f"{P99}<=500", "--junit", str(tmp_path / "no/gate.xml")]) == 2
    )
    assert main(["gate", run, "--slo", f"{P99}<=500", "--junit", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    assert err[0].endswith("cannot write the JUnit file: the folder " + str(tmp_path / "no")
                           + " does not exist")  # fmt: skip


def test_output_modes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = str(_write(tmp_path, "run.json", RUN))
    slos = ["--slo", f"{P99}<=500", "--slo", "services.api.latency_ms.mean<=100",
            "--slo", "services.api.latency_ms.p99<=400"]  # fmt: skip
    assert main(["gate", run, *slos, "-q"]) == 1
    assert capsys.readouterr().out == (  # one line, naming the binding check (issue 17)
        "FAILED: 1 of 3 checks failed, 1 near miss; "
        "binding: services.api.latency_ms.p99 = 480 vs limit 400 (20.0% past it)\n"
    )
    assert main(["gate", run, *slos]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "NEAR" in out and "services.api.latency_ms.mean" not in out
    assert "1 passing not shown" in out
    assert main(["gate", run, *slos, "--verbose"]) == 1
    assert "services.api.latency_ms.mean" in capsys.readouterr().out
