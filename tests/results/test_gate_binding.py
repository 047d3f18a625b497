"""The gate names the SLO that binds: the check with the least margin, observed against limit,
on the console, in `-q`'s verdict line, in `--json` and in the JUnit file's properties."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from twin.cli.app import main
from twin.results.gate import binding, binding_line, regression_checks, slo_checks
from twin.results.slo import Slo

RUN: dict[str, Any] = {
    "scenario": "s",
    "services": {"api": {"latency_ms": {"p99": 80.0}}},
    "requests": {"join": {"count": 1000, "latency_ms": {"p99": 300.0}}},
    "experience": {"video_degraded_fraction": 0.004},
}
SLOS = [
    Slo("join p99", "requests.join.latency_ms.p99", "<=", 500.0),  # 40 % margin
    Slo("api p99", "services.api.latency_ms.p99", "<=", 100.0),  # 20 % margin
    Slo("video", "experience.video_degraded_fraction", "<=", 0.01),  # 60 % margin
]


def test_the_binding_check_is_the_one_with_the_least_margin() -> None:
    checks = slo_checks(RUN, SLOS)
    assert [c.margin for c in checks] == pytest.approx([0.4, 0.2, 0.6])
    bound = binding(checks)
    assert bound is not None and bound.name == "api p99"
    assert binding_line(bound) == (
        "binding: api p99: services.api.latency_ms.p99 = 80 vs limit 100 (20.0% margin)"
    )


def test_a_failed_check_binds_before_a_passing_one_and_the_most_failed_first() -> None:
    slos = [*SLOS, Slo("join p99 tight", "requests.join.latency_ms.p99", "<=", 250.0)]
    slos.append(Slo("api tight", "services.api.latency_ms.p99", "<=", 50.0))
    bound = binding(slo_checks(RUN, slos))
    assert bound is not None and bound.name == "api tight"  # 60 % past it, join 20 % past
    assert bound.margin == pytest.approx(-0.6)
    assert binding_line(bound).endswith("(60.0% past it)")


def test_a_lower_bound_counts_its_margin_upwards() -> None:
    (check,) = slo_checks(RUN, [Slo("joins", "requests.join.count", ">=", 800.0)])
    assert check.margin == pytest.approx(0.25)


def test_a_value_that_is_not_a_number_binds_first() -> None:
    run = json.loads(json.dumps(RUN))
    run["requests"]["join"]["latency_ms"]["p99"] = math.nan
    bound = binding(slo_checks(run, SLOS))
    assert bound is not None and bound.name == "join p99" and bound.margin is None
    assert "NaN" in binding_line(bound)


def test_without_slos_the_regressions_bind() -> None:
    base = json.loads(json.dumps(RUN))
    base["services"]["api"]["latency_ms"]["p99"] = 78.0
    metrics = {"services.api.latency_ms.p99": True, "requests.join.latency_ms.p99": True}
    bound = binding(regression_checks(RUN, base, metrics, tolerance=0.10))
    # api: allowed 7.8 ms, worsened 2 ms -> (7.8 - 2) / 78; join: 30 of 300 -> 0.1
    assert bound is not None and bound.name == "no regression: services.api.latency_ms.p99"
    assert bound.margin == pytest.approx(5.8 / 78)


def _gate(tmp_path: Path, *extra: str) -> list[str]:
    run = tmp_path / "summary.json"
    run.write_text(json.dumps(RUN))
    slos = [f"{s.metric}{s.op}{s.target:g}" for s in SLOS]
    return ["gate", str(run), *(a for s in slos for a in ("--slo", s)), *extra]


def test_the_cli_prints_and_writes_the_binding_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    junit = tmp_path / "gate.xml"
    assert main(_gate(tmp_path, "--junit", str(junit))) == 0
    line = "binding: services.api.latency_ms.p99 = 80 vs limit 100 (20.0% margin)"
    assert line in capsys.readouterr().out.splitlines()
    prop = ET.parse(junit).getroot().find("testsuite/properties/property[@name='binding']")
    assert prop is not None and prop.get("value") == line

    assert main(_gate(tmp_path, "-q")) == 0
    assert capsys.readouterr().out == f"PASSED: 3 of 3 checks passed; {line}\n"

    assert main(_gate(tmp_path, "--json")) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["binding"]["line"] == line
    assert document["binding"]["observed"] == 80.0 and document["binding"]["limit"] == 100.0
