"""`twin gate` on a summary's drift checks: `drift.<type>.ks_p` and the like, and bad keys."""

from __future__ import annotations

import json
from pathlib import Path

from twin.cli.app import main

ENTRY = {"against": "predicted", "n_measured": 400, "n_reference": 1200, "ks_d": 0.08,
         "ks_p": 0.21, "kl": 0.05, "median_measured": 3.1, "median_reference": 3.0,
         "verdict": "agrees"}  # fmt: skip


def _summary(tmp_path: Path, drift: dict | None) -> Path:
    summary = {"scenario": "s", "engine": "drill", "services": {}, "bottlenecks": [],
               "requests": {"recommend": {"count": 400, "errors": 0}}}  # fmt: skip
    if drift is not None:
        summary["drift"] = drift
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary))
    return path


def test_gate_passes_and_fails_on_drift_figures(tmp_path, capsys) -> None:
    drifted = {**ENTRY, "ks_d": 0.9, "ks_p": 0.0, "verdict": "drift"}
    path = _summary(tmp_path, {"recommend": ENTRY, "join": drifted})
    assert main(["gate", str(path), "--slo", "drift.recommend.ks_p>=0.01", "--quiet"]) == 0
    assert main(["gate", str(path), "--slo", "drift.join.ks_p>=0.01", "--quiet"]) == 1
    assert main(["gate", str(path), "--slo", "drift.join.ks_d<=0.5", "--quiet"]) == 1
    capsys.readouterr()


def test_a_type_not_driven_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    path = _summary(tmp_path, {"recommend": ENTRY})
    assert main(["gate", str(path), "--slo", "drift.feedback.ks_p>=0.01"]) == 2
    err = capsys.readouterr().err
    assert "did not drive 'feedback'" in err and "recommend" in err
    assert len(err.strip().splitlines()) == 1


def test_a_summary_without_drift_checks_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    path = _summary(tmp_path, None)
    assert main(["gate", str(path), "--slo", "drift.recommend.ks_p>=0.01"]) == 2
    err = capsys.readouterr().err
    assert "no drift checks" in err and len(err.strip().splitlines()) == 1
