"""`twin calibrate` on a stored drill (`scenarios/calibration/`): a real fit, file and table.

One drill (~800 requests of the music partner launch at 3e-4): the loops keep the file's costs
and cv (one drill cannot split CPU into per request and per MB, nor tell the cv from one load
level), and every other service the drill crossed is fitted. Started from the shipped file with
every delay three times too long (the shipped file was itself fitted on this drill among
others), the fit must bring the exact engine's prediction closer to what the drill measured,
and write a file the twin loads.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from twin.cli.app import main
from twin.config.architecture import load_architecture
from twin.drill.calibration import _length

ROOT = Path(__file__).resolve().parents[2]
DRILL = ROOT / "scenarios/calibration/music-partner-launch-fixed-3e-4"


LOOPS = ("client", "api", "transfer")
# measured, not fitted: from the drill's request log and metrics, else the file's
MEASURED = ("timer", "scoring", "wakeup")


def _delays_times(text: str, k: float, only: frozenset[str] | None = None) -> str:
    """The architecture text with every fitted delay's mean `k` times longer (loops and
    measured delays kept), or only those named in `only`."""
    out, current = [], None
    for line in text.splitlines():
        comp = re.match(r"^  ([a-z_]+):\s*$", line)
        current = comp.group(1) if comp else (None if re.match(r"^\S", line) else current)
        m = re.match(r"^(\s+service: \{dist: lognormal, mean_s: )([0-9.e-]+)(.*)$", line)
        if m and current not in LOOPS + MEASURED and (only is None or current in only):
            line = f"{m.group(1)}{float(m.group(2)) * k:.6g}{m.group(3)}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_calibrate_one_stored_drill(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the stored summary names its scenario relative to the repo
    out = tmp_path / "ref.yaml"
    shipped_text = (ROOT / "scenarios/architectures/reference-platform.yaml").read_text()
    wrong = tmp_path / "reference-platform.yaml"
    wrong.write_text(_delays_times(shipped_text, 3.0), encoding="utf-8")
    printed = io.StringIO()
    with redirect_stdout(printed):
        code = main(["calibrate", str(DRILL), "--architecture", str(wrong), "-o", str(out),
                     "--json"])  # fmt: skip
    assert code == 0
    result = json.loads(printed.getvalue())
    assert result["loop_cv"] is None  # one drill: the loops' cv stays the file's
    assert sorted(result["drills"][0]["errors_after"]) == sorted(
        t for t, b in json.loads((DRILL / "summary.json").read_text())["requests"].items()
        if b["count"] >= 20 and t != "master"
    )  # fmt: skip
    assert result["mean_abs_error_after"] < result["mean_abs_error_before"]
    assert result["mean_abs_error_after"] < 0.35
    arch = load_architecture(out)
    shipped = load_architecture(ROOT / "scenarios/architectures/reference-platform.yaml")
    for loop in LOOPS:
        assert arch.components[loop].station == shipped.components[loop].station, loop
    assert arch.components["origin"].station != shipped.components["origin"].station
    assert _delays_times(shipped_text, 3.0) != shipped_text  # the start really was off
    first, second = out.read_text().splitlines()[:2]
    assert first == "# yaml-language-server: $schema=../schema/architecture.schema.json"
    assert second.startswith("# CALIBRATED by `twin calibrate`")
    assert "speedup 60.0x, 60 s, " in out.read_text()  # the header names the drill's length
    # a fitted delay's search starts from a fixed value, not the file's: from a file whose
    # fitted delays are all ten times shorter, the fit ends where it did
    fitted = frozenset(result["fits"]) - set(LOOPS)
    other = tmp_path / "other" / "reference-platform.yaml"
    other.parent.mkdir()
    other.write_text(_delays_times(wrong.read_text(), 0.1, only=fitted), encoding="utf-8")
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["calibrate", str(DRILL), "--architecture", str(other),
                     "-o", str(tmp_path / "again.yaml"), "--json"]) == 0  # fmt: skip
    refit = json.loads(printed.getvalue())
    assert refit["fits"] == result["fits"] and refit["in_sample"] == result["in_sample"]
    assert refit["mean_abs_error_before"] != result["mean_abs_error_before"]


def test_the_header_counts_a_pooled_drill_run_by_run():
    pooled = {"replications": 3, "drill": {"duration_s": 60}}
    assert _length(pooled) == "3 x 60 s" and _length({"drill": {"duration_s": 60}}) == "60 s"


def test_calibrate_a_folder_without_a_summary_is_one_line(tmp_path, capsys):
    code = main(["calibrate", str(tmp_path), "-o", str(tmp_path / "x.yaml")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "summary.json" in err
    assert not (tmp_path / "x.yaml").exists()


def test_calibrate_measures_the_timer_the_wake_up_and_the_scoring_it_can(tmp_path, monkeypatch):
    """A drill with its request log and the target's metrics: the timer, the wake-up (its
    offset and its rise with the server's idle gap) and the scoring are measured from them
    (the header says so), not fitted; the file's stand without them."""
    from twin.drill.lateness import timer_fit
    from twin.drill.scoring import scoring_fit
    from twin.drill.wake import wake_fit

    monkeypatch.chdir(ROOT)
    night = ROOT / "scenarios/calibration-night/daily-peak-3e-4"
    out = tmp_path / "night.yaml"
    shipped_file = str(ROOT / "scenarios/architectures/reference-platform.yaml")
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["calibrate", str(night), "--architecture", shipped_file, "-o", str(out),
                     "--json"]) == 0  # fmt: skip
    result = json.loads(printed.getvalue())
    timer, rows = timer_fit([night])
    scoring, misses = scoring_fit([night])
    woke = wake_fit([night])
    assert result["measured_delays"] == {
        "timer": {"mean_s": timer.mean_s, "cv": timer.cv, "samples": rows},
        "scoring": {"mean_s": scoring.mean_s, "cv": scoring.cv, "samples": misses},
        "wakeup": {"mean_s": woke.offset.mean_s, "cv": woke.offset.cv, "samples": woke.rows},
    }
    assert result["wake"] == [woke.penalty_s, woke.tau_s] and result["wake_how"] == "measured"
    arch = load_architecture(out)
    assert arch.components["timer"].station.service.mean_s == timer.mean_s
    assert arch.components["scoring"].station.service.mean_s == scoring.mean_s
    assert arch.components["wakeup"].station.service.mean_s == woke.offset.mean_s
    assert arch.components["api"].station.wake.penalty_s == woke.penalty_s
    assert "The api loop's wake-up from idle measured" in out.read_text()
    header = "`timer` measured (the periodic requests' lateness in the drills' request logs"
    assert f"{header}, {rows} of them)" in out.read_text()
    # the stored drill of the first test has neither: the file's timer stands
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["calibrate", str(DRILL), "--architecture", shipped_file,
                     "-o", str(tmp_path / "old.yaml"), "--json"]) == 0  # fmt: skip
    old_result = json.loads(printed.getvalue())
    assert not {"timer", "wakeup"} & set(old_result["measured_delays"])
    assert old_result["wake_how"] == "file"
    shipped = load_architecture(ROOT / "scenarios/architectures/reference-platform.yaml")
    old = load_architecture(tmp_path / "old.yaml")
    assert old.components["timer"].station == shipped.components["timer"].station
    assert old.components["wakeup"].station == shipped.components["wakeup"].station
    assert old.components["api"].station.wake == shipped.components["api"].station.wake


