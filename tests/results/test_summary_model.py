"""The typed summary: every real summary fits it and comes back out unchanged; a misspelled
key, a wrong type, a faked null or a NaN is refused, naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from twin.config.loader import validate
from twin.errors import InputError
from twin.results.summary import Summary


def _refused(summary: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted field, error type) of each error validating `summary`."""
    with pytest.raises(ValidationError) as caught:
        Summary.from_mapping(summary)
    return [
        (".".join(str(p) for p in e["loc"] if "[" not in str(p)), e["type"])
        for e in caught.value.errors()
    ]


def test_every_real_summary_round_trips_exactly(summary):
    out = Summary.from_mapping(summary).to_mapping()
    assert json.dumps(out, sort_keys=True) == json.dumps(summary, sort_keys=True)
    assert json.dumps(out) == json.dumps(summary)  # the key order too
    assert {type(v) for v in out.values()} == {type(v) for v in summary.values()}


def test_keys_never_set_stay_out_and_nulls_stay_null(make_summary):
    summary = make_summary("network-exact")
    api = summary["services"]["api"]
    spoiled = {
        **summary,
        "services": {"api": {**api, "latency_ms": {**api["latency_ms"], "p999": None}}},
    }
    out = Summary.from_mapping(spoiled).to_mapping()
    assert out["services"]["api"]["latency_ms"]["p999"] is None
    assert (
        "riders" not in out
        and "cost" not in out
        and "max" not in out["services"]["api"]["latency_ms"]
    )


def test_a_summary_built_from_keywords_keeps_their_order():
    built = Summary(engine="exact", scenario="s", seed=1, replications=1, simulated_seconds=10,
                    wall_seconds=0.5, services={}, requests={}, bottlenecks=[])  # fmt: skip
    assert list(built.to_mapping()) == ["engine", "scenario", "seed", "replications",
                                        "simulated_seconds", "wall_seconds", "services",
                                        "requests", "bottlenecks"]  # fmt: skip
    assert built.to_mapping()["simulated_seconds"] == 10 and built.riders is None


def test_a_misspelled_key_is_refused_by_name(make_summary):
    summary = make_summary("network-exact")
    api = summary["services"]["api"]
    api["utilisation_mean"] = api.pop("utilization_mean")
    assert set(_refused(summary)) == {
        ("services.api.utilisation_mean", "extra_forbidden"),
        ("services.api.utilization_mean", "missing"),
    }
    summary = make_summary("platform-fluid")
    assert _refused({**summary, "experiance": summary["experience"]}) == [
        ("experiance", "extra_forbidden")
    ]


@pytest.mark.parametrize(
    ("path", "value", "error"),
    [
        ("services.api.arrivals", "many", "int_type"),
        ("services.api.arrivals", 12.5, "int_type"),
        ("services.api.utilization_mean", True, "value_error"),
        ("services.api.utilization_mean", "0.9", "value_error"),
        ("services.api.utilization_mean", float("nan"), "value_error"),
        ("requests.requests.latency_ms.p99", [1.0], "value_error"),
        ("engine", "warp", "literal_error"),
        ("bottlenecks", "api", "list_type"),
        ("analytic.stations.api.servers", "4", "int_type"),
    ],
)
def test_a_wrong_type_is_refused_by_name(make_summary, path, value, error):
    summary = make_summary("network-exact")
    *parents, key = path.split(".")
    node = summary
    for part in parents:
        node = node[part]
    node[key] = value
    assert _refused(summary) == [(path, error)]


def test_a_key_that_does_not_apply_is_left_out_not_null(make_summary):
    summary = make_summary("platform-exact")
    for key, value in (("cost", None), ("experience", None), ("riders", None)):
        assert _refused({**summary, key: value}) == [(key, "value_error")]
    # where null means "not measured", it is kept
    drill = make_summary("drill-from-records")
    assert drill["architecture"] is None and drill["drill"]["load_cpu_s"] is None
    assert Summary.from_mapping(drill).to_mapping()["architecture"] is None


def test_a_bad_summary_file_is_one_line_naming_the_field(make_summary):
    summary = make_summary("network-fluid")
    summary["services"]["api"]["dropped"] = -0.5
    with pytest.raises(InputError) as caught:
        validate(lambda: Summary.from_mapping(summary), "run/summary.json")
    assert (
        str(caught.value)
        == "run/summary.json: services.api.dropped: Input should be a valid integer"
    )


@pytest.mark.slow
def test_a_real_drill_and_its_prediction_fit_the_model(tmp_path):
    from pathlib import Path

    from twin.cli.app import main

    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "daily-peak.yaml"
    out = tmp_path / "drill"
    args = ["drill", str(scenario), "--target", "local", "--duration", "8", "--out", str(out)]
    assert main([*args, "-q"]) == 0
    for name in ("summary.json", "predicted.json"):
        data = json.loads((out / name).read_text(encoding="utf-8"))
        assert json.dumps(Summary.from_mapping(data).to_mapping()) == json.dumps(data), name
