"""Drift checks of a real drill: a target slowed on one route drifts on that type alone.

One `twin serve` (started here, admin API on) is drilled twice, 20 s each: as it is, then
with 50 ms added to the `recommend` route by its fault-injection API and the first drill as
`--drift-baseline`. About two minutes on a busy 2-core machine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.drill.target import LocalPlatform, Target
from twin.serve.tokens import sign

ROOT = Path(__file__).resolve().parents[2]
SLOWED = "recommend"


def _drill(url: str, out: Path, *extra: str) -> dict:
    code = main(["drill", str(ROOT / "scenarios/daily-peak.yaml"), "--host", url,
                 "--architecture", "reference-platform", "--scale", "3e-4", "--speedup", "180",
                 "--out", str(out), "--quiet", *extra])  # fmt: skip
    assert code == 0
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def drills(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("drift")
    local = LocalPlatform(root / "serve", riders=40)
    url = local.start()
    mp = pytest.MonkeyPatch()
    mp.setenv("TWIN_SECRET", local.secret)
    try:
        base = _drill(url, root / "base")
        admin = sign("admin", "drift-test", local.secret, 3600.0)
        Target(url).set_faults(admin, {"routes": {SLOWED: {"latency_s": 0.05}}})
        slowed = _drill(url, root / "slowed", "--drift-baseline", str(root / "base"))
    finally:
        mp.undo()
        local.stop()
    return {"root": root, "base": base, "slowed": slowed}


def test_the_slowed_type_drifts_and_no_other(drills):
    drift = drills["slowed"]["drift"]
    assert all(entry["against"] == "baseline" for entry in drift.values())
    hit = drift[SLOWED]
    assert hit["verdict"] == "drift"
    assert hit["ks_d"] >= 0.9 and hit["ks_p"] < 1e-6
    assert hit["median_measured"] - hit["median_reference"] >= 40.0  # the 50 ms added
    others = {name: e["verdict"] for name, e in drift.items() if name != SLOWED}
    assert others and all(v in ("agrees", "too few") for v in others.values()), others
    assert sum(v == "agrees" for v in others.values()) >= 4


def test_without_a_baseline_the_prediction_is_the_reference(drills):
    drift = drills["base"]["drift"]
    assert {"recommend", "join", "segment", "telemetry"} <= set(drift)
    for entry in drift.values():
        assert entry["against"] == "predicted"
        assert entry["n_reference"] > 0 and 0.0 <= entry["ks_d"] <= 1.0


def test_the_report_shows_the_drift_table(drills):
    page = (drills["root"] / "slowed" / "report.html").read_text()
    assert 'id="drift"' in page and "Drift: measured distributions" in page
    assert 'class="fail">drift<' in page  # the slowed type's verdict


def test_gate_on_drift(drills, capsys):
    out = str(drills["root"] / "slowed")
    assert main(["gate", out, "--slo", f"drift.{SLOWED}.ks_p>=0.01", "--quiet"]) == 1
    capsys.readouterr()
    assert main(["gate", out, "--slo", "drift.tempo.ks_p>=0.01"]) == 2
    err = capsys.readouterr().err
    assert "did not drive 'tempo'" in err and len(err.strip().splitlines()) == 1
