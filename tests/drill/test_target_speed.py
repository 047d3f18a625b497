"""Each side of a drill at its own speed: the target's components scale by the target's CPU
index (`target_cpu` in a calibrated file), the load generator's by Locust's.

A shared machine's other work does not slow both processes alike: over the stored drills the
target's CPU per request moved from 0.50x to 1.84x the calibration's while Locust's moved from
0.69x to 1.44x (README, "Machine speed")."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.architecture import LoadCpu, TargetCpu, load_architecture
from twin.drill.calibration import _Drill, _type_speed
from twin.drill.fit import Fit, calibrated_yaml
from twin.drill.loop_costs import LoopCost, target_cpu
from twin.drill.predict import scaled_services, speed_parts, target_speed
from twin.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
LOAD = LoadCpu(per_request_s=0.001, per_mb_s=0.002, per_s=0.0)
TARGET = TargetCpu(components=["api", "hls"], per_request_s=0.0005, per_mb_s=0.0, per_s=0.01)
SUMMARY = {"drill": {"load_cpu_s": 6.6, "target_cpu_s": 3.0, "requests_total": 3000,
                     "duration_s": 60},
           "requests": {"segment": {"bytes": 1_500_000_000}, "join": {"bytes": 0}}}  # fmt: skip


def test_the_target_index_is_its_cpu_against_the_calibrations():
    parts = speed_parts(SUMMARY, LOAD, TARGET)
    assert parts["cpu_index"] == pytest.approx(6.6 / (3.0 + 3.0))
    # 3000 requests x 0.5 ms + 60 s x 10 ms = 2.1 s expected; one process, whatever Locust ran
    assert parts["target_cpu_index"] == pytest.approx(3.0 / 2.1)
    assert parts["target_speed_index"] == pytest.approx(3.0 / 2.1)  # no stall measured
    assert target_speed(parts, TARGET) == (pytest.approx(3.0 / 2.1), frozenset({"api", "hls"}))
    # without the file's figures, the drill's, or the block: the speed index for everything
    for cpu, summary in ((TargetCpu(components=["api"]), SUMMARY), (TARGET, {**SUMMARY, "drill": {
            **SUMMARY["drill"], "target_cpu_s": None}}), (None, SUMMARY)):  # fmt: skip
        parts = speed_parts(summary, LOAD, cpu)
        assert parts["target_speed_index"] is None and target_speed(parts, cpu) is None
        assert parts["speed_index"] == pytest.approx(1.1)


def test_only_the_targets_components_take_its_speed():
    from twin.drill.predict import compile_target, drill_platform, target_architecture
    from twin.drill.run import DrillOptions, compile_drill

    options = DrillOptions(scenario=ROOT / "scenarios/daily-peak.yaml", out=Path("."),
                           target="local", scale=3e-4, speedup=180.0)  # fmt: skip
    scenario, _arch, _compiled, work = compile_drill(options)
    arch = target_architecture("reference-platform", options.scenario)
    platform = drill_platform(compile_target(scenario, arch), work)
    scaled = scaled_services(platform, 2.0, (0.5, frozenset({"api", "hls"})))
    for name, spec in platform.services.items():
        k = 0.5 if name in ("api", "hls") else 2.0
        assert scaled.services[name].service.mean == pytest.approx(k * spec.service.mean)
        for rtype, own in spec.service_by_request.items():
            assert scaled.services[name].service_by_request[rtype].mean == pytest.approx(
                k * own.mean)  # fmt: skip
    assert scaled_services(platform, 1.0, (1.0, frozenset({"api"}))) is platform


def test_a_types_speed_weighs_each_side_by_its_time_there():
    drill = _Drill(folder=Path("."), measured={}, scenario=None, platform=None, speed=1.2,
                   target=(0.6, frozenset({"api", "hls"})))  # fmt: skip
    fits = {"client@0:playlist": Fit(0.001, 0.5), "api@0:playlist": Fit(0.002, 0.5),
            "hls": Fit(0.001, 0.3), "timer": Fit(0.001, 0.7)}  # fmt: skip
    hops = [("timer", 0.5), ("client@0:playlist", 1.0), ("api@0:playlist", 1.0), ("hls", 1.0)]
    # load side: 0.5 + 1 ms at 1.2; target side: 2 + 1 ms at 0.6
    assert _type_speed(drill, hops, fits) == pytest.approx((1.5 * 1.2 + 3.0 * 0.6) / 4.5)
    assert _type_speed(drill.__class__(**{**drill.__dict__, "target": None}), hops, fits) == 1.2
    # a segment's per-MB atoms count in its loop's time
    seg = {"client@0:segment": Fit(0.0, 0.5, ((0.004, 1.0),)), "api@0:segment": Fit(0.004, 0.5)}
    assert _type_speed(drill, [("client@0:segment", 1.0), ("api@0:segment", 1.0)],
                       seg) == pytest.approx(0.9)  # fmt: skip


def test_calibrate_measures_the_target_for_the_declared_components():
    measured = {"api": LoopCost(0.0004, 0.00003, 0.008), "client": LoopCost(0.0001, 0.0015)}
    got = target_cpu(measured, TargetCpu(components=["api", "sqlite"]))
    assert got == TargetCpu(components=["api", "sqlite"], per_request_s=0.0004,
                            per_mb_s=0.00003, per_s=0.008)  # fmt: skip
    assert target_cpu(measured, None) is None  # a file that declares none keeps one speed
    assert target_cpu({"client": measured["client"]}, TargetCpu(components=["api"])) is None


def test_the_calibrated_file_keeps_the_target_block_where_it_was():
    text = (ROOT / "scenarios/architectures/reference-platform.yaml").read_text()
    done = TargetCpu(components=["api", "hls"], per_request_s=0.0007, per_mb_s=1e-5, per_s=0.01)
    once = calibrated_yaml(text, {}, ["a"], {}, target_cpu=done)
    twice = calibrated_yaml(once, {}, ["a"], {}, target_cpu=done)
    assert once == twice  # written in place, not appended again
    assert once.count("target_cpu:") == 1
    lines = once.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("target_cpu:"))
    assert lines[at - 1].startswith("#") and "per_request_s: 0.0007" in lines[at + 1]
    from twin.config.yaml12 import load_yaml

    assert TargetCpu.model_validate(load_yaml(once, "calibrated")["target_cpu"]) == done


def test_a_target_component_that_does_not_exist_names_its_field(tmp_path):
    arch = (ROOT / "scenarios/architectures/reference-platform.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(arch.replace("target_cpu: {components: [api,", "target_cpu: {components: [apu,"))
    with pytest.raises(InputError) as info:
        load_architecture(str(bad))
    assert info.value.field == "target_cpu.components.0" and "apu" in info.value.message
    empty = tmp_path / "empty.yaml"
    lines = [ln for ln in arch.splitlines() if not ln.startswith("             per_request_s")]
    text = "\n".join(lines).replace(
        next(ln for ln in lines if ln.startswith("target_cpu:")), "target_cpu: {components: []}")
    empty.write_text(text + "\n")
    with pytest.raises(InputError) as info:
        load_architecture(str(empty))
    assert info.value.field == "target_cpu.components"
