"""`twin calibrate FIT... --validate CHECK...`: out-of-sample errors, and its bad input.

The error table's arithmetic and its "counts" mark on stored drills' summaries; the overlap
and not-a-drill refusals through the CLI (one line, exit 2, nothing written). The real
out-of-sample runs (fit on some drills, predict others) are slow: `test_drill_nginx.py` and
`test_calibrate_out_of_sample` below, behind `-m slow`.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.cli.calibrate import spread_validate
from twin.drill.out_of_sample import check_disjoint, error_rows, totals
from twin.drill.repeats import repeat_agreement
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "scenarios/calibration"
VALIDATION = ROOT / "scenarios/validation"


def _summary(path: Path) -> dict:
    return json.loads((path / "summary.json").read_text())


def test_error_rows_compare_each_type_and_percentile_and_mark_what_counts():
    measured = _summary(VALIDATION / "daily-peak-2e-3")
    predicted = {"requests": {
        t: {"latency_ms": {q: b["latency_ms"][q] * 1.2 for q in ("p50", "p95")}}
        for t, b in measured["requests"].items()
    }}  # fmt: skip
    rows = error_rows("d", measured, predicted)
    assert {(r["request"], r["q"]) for r in rows} >= {("join", "p50"), ("segment", "p95")}
    for r in rows:
        assert r["error"] == pytest.approx(0.2, abs=1e-3)
        block = measured["requests"][r["request"]]
        assert r["count"] == block["count"]
        if block["count"] < 20:
            assert not r["counts"]
    # a p95 whose 95 % interval is wider than 25 % does not count
    wide = [r for r in rows if r["q"] == "p95" and r["count"] >= 20 and not r["counts"]]
    for r in wide:
        lo, hi = measured["requests"][r["request"]]["latency_ci95_ms"]["p95"]
        value = measured["requests"][r["request"]]["latency_ms"]["p95"]
        assert max(value - lo, hi - value) > 0.25 * value
    t = totals(rows)
    assert t["counted"] == sum(r["counts"] for r in rows) > 0
    assert t["mean_abs_error"] == pytest.approx(0.2, abs=1e-3)
    assert t["within_target"] == t["counted"]


def test_overlapping_sets_are_refused():
    a, b = CALIBRATION / "daily-peak-3e-4", CALIBRATION / "daily-peak-1e-3"
    check_disjoint([a], [b])
    with pytest.raises(InputError, match="also a drill to fit"):
        check_disjoint([a, b], [Path(str(b) + "/")])
    with pytest.raises(InputError, match="named twice"):
        check_disjoint([a], [b, b])


def test_validate_takes_every_folder_up_to_the_next_option():
    argv = ["calibrate", "f1", "f2", "--validate", "v1", "v2", "-o", "x.yaml", "--json"]
    assert spread_validate(argv) == ["calibrate", "f1", "f2", "--validate", "v1",
                                     "--validate", "v2", "-o", "x.yaml", "--json"]  # fmt: skip
    assert spread_validate(["drill", "--validate", "a", "b"]) == ["drill", "--validate", "a", "b"]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_a_drill_in_both_sets_is_one_line_and_exit_2(tmp_path, capsys):
    drill = str(CALIBRATION / "daily-peak-3e-4")
    out = tmp_path / "x.yaml"
    code, err = _run(["calibrate", drill, "--validate", drill, "-o", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("twin: --validate: ") and "daily-peak-3e-4" in err
    assert not out.exists()


def test_a_validation_folder_that_is_not_a_drill_is_one_line_and_exit_2(tmp_path, capsys):
    drill = str(CALIBRATION / "daily-peak-3e-4")
    (tmp_path / "empty").mkdir()
    out = tmp_path / "x.yaml"
    code, err = _run(["calibrate", drill, "--validate", str(tmp_path / "empty"), "-o",
                      str(out)], capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "empty" in err and "summary.json" in err
    assert not out.exists()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.json").write_text(json.dumps({"engine": "exact"}))
    code, err = _run(["calibrate", drill, "--validate", str(tmp_path / "run"), "-o",
                      str(out)], capsys)  # fmt: skip
    assert code == 2 and err.count("\n") == 1 and "not a drill" in err
    assert not out.exists()


def test_identical_checks_are_scored_against_each_other_beside_the_model(tmp_path):
    """Two of the stored repeats among the checks: the output says how well one predicts the
    other and how well the model predicts the same figures (`twin.drill.repeats`)."""
    fit = ROOT / "scenarios/calibration/music-partner-launch-fixed-3e-4"
    checks = [ROOT / f"scenarios/validation-repeat/daily-peak-2e-3-r{i}" for i in (1, 2)]
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["calibrate", str(fit), "--validate", *map(str, checks),
                     "-o", str(tmp_path / "ref.yaml")])  # fmt: skip
    assert code == 0
    (line,) = [x for x in printed.getvalue().splitlines() if x.startswith("identical drills")]
    assert "(1 group: same scenario, seed and drill settings)" in line
    found = re.search(r"its repeats: (\d+) of (\d+) within 25%, mean [\d.]+%; "
                      r"the model on the same figures: (\d+) of (\d+) within 25%", line)
    assert found, line
    agree, compared, model_ok, model_compared = map(int, found.groups())
    assert compared == model_compared  # two drills: each figure once, as the model's
    # the model predicts no `resume`: the repeats are compared on fewer figures than they share
    every = repeat_agreement([(str(c), _summary(c)) for c in checks])["repeats"]
    assert 0 < compared < every["counted"] and agree <= compared and model_ok <= compared


@pytest.mark.slow
@pytest.mark.timeout(1200)  # six drills, the share/cv grid and the wake-up grid: 7 min quiet
def test_calibrate_out_of_sample(tmp_path, monkeypatch):
    """Fit on the four stored calibration drills, predict the two stored validation drills
    (about twice their load): every figure is reported, in and out of sample, and the
    out-of-sample figures that count are within 50 % (the README gives the measured table)."""
    monkeypatch.chdir(ROOT)
    out = tmp_path / "ref.yaml"
    printed = io.StringIO()
    with redirect_stdout(printed):
        fit, check = sorted(CALIBRATION.iterdir()), sorted(VALIDATION.iterdir())
        code = main(["calibrate", *map(str, fit), "--validate", *map(str, check), "-o",
                     str(out), "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(printed.getvalue())
    oos = result["out_of_sample"]
    assert {Path(r["drill"]).name for r in oos["rows"]} == {p.name for p in VALIDATION.iterdir()}
    assert oos["counted"] >= 4
    assert all(abs(r["error"]) < 0.5 for r in oos["rows"] if r["counts"]), oos["rows"]
    assert result["in_sample"]["counted"] >= 8
