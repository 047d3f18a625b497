"""Dotted `--set` reaches any field, architecture changes included; a name that is not there
is named as unknown, with the nearest valid names (issue 17)."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.config.loader import load_platform, load_scenario
from twin.errors import InputError

EGRESS = "components.cdn.cdn.egress_gbps"


def test_a_dotted_architecture_change_is_one_change(scenarios_dir: Path) -> None:
    # Was: the path made `components: {cdn: {cdn: {egress_gbps: ...}}}`, a whole new
    # `components` mapping, and blamed `label: Field required` on the architecture file.
    scenario, arch = load_platform(
        scenarios_dir / "daily-peak.yaml", [f"architecture_changes.{EGRESS}=50000"]
    )
    assert scenario.architecture_changes == {EGRESS: 50000}
    assert arch.components["cdn"].cdn is not None
    assert arch.components["cdn"].cdn.egress_gbps == 50000
    assert arch.components["cdn"].label.startswith("Advanced Video CDN")


def test_a_set_change_overrides_the_files_own_change(scenarios_dir: Path) -> None:
    path = scenarios_dir / "covid-growth.yaml"  # its file changes the egress to 400
    _, arch = load_platform(path)
    assert arch.components["cdn"].cdn is not None and arch.components["cdn"].cdn.egress_gbps == 400
    _, arch = load_platform(path, [f"architecture_changes.{EGRESS}=900"])
    assert arch.components["cdn"].cdn is not None and arch.components["cdn"].cdn.egress_gbps == 900


def _error(path: Path, overrides: list[str]) -> InputError:
    with pytest.raises(InputError) as caught:
        load_scenario(path, overrides)
    return caught.value


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        (
            "architecture_changes.components.cdnn.cdn.egress_gbps=5",
            "architecture_changes.components.cdnn",
            "unknown component 'cdnn'; did you mean cdn?",
        ),
        (
            "architecture_changes.components.cdn.cdn.egress_gbpz=5",
            "architecture_changes.components.cdn.cdn.egress_gbpz",
            "unknown field 'egress_gbpz'; did you mean egress_gbps?",
        ),
        (
            "architecture_changes.components.kinesis.stream.autoscalling.max=9",
            "architecture_changes.components.kinesis.stream.autoscalling",
            "unknown field 'autoscalling'; did you mean autoscaling?",
        ),
    ],
)
def test_an_unknown_name_in_an_architecture_change_is_named(
    scenarios_dir: Path, override: str, field: str, message: str
) -> None:
    path = scenarios_dir / "daily-peak.yaml"
    err = _error(path, [override])
    assert (err.source, err.field, err.message) == (str(path), field, message)


@pytest.mark.parametrize(
    ("override", "field", "message"),
    [
        ("duraton_s=5", "duraton_s", "unknown field 'duraton_s'; did you mean duration_s?"),
        (
            "demand.growht.factor=2",
            "demand.growht",
            "unknown field 'growht'; did you mean growth?",
        ),
        (
            "population.segments.0.sahre=1",
            "population.segments.0.sahre",
            "unknown field 'sahre'; did you mean share?",
        ),
        (
            "incidents.0.multiplierr=3",
            "incidents.0.multiplierr",
            "unknown field 'multiplierr'; did you mean multiplier?",
        ),
    ],
)
def test_an_unknown_name_in_a_set_is_the_sets(
    scenarios_dir: Path, override: str, field: str, message: str
) -> None:
    err = _error(scenarios_dir / "music-partner-launch.yaml", [override])
    assert (err.source, err.field, err.message) == ("--set", field, message)


def test_an_unknown_station_is_named_and_a_whole_new_one_can_be_set(
    scenarios_dir: Path,
) -> None:
    path = scenarios_dir / "mmc-example.yaml"
    err = _error(path, ["network.stations.apii.servers=5"])
    assert (err.field, err.message) == (
        "network.stations.apii",
        "unknown station 'apii'; did you mean api?",
    )
    err = _error(path, ["network.stations.zzz.servers=5"])
    assert err.message == "unknown station 'zzz' (known: api)"
    scenario = load_scenario(
        path,
        [
            "network.stations.db={servers: 1, service: {dist: exponential, mean_s: 0.1}}",
            "network.stations.db.servers=2",
            "network.stations.api.routes={db: 0.5, exit: 0.5}",
        ],
    )
    assert scenario.network.stations["db"].servers == 2


def test_a_misspelled_component_in_the_file_is_named_too(
    tmp_path: Path, scenarios_dir: Path
) -> None:
    text = (scenarios_dir / "daily-peak.yaml").read_text()
    change = "architecture_changes: {components.cdnn.count: 2}\n"
    text = text.replace("tick_s: 1\n", f"tick_s: 1\n{change}")
    (tmp_path / "architectures").symlink_to(scenarios_dir / "architectures")
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    err = _error(path, [])
    assert (err.source, err.field) == (str(path), "architecture_changes.components.cdnn")
    assert err.message == "unknown component 'cdnn'; did you mean cdn?"