def test_calibrate_measures_the_sqlite_thread_when_the_target_exports_it(tmp_path, monkeypatch):
    """A drill of a `twin serve` that times its SQLite calls (`twin_sqlite_call_seconds`):
    the `sqlite` station is measured, not fitted; the night drill above, whose server did
    not export it, has it fitted (it is not among the measured there)."""
    from twin.drill.writer import sqlite_fit

    monkeypatch.chdir(ROOT)
    morning = ROOT / "scenarios/calibration-morning/daily-peak-3e-4"
    out = tmp_path / "morning.yaml"
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["calibrate", str(morning), "-o", str(out), "--json"]) == 0
    result = json.loads(printed.getvalue())
    writer, calls = sqlite_fit([morning])
    assert result["measured_delays"]["sqlite"] == {
        "mean_s": writer.mean_s, "cv": writer.cv, "samples": calls
    }
    assert load_architecture(out).components["sqlite"].station.service.mean_s == writer.mean_s
    assert "`sqlite` measured (`twin_sqlite_call_seconds` in the target's metrics" in (
        out.read_text()
    )


def test_a_broken_request_log_or_metrics_is_one_line_and_nothing_is_written(tmp_path, capsys):
    """The calibration drill's `requests.csv` or `metrics.txt` that is not what the drill
    writes: one line naming the file, exit 2, and the file already at `-o` is untouched."""
    import shutil

    night = ROOT / "scenarios/calibration-night/daily-peak-3e-4"
    out = tmp_path / "kept.yaml"
    out.write_text("# a file already there\n", encoding="utf-8")
    for name, text in (("requests.csv", "sent_s,type,latency_ms,service_ms\n1,telemetry,x,1\n"),
                       ("metrics.txt", "<html>a login page</html>\n")):  # fmt: skip
        drill = tmp_path / name / "drill"
        shutil.copytree(night, drill)
        (drill / name).write_text(text, encoding="utf-8")
        code = main(["calibrate", str(drill), "-o", str(out)])
        err = capsys.readouterr().err
        assert code == 2, name
        assert err.count("\n") == 1 and name in err and "Traceback" not in err, err
        assert out.read_text(encoding="utf-8") == "# a file already there\n"


