"""The speed index that sees CPU starvation: the reader of `/proc` (against a fake tree and
this process's own), the stall factor against hand-computed figures, and how the two factors
of `speed_index` combine."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from twin.config.architecture import LoadCpu
from twin.drill.predict import speed_index, speed_parts
from twin.drill.schedstat import cpu_pressure_s, run_delay_s
from twin.drill.starvation import pooled_wait_ratio, stall_factor, wait_ratio


def _task(proc: Path, pid: int, tid: int, line: str) -> None:
    folder = proc / str(pid) / "task" / str(tid)
    folder.mkdir(parents=True)
    (folder / "schedstat").write_text(line)


def test_run_delay_sums_the_second_field_over_the_tasks(tmp_path):
    _task(tmp_path, 42, 42, "9000000000 1500000000 300\n")
    _task(tmp_path, 42, 43, "100 250000000 7\n")
    assert run_delay_s(42, tmp_path) == pytest.approx(1.75)


def test_run_delay_falls_back_to_the_process_line_then_to_none(tmp_path):
    (tmp_path / "7").mkdir()
    (tmp_path / "7" / "schedstat").write_text("1 2000000000 3\n")
    assert run_delay_s(7, tmp_path) == pytest.approx(2.0)
    assert run_delay_s(8, tmp_path) is None  # no such process
    (tmp_path / "9").mkdir()
    (tmp_path / "9" / "schedstat").write_text("garbage\n")
    assert run_delay_s(9, tmp_path) is None


def test_cpu_pressure_reads_psi_some_total_in_seconds(tmp_path):
    assert cpu_pressure_s(tmp_path) is None  # no PSI
    (tmp_path / "pressure").mkdir()
    (tmp_path / "pressure" / "cpu").write_text(
        "some avg10=55.36 avg60=35.87 avg300=11.03 total=13509139296\n"
        "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
    )
    assert cpu_pressure_s(tmp_path) == pytest.approx(13509.139296)
    (tmp_path / "pressure" / "cpu").write_text("full avg10=0.00 total=5\n")
    assert cpu_pressure_s(tmp_path) is None


@pytest.mark.skipif(not Path(f"/proc/{os.getpid()}/schedstat").exists(), reason="no schedstat")
def test_this_process_wait_is_read_and_never_decreases():
    before = run_delay_s(os.getpid())
    deadline = time.process_time() + 0.05
    while time.process_time() < deadline:  # run a little so the scheduler counts something
        pass
    after = run_delay_s(os.getpid())
    assert before is not None and after is not None and after >= before >= 0.0


def test_wait_ratio_pools_the_processes_measured():
    # load: 2 s waited over 10 s of CPU; target: 3 s over 5 s -> (2 + 3) / (10 + 5)
    drill = {"load_wait_s": 2.0, "load_cpu_s": 10.0, "target_wait_s": 3.0, "target_cpu_s": 5.0}
    assert wait_ratio(drill) == pytest.approx(1 / 3)
    # the target's pair incomplete (a --host): the load generator's alone
    assert wait_ratio({**drill, "target_wait_s": None}) == pytest.approx(0.2)
    assert wait_ratio({"load_cpu_s": 10.0}) is None  # not measured
    assert wait_ratio({"load_wait_s": 1.0, "load_cpu_s": 0.0}) is None


def test_pooled_wait_ratio_weighs_drills_by_their_cpu():
    quiet = {"load_wait_s": 0.5, "load_cpu_s": 10.0}
    busy = {"load_wait_s": 6.0, "load_cpu_s": 20.0}
    assert pooled_wait_ratio([quiet, busy]) == pytest.approx(6.5 / 30.0)
    assert pooled_wait_ratio([quiet, {"load_cpu_s": 3.0}]) is None
    assert pooled_wait_ratio([]) is None


def test_stall_factor_against_hand_computed_figures():
    # r = 0.6 on the drill, r_cal = 0.05 in calibration: 1.6 / 1.05
    assert stall_factor(0.6, 0.05) == pytest.approx(1.5238095)
    assert stall_factor(0.05, 0.05) == 1.0
    assert stall_factor(0.0, 0.25) == pytest.approx(0.8)  # quieter than calibration
    assert stall_factor(None, 0.1) is None and stall_factor(0.1, None) is None


def _measured(cpu_s: float, wait_s: float | None) -> dict:
    return {"drill": {"load_cpu_s": cpu_s, "load_wait_s": wait_s, "requests_total": 1000,
                      "duration_s": 60},
            "requests": {"segment": {"bytes": 0}}}  # fmt: skip


def test_speed_index_is_the_cpu_index_times_the_stall_factor():
    # expected CPU: 1 ms x 1000 requests + 10 ms x 60 s = 1.6 s
    ref = LoadCpu(per_request_s=0.001, per_s=0.01, wait_per_cpu=0.1)
    # a starved drill: 1.2 s of CPU (0.75 of the calibration's: reads "faster") but 1.2 s
    # waited (r = 1): 0.75 x 2 / 1.1
    parts = speed_parts(_measured(1.2, 1.2), ref)
    assert parts["cpu_index"] == pytest.approx(0.75)
    assert parts["stall_factor"] == pytest.approx(2.0 / 1.1)
    assert speed_index(_measured(1.2, 1.2), ref) == pytest.approx(0.75 * 2.0 / 1.1)
    # no wait measured, or a file calibrated without it: the CPU index alone, as before
    assert speed_index(_measured(1.2, None), ref) == pytest.approx(0.75)
    no_wait = LoadCpu(per_request_s=0.001, per_s=0.01)
    assert speed_index(_measured(1.2, 1.2), no_wait) == pytest.approx(0.75)
    assert speed_index(_measured(1.2, 1.2), None) is None


def test_each_load_process_adds_its_own_background_work_to_the_cpu_index():
    # two Locust processes: 1 ms x 1000 requests + 2 x 10 ms x 60 s = 2.2 s expected
    ref = LoadCpu(per_request_s=0.001, per_s=0.01)
    two = _measured(2.2, None)
    two["drill"]["load_processes"] = 2
    assert speed_parts(two, ref)["cpu_index"] == pytest.approx(1.0)
    assert speed_parts(_measured(2.2, None), ref)["cpu_index"] == pytest.approx(2.2 / 1.6)
