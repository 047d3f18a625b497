"""Class-end stampedes (`twin.drill.stampede`): what a live class's end sends at once, and the
prediction that carries it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.drill.plan import DrillWorkload
from twin.drill.stampede import class_end_bursts, class_ends, moved_demand
from twin.platform.demand import LiveClassLoad
from twin.platform.workload import FEEDBACK_SHARE

ROOT = Path(__file__).resolve().parents[2]


def _work(live_ends, rates, riders, classes, speedup=60.0) -> DrillWorkload:
    n = len(riders)
    return DrillWorkload(
        duration_s=n, speedup=speedup, scale=1e-3, users=np.asarray(riders, dtype=np.int64),
        riders=np.asarray(riders, dtype=float),
        rates={k: np.asarray(v, dtype=float) for k, v in rates.items()},
        live_start_share=np.zeros(n), active_live_share=np.zeros(n), device_share=0.5,
        live_classes=tuple(classes), live_ends=np.asarray(live_ends, dtype=float),
    )  # fmt: skip


def test_a_class_end_sends_its_riders_saves_ratings_and_next_sessions_at_its_instant():
    # a 30-min class from scenario second 60 ends at 1,860 s: drill second 31 at 60x
    classes = [LiveClassLoad("c1", 60.0, 1800, 4000.0), LiveClassLoad("c2", 0.0, 7200, 9.0)]
    ends = np.zeros(40)
    ends[31] = 40.0
    riders = np.full(40, 100.0)
    riders[31:] = 80.0  # the plan drops 20 users as the class ends
    rates = {k: np.full(40, 50.0) for k in ("workout", "feedback", "recommend", "join", "tempo")}
    work = _work(ends, rates, riders, classes)
    assert class_ends(work) == {31: [(31.0, 4000.0)]}  # c2 ends after the drill
    bursts = class_end_bursts(work)
    assert bursts["workout"] == ((31.0, 40.0),)
    assert bursts["feedback"] == ((31.0, pytest.approx(40.0 * FEEDBACK_SHARE)),)
    # those still riding (80 of 100) open the app again at once
    assert bursts["recommend"] == bursts["join"] == ((31.0, pytest.approx(32.0)),)
    assert "tempo" not in bursts


def test_restarts_move_the_plans_later_starts_to_the_class_end_and_keep_totals():
    rates = {"join": np.array([1.0, 2.0, 5.0, 10.0, 4.0]), "workout": np.array([0, 0, 9.0, 0, 0])}
    bursts = {"join": ((2.5, 12.0),), "workout": ((2.5, 9.0),)}
    moved, kept = moved_demand(rates, bursts)
    assert kept == {"join": ((2.5, 12.0),), "workout": ((2.5, 9.0),)}
    assert moved["join"] == pytest.approx([1.0, 2.0, 12.0, 3.0, 4.0])
    assert moved["join"].sum() == pytest.approx(rates["join"].sum())
    assert moved["workout"] == pytest.approx(rates["workout"])  # ends are where they were
    # a burst larger than what is left of the drill is cut to it
    _, cut = moved_demand(rates, {"join": ((3.2, 50.0),)})
    assert cut["join"] == ((3.2, pytest.approx(14.0)),)


def test_the_prediction_sends_a_class_ends_requests_at_once():
    from twin.drill.predict import compile_target, drill_platform, target_architecture
    from twin.drill.run import DrillOptions, compile_drill
    from twin.sim.exact.model import from_platform

    options = DrillOptions(scenario=ROOT / "scenarios/music-partner-launch-fixed.yaml",
                           out=Path("."), target="local", scale=2.4e-3, speedup=60.0,
                           duration=60)  # fmt: skip
    scenario, _arch, _compiled, work = compile_drill(options)
    arch = target_architecture("reference-platform", options.scenario)
    platform = drill_platform(compile_target(scenario, arch), work)
    # the drill of the note: one class ends at drill second 45 (45 workouts in that second)
    at_end = sum(n for at, n in platform.bursts["workout"] if int(at) == 45)
    assert at_end > 30
    for name in ("join", "recommend"):
        assert platform.demand[name].sum() == pytest.approx(work.rates[name].sum())
        assert platform.demand[name][45] > 3 * np.median(platform.demand[name])
    model = from_platform(platform, name="x", seed=1, interval_s=1.0)
    # a rider saves, rates, opens the app and joins: the exact engine keeps that order
    assert list(platform.bursts) == ["workout", "feedback", "recommend", "join"]
    ranks = {s.name: s.burst_rank for s in model.sources if s.bursts}
    assert sorted(ranks, key=ranks.__getitem__) == list(platform.bursts)
    source = next(s for s in model.sources if s.name == "workout")
    assert source.bursts == platform.bursts["workout"]
    at_45 = [rate for t, rate in source.schedule.points if t <= 45.0][-1]
    # what is left to the Poisson stream in second 45 is the on-demand ends
    assert 0 <= at_45 < 0.5 * platform.demand["workout"][45]
    assert at_45 == pytest.approx(platform.demand["workout"][45] - at_end)


def test_two_classes_ending_at_one_instant_are_one_stampede_of_their_riders():
    import simpy

    from twin.config.network import RateSchedule, ServiceTime
    from twin.sim.exact.model import ExactModel, SourceModel, StationModel
    from twin.sim.exact.replication import Network

    # two bursts of one source at the same instant (two classes ending together): 11 + 39
    # riders on average, each sending one save, never two
    src = SourceModel("workout", RateSchedule(points=((0.0, 0.0),)), "s",
                      bursts=((5.0, 11.0), (5.0, 39.0)))  # fmt: skip
    station = StationModel(name="s", servers=1000,
                           service=ServiceTime(dist="deterministic", mean_s=0.001))  # fmt: skip
    model = ExactModel(name="x", kind="platform", duration_s=10.0, interval_s=1.0,
                       warmup_s=0.0, seed=1, stations=(station,), sources=(src,))  # fmt: skip
    counts = []
    for rep in range(300):
        env = simpy.Environment()
        net = Network(env, model, rep)
        env.run(until=10.0)
        counts.append(net.sources[0].arrivals)
    # one Poisson(50): mean and variance 50 (a rider per larger burst sending both would
    # give a variance of ~72)
    assert np.mean(counts) == pytest.approx(50.0, rel=0.05)
    assert np.var(counts) == pytest.approx(50.0, rel=0.3)