def test_a_stored_drill_reads_this_checkouts_builtin_scenario(tmp_path):
    """A drill stored by another checkout recorded that checkout's built-in scenario as an
    absolute path; while that checkout is still there, the drill is read with this one's."""
    from twin.config.builtin import builtin_folder
    from twin.drill.calibration import _scenario_file

    other = tmp_path / "elsewhere" / "twin" / "scenarios" / "daily-peak.yaml"
    other.parent.mkdir(parents=True)
    other.write_text((builtin_folder() / "daily-peak.yaml").read_text(), encoding="utf-8")
    assert _scenario_file(str(other), "daily-peak") == builtin_folder() / "daily-peak.yaml"
    # gone: the built-in of that name; a scenario of the user's own: that file
    assert _scenario_file(str(tmp_path / "gone" / "twin" / "scenarios" / "daily-peak.yaml"),
                          "daily-peak") == builtin_folder() / "daily-peak.yaml"  # fmt: skip
    mine = tmp_path / "mine.yaml"
    mine.write_text(other.read_text(), encoding="utf-8")
    assert _scenario_file(str(mine), "daily-peak") == mine


def test_what_the_model_adds_is_taken_at_the_fits_reference_speed():
    """A drill on a machine twice as fast (speed 0.5) predicts a type at 1 ms whose services
    sum to 1.5 ms at the reference speed: at the reference that prediction is 2 ms, so the
    model added 0.5 ms (waits, wake-ups); read at the drill's speed it would seem to add none."""
    from twin.drill.calibration import _queueing

    predicted = {"requests": {"join": {"latency_ms": {"p50": 1.0, "p95": 3.0}}}}
    bare = {"join": (0.0015, 0.004)}
    assert _queueing(predicted, bare, 0.5)["join"] == pytest.approx((0.0005, 0.002))
    assert _queueing(predicted, bare)["join"] == (0.0, 0.0)
