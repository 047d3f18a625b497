"""SLO expressions, regression checks, JUnit XML and `twin gate`'s exit codes."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.errors import InputError
from twin.results.gate import compared_metrics, junit_xml, regression_checks, slo_checks
from twin.results.slo import lookup, parse_expression

SUMMARY = {
    "scenario": "s",
    "engine": "exact",
    "services": {
        "api": {
            "utilization_peak": 0.7,
            "latency_ms": {"mean": 120.0, "p50": 90.0, "p95": 300.0, "p99": 480.0, "p999": 900.0},
        }
    },
    "requests": {
        "join": {
            "count": 1000,
            "errors": 2,
            "latency_ms": {"mean": 130.0, "p50": 95.0, "p95": 310.0, "p99": 490.0, "p999": 950.0},
        }
    },
    "cost": {"per_user_month_usd": 0.08},
    "slo": [
        {"name": "join p99", "metric": "requests.join.latency_ms.p99", "op": "<=", "target": 500}
    ],
}


def test_expressions_are_read_and_judged() -> None:
    slo = parse_expression("requests.join.latency_ms.p99<=500")
    assert (slo.metric, slo.op, slo.target) == ("requests.join.latency_ms.p99", "<=", 500.0)
    assert [c.passed for c in slo_checks(SUMMARY, [slo])] == [True]
    tight = parse_expression("requests.join.latency_ms.p99 < 480")
    assert [c.passed for c in slo_checks(SUMMARY, [tight])] == [False]
    assert lookup(SUMMARY, "services.api.utilization_peak") == 0.7
    assert lookup(SUMMARY, "services.nope.utilization_peak") is None


@pytest.mark.parametrize("bad", ["p99 500", "x<=fast", "<=3", "a.b=>3"])
def test_bad_expressions_are_refused(bad: str) -> None:
    with pytest.raises(InputError, match=r"expected dotted\.key"):
        parse_expression(bad)


def test_a_metric_missing_from_the_summary_fails_the_slo() -> None:
    (check,) = slo_checks(SUMMARY, [parse_expression("requests.leaderboard.latency_ms.p99<=5")])
    assert not check.passed and "missing" in check.message


def test_regressions_beyond_the_tolerance_fail() -> None:
    # Changed by issue 17: the keys compared are given (SLO'd ones and --compare), not all.
    metrics = compared_metrics(
        [parse_expression("requests.join.latency_ms.p99<=500")],
        ["cost.per_user_month_usd", "requests.join.error_ratio"],
    )
    worse = copy.deepcopy(SUMMARY)
    worse["requests"]["join"]["latency_ms"]["p99"] = 490.0 * 1.15
    worse["cost"]["per_user_month_usd"] = 0.085
    failed = {
        c.name for c in regression_checks(worse, SUMMARY, metrics, tolerance=0.10) if not c.passed
    }
    assert failed == {"no regression: requests.join.latency_ms.p99"}
    assert all(c.passed for c in regression_checks(SUMMARY, SUMMARY, metrics, tolerance=0.0))
    errors = copy.deepcopy(SUMMARY)
    errors["requests"]["join"]["errors"] = 50
    assert any(
        not c.passed and "error_ratio" in c.name
        for c in regression_checks(errors, SUMMARY, metrics, tolerance=0.1)
    )


def test_junit_xml_counts_failures() -> None:
    checks = slo_checks(
        SUMMARY,
        [
            parse_expression("services.api.utilization_peak<=0.5"),
            parse_expression("services.api.utilization_peak<=0.9"),
        ],
    )
    root = ET.fromstring(junit_xml(checks))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    assert len(root.findall(".//failure")) == 1


def _write(tmp_path: Path, data: dict, name: str = "summary.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_gate_exit_codes_and_junit_file(tmp_path: Path) -> None:
    run = _write(tmp_path, SUMMARY)
    assert main(["gate", str(tmp_path), "-q"]) == 0  # the scenario's own slo block holds
    assert main(["gate", str(run), "--slo", "requests.join.latency_ms.p95<=200", "-q"]) == 1
    junit = tmp_path / "gate.xml"
    worse = copy.deepcopy(SUMMARY)
    worse["services"]["api"]["latency_ms"]["p999"] = 2000.0
    code = main(
        [
            "gate",
            str(_write(tmp_path, worse, "new.json")),
            "--baseline",
            str(run),
            "--tolerance",
            "10%",
            "--compare",  # issue 17: only SLO'd keys and --compare keys are compared
            "services.api.latency_ms.p999",
            "--junit",
            str(junit),
            "-q",
        ]
    )
    assert code == 1
    assert ET.parse(junit).getroot().find("testsuite").get("failures") == "1"  # type: ignore[union-attr]


def test_gate_bad_input_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", str(tmp_path / "missing.json"), "--slo", "a<=1"]) == 2
    assert main(["gate", str(_write(tmp_path, {"no": "services"})), "--slo", "a<=1"]) == 2
    assert main(["gate", str(_write(tmp_path, SUMMARY)), "--slo", "nonsense"]) == 2
    no_slo = {k: v for k, v in SUMMARY.items() if k != "slo"}
    assert main(["gate", str(_write(tmp_path, no_slo, "b.json"))]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("twin: ") == 4
