"""A drill report shades the faults the target took (`drill.faults_applied`), not the
scenario's declared incidents: the IoT overload declares none, yet pauses a consumer."""

from __future__ import annotations

from twin.drill.incidents import replayed_marks


def test_a_paused_consumer_is_shaded_from_when_the_target_took_it_until_cleared():
    applied = [
        {"t_s": 24.0, "at": 24.013, "paused_consumers": 1, "origin_down": False,
         "origin_egress_bps": None},
        {"t_s": 86.0, "at": 86.02, "paused_consumers": 0, "origin_down": False,
         "origin_egress_bps": None},
    ]  # fmt: skip
    assert replayed_marks(applied, 120) == [
        {"name": "stream consumers paused: 1 (replayed)", "start_s": 24.013, "end_s": 86.02}
    ]


def test_the_iot_drills_replay_two_stretches_the_second_with_two_paused_at_most():
    applied = [{"t_s": t, "at": t + 0.003, "paused_consumers": n, "origin_down": False,
                "origin_egress_bps": None}
               for t, n in ((24.0, 1), (27.0, 0), (29.0, 1), (46.0, 2), (49.0, 1), (86.0, 0))]
    assert [(m["name"], m["start_s"], m["end_s"]) for m in replayed_marks(applied, 120)] == [
        ("stream consumers paused: 1 (replayed)", 24.003, 27.003),
        ("stream consumers paused: up to 2 (replayed)", 29.003, 86.003),
    ]  # fmt: skip


def test_each_kind_has_its_own_window_and_one_in_force_runs_to_the_end():
    applied = [
        {"t_s": 3.0, "at": 3.1, "paused_consumers": 0, "origin_down": False,
         "origin_egress_bps": 4.5e7},
        {"t_s": 4.0, "at": 4.0, "paused_consumers": 0, "origin_down": False,
         "origin_egress_bps": 4.2e7, "routes": {"join": {"error_ratio": 0.5}}},  # cap changes
        {"t_s": 9.0, "error": "HTTP 500"},  # refused: nothing changed on the target
        {"t_s": 10.0, "at": 10.2, "paused_consumers": 0, "origin_down": False,
         "origin_egress_bps": 4.2e7, "routes": {"join": None}},
    ]  # fmt: skip
    assert replayed_marks(applied, 30) == [
        {"name": "origin egress capped (replayed)", "start_s": 3.1, "end_s": 30.0},
        {"name": "503s on join (replayed)", "start_s": 4.0, "end_s": 10.2},
    ]


def test_nothing_replayed_nothing_shaded():
    assert replayed_marks([], 60) == []
    assert replayed_marks([{"t_s": 1.0, "error": "refused"}], 60) == []
