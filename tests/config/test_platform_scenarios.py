"""Every platform scenario and architecture loads; bad input names the file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from twin.config.architecture import REQUEST_TYPES, load_architecture
from twin.config.loader import load_platform, load_scenario
from twin.config.platform import PlatformScenario
from twin.errors import InputError

NAMES = [
    "daily-peak",
    "new-year-surge",
    "iot-pipeline-overload",
    "live-broadcast-failure",
    "covid-growth",
    "music-partner-launch",
]
FILES = [f"{n}.yaml" for n in NAMES] + [f"{n}-fixed.yaml" for n in NAMES]


@pytest.mark.parametrize("name", FILES)
def test_every_scenario_file_loads(scenarios_dir, name):
    scenario, arch = load_platform(scenarios_dir / name)
    assert isinstance(scenario, PlatformScenario)
    assert scenario.name == name.removesuffix(".yaml")
    assert set(arch.routes) == set(REQUEST_TYPES)
    assert scenario.slo


@pytest.mark.parametrize("name", NAMES)
def test_fixed_variants_change_something(scenarios_dir, name):
    plain, _ = load_platform(scenarios_dir / f"{name}.yaml")
    fixed, _ = load_platform(scenarios_dir / f"{name}-fixed.yaml")
    assert fixed.architecture_changes != plain.architecture_changes
    assert (fixed.start, fixed.population, fixed.duration_s) == (
        plain.start,
        plain.population,
        plain.duration_s,
    )


def test_riders_architecture_and_duration_override(scenarios_dir):
    scenario, arch = load_platform(
        scenarios_dir / "daily-peak.yaml",
        ["population.riders=30000", "architecture=phase2-microservices", "duration_s=600"],
    )
    assert scenario.population.riders == 30000
    assert arch.name == "phase2-microservices"
    assert scenario.duration_s == 600


def _copy(tmp_path: Path, scenarios_dir: Path, name: str = "daily-peak.yaml") -> Path:
    shutil.copytree(scenarios_dir / "architectures", tmp_path / "architectures")
    target = tmp_path / name
    shutil.copy(scenarios_dir / name, target)
    return target


def _error(path: Path, overrides: list[str]) -> InputError:
    with pytest.raises(InputError) as info:
        load_scenario(path, overrides)
    return info.value


def test_unknown_architecture_names_the_field(tmp_path, scenarios_dir):
    path = _copy(tmp_path, scenarios_dir)
    err = _error(path, ["architecture=phase9"])
    assert err.source == str(path) and err.field == "architecture"
    assert "phase9" in err.message


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("population.riders=-5", "population.riders"),
        ("population.mix.rowing=1", "population.mix.rowing"),
        ("demand.max_concurrent_fraction=2", "demand.max_concurrent_fraction"),
        (
            "incidents=[{type: surge, multiplier: 2, start_s: 10, end_s: 5}]",
            "incidents.0.surge.end_s",
        ),
        ("incidents=[{type: meltdown, start_s: 0, end_s: 5}]", "incidents.0"),
        ("timezone=Mars/Olympus", "timezone"),
        ("start=2021-03-09T18:00:00+01:00", "start"),
        ("tick_s=0", "tick_s"),
        ("slo=[{name: x, metric: a.b, op: '~', target: 1}]", "slo.0.op"),
        ("surprise=1", "surprise"),
    ],
)
def test_bad_fields_give_an_input_error_naming_them(tmp_path, scenarios_dir, override, field):
    err = _error(_copy(tmp_path, scenarios_dir), [override])
    assert err.field == field, err


def test_incident_on_an_unknown_component_names_it(tmp_path, scenarios_dir):
    path = _copy(tmp_path, scenarios_dir)
    err = _error(
        path, ["incidents=[{type: component_down, component: mainframe, start_s: 0, end_s: 9}]"]
    )
    assert err.field == "incidents.0.component" and "mainframe" in err.message
    err = _error(
        path, ["incidents=[{type: shard_count, component: api, shards: 2, start_s: 0, end_s: 9}]"]
    )
    assert "not a stream" in err.message


def test_bad_architecture_change_names_the_change_and_the_architecture(tmp_path, scenarios_dir):
    # The scenario's change is at fault, not the architecture file it changes (issue 17).
    path = _copy(tmp_path, scenarios_dir)
    err = _error(path, ["architecture_changes={components.cdn.cdn.hit_ratio: 1.5}"])
    assert err.source == str(path)
    assert err.field == "architecture_changes.components.cdn.cdn.hit_ratio"
    assert "less than or equal to 1" in err.message and "phase3-global.yaml" in err.message


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"routes.segment": ["cdn", "nowhere"]}, "routes.segment.1"),
        ({"routes.segment": ["s3_global"]}, "routes.segment.0"),
        ({"components.api.autoscaling.min": 100}, "components.api.autoscaling.min"),
        (
            {"components.api.cdn": {"egress_gbps": 1, "hit_ratio": 0.5, "origin": "live"}},
            "components.api.cdn",
        ),
        ({"components.cdn.cdn.origin": "mars"}, "components.cdn.cdn.origin"),
        ({"ingest.store": "mars"}, "ingest.store"),
    ],
)
def test_bad_architectures_name_the_field(architectures_dir, change, field):
    with pytest.raises(InputError) as info:
        load_architecture("phase3-global", architectures_dir, change)
    assert info.value.field == field


@pytest.mark.parametrize("name", ["phase1-monolith", "phase2-microservices", "phase3-global"])
def test_every_component_has_a_plane_a_kind_and_a_cost(architectures_dir, name):
    arch = load_architecture(name, architectures_dir)
    assert all(c.monthly_usd > 0 for c in arch.components.values())
    for route in arch.routes.values():
        assert all(arch.components[hop].station is not None for hop in route)
