"""Bad scenario files and values are refused with one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from twin.config import load_scenario
from twin.errors import InputError

GOOD = {
    "name": "ok",
    "kind": "network",
    "duration_s": 100,
    "warmup_s": 10,
    "network": {
        "sources": [{"name": "req", "rate_per_s": 1.0, "to": "api"}],
        "stations": {
            "api": {
                "servers": 2,
                "service": {"dist": "exponential", "mean_s": 0.5},
                "routes": {"db": 0.3, "exit": 0.7},
            },
            "db": {"servers": 1, "service": {"dist": "gamma", "mean_s": 0.1, "cv": 2}},
        },
    },
}


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_good_file_loads_into_frozen_models(tmp_path: Path) -> None:
    sc = load_scenario(_write(tmp_path, GOOD))
    assert sc.network.stations["db"].service.scv == pytest.approx(4.0)
    assert sc.network.sources[0].rate_per_s.rate_at(50) == 1.0
    with pytest.raises(Exception, match="frozen"):
        sc.network.stations["api"].servers = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("override", "field", "words"),
    [
        ("network.sources.0.rate_per_s=-1", "network.sources.0.rate_per_s", ">= 0"),
        ("network.stations.api.routes.cache=0.3", "network.stations.api.routes", "sum to 1"),
        (
            "network.stations.api.servers=0",
            "network.stations.api.servers",
            "greater than or equal to 1",
        ),
        (
            "network.stations.api.service.dist=pareto",
            "network.stations.api.service.dist",
            "exponential",
        ),
        ("network.stations.db.service.cv=null", "network.stations.db.service", "needs 'cv'"),
        ("network.sources.0.to=nowhere", "network.sources.0.to", "unknown station"),
        ("duration_s=0", "duration_s", "greater than 0"),
        ("warmup_s=500", "warmup_s", "shorter than duration_s"),
        ("kind=galaxy", "kind", "unknown kind"),
    ],
)
def test_bad_values_name_the_file_and_the_field(
    tmp_path: Path, override: str, field: str, words: str
) -> None:
    path = _write(tmp_path, GOOD)
    with pytest.raises(InputError) as caught:
        load_scenario(path, [override])
    assert caught.value.source == str(path)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_station_in_a_route_is_named(tmp_path: Path) -> None:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    data["network"]["stations"]["api"]["routes"] = {"cache": 0.3, "exit": 0.7}
    with pytest.raises(InputError) as caught:
        load_scenario(_write(tmp_path, data))
    assert caught.value.field == "network.stations.api.routes.cache"


def test_piecewise_rates_must_start_at_zero_and_increase(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    sc = load_scenario(path, ["network.sources.0.rate_per_s=[[0, 1], [50, 4]]"])
    assert sc.network.sources[0].rate_per_s.rate_at(60) == 4
    with pytest.raises(InputError, match="strictly increasing"):
        load_scenario(path, ["network.sources.0.rate_per_s=[[0, 1], [0, 4]]"])


def test_a_misspelled_key_is_named_as_unknown_with_the_nearest_names(tmp_path: Path) -> None:
    # Issue 17: a typo is an unknown field, not a missing one; in --set it is the --set's.
    with pytest.raises(InputError) as caught:
        load_scenario(_write(tmp_path, GOOD), ["network.stations.api.sevrers=2"])
    assert (caught.value.source, caught.value.field) == ("--set", "network.stations.api.sevrers")
    assert caught.value.message == "unknown field 'sevrers'; did you mean servers?"
    data = {("duraton_s" if k == "duration_s" else k): v for k, v in GOOD.items()}
    with pytest.raises(InputError) as caught:
        load_scenario(_write(tmp_path, data))
    assert caught.value.field == "duraton_s"
    assert caught.value.message == "unknown field 'duraton_s'; did you mean duration_s?"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name: [unclosed", "not valid YAML at line 1"),
        ("- just\n- a list\n", "must be a YAML mapping"),
    ],
)
def test_unreadable_files_are_refused(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=words):
        load_scenario(path)


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ("no-equals-sign", "expected dotted.path=value"),
        ("network.sources.x.to=api", "indexed by number"),
        ("network.sources.9.to=api", "index out of range"),
        ("name.inner=3", "inside a plain value"),
    ],
)
def test_bad_set_overrides_are_refused(tmp_path: Path, override: str, words: str) -> None:
    with pytest.raises(InputError, match=words) as caught:
        load_scenario(_write(tmp_path, GOOD), [override])
    assert caught.value.source == "--set"
