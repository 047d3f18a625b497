"""The schemas a user holds: `twin schema scenario|architecture` are valid draft-07 schemas,
every shipped file names its schema on its first line and satisfies it as an editor reads
it, the schema files and `docs/fields.md` are what the models make today, and the schema
refuses the mistakes the loader refuses."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from twin.cli.app import main
from twin.cli.schema import markdown
from twin.config.builtin import builtin_folder
from twin.config.schema import DRAFT_07, architecture_schema, scenario_schema
from twin.drill.profile import profile_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = {"scenario": scenario_schema, "architecture": architecture_schema,
           "profile": profile_schema}  # fmt: skip
KIND_OF_FOLDER = {"architectures": "architecture", "profiles": "profile"}
SHIPPED = sorted(builtin_folder().glob("*.yaml")) + sorted(builtin_folder().glob("*/*.yaml"))
MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")
TIMESTAMP = "tag:yaml.org,2002:timestamp"
FLOAT = "tag:yaml.org,2002:float"


class _AsAnEditorReads(yaml.SafeLoader):
    """YAML 1.2's core schema, as editors' YAML support reads a file: `1e-06` is a number
    (YAML 1.1 reads it as text) and a date is text."""


_AsAnEditorReads.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (TIMESTAMP, FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_AsAnEditorReads.add_implicit_resolver(
    FLOAT,
    re.compile(r"^[-+]?(\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+)$"),
    list("-+0123456789."),
)


def _as_an_editor_reads(text: str) -> Any:
    return yaml.load(text, Loader=_AsAnEditorReads)  # a SafeLoader: no arbitrary objects


def _printed(*args: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema", *args]) == 0
    return out.getvalue()


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_printed_schema_is_a_draft_07_schema(name):
    printed = json.loads(_printed(name))
    jsonschema.Draft7Validator.check_schema(printed)
    assert printed["$schema"] == DRAFT_07 and printed == SCHEMAS[name]()
    assert "$defs" not in json.dumps(printed)  # draft 07 names them `definitions`


@pytest.mark.parametrize("name", ["scenario", "architecture", "profile", "summary"])
def test_the_schema_files_are_the_printed_ones(name):
    stored = builtin_folder() / "schema" / f"{name}.schema.json"
    assert stored.read_text(encoding="utf-8") == _printed(name), (
        f"{stored} is out of date: run `twin schema {name} > {stored.relative_to(ROOT)}`"
    )


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_file_names_its_schema_and_meets_it(path):
    text = path.read_text(encoding="utf-8")
    named = MODELINE.match(text.splitlines()[0])
    assert named is not None, f"{path}: the first line names no schema"
    schema_file = path.parent / named.group(1)
    kind = KIND_OF_FOLDER.get(path.parent.name, "scenario")
    assert schema_file.resolve() == builtin_folder() / "schema" / f"{kind}.schema.json"
    # the same relative path from the repository's scenarios/ link
    linked = ROOT / "scenarios" / path.relative_to(builtin_folder())
    assert (linked.parent / named.group(1)).is_file()
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    errors = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft7Validator(schema).iter_errors(_as_an_editor_reads(text))
    ]
    assert errors == []


MINIMAL_NETWORK = {
    "name": "m",
    "duration_s": 100,
    "network": {
        "sources": [{"name": "r", "rate_per_s": [[0, 1.0], [50, 2]], "to": "api"}],
        "stations": {"api": {"servers": 1, "service": {"dist": "exponential", "mean_s": 0.5}}},
    },
}


def _platform() -> dict[str, Any]:
    text = (builtin_folder() / "music-partner-launch.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = _as_an_editor_reads(text)
    return data


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"duraton_s": 3600}, ""),  # a misspelled key
        ({"kind": "platfrom"}, "kind"),
        ({"duration_s": 0}, "duration_s"),
        ({"start": "2024-11-12T12:00:00+01:00"}, "start"),  # local time, no offset
        ({"population": {"riders": 10, "mix": {"bicycle": 1.0}}}, "population.mix"),
        ({"incidents": [{"type": "outage", "start_s": 0, "end_s": 10}]}, "incidents.0"),
        ({"slo": [{"name": "x", "metric": "a", "op": "!=", "target": 1}]}, "slo.0.op"),
    ],
)
def test_the_scenario_schema_refuses_what_the_loader_refuses(change, where):
    validator = jsonschema.Draft7Validator(scenario_schema())
    errors = list(validator.iter_errors({**_platform(), **change}))
    assert errors, change
    assert where in {".".join(map(str, e.absolute_path)) for e in errors}


def test_a_scenario_without_kind_is_a_bare_network():
    validator = jsonschema.Draft7Validator(scenario_schema())
    assert list(validator.iter_errors(MINIMAL_NETWORK)) == []
    platform_without_kind = {k: v for k, v in _platform().items() if k != "kind"}
    assert list(validator.iter_errors(platform_without_kind))  # read as a network: refused
    bad_rate = {**MINIMAL_NETWORK, "network": {**MINIMAL_NETWORK["network"], "sources": [
        {"name": "r", "rate_per_s": -1, "to": "api"}]}}  # fmt: skip
    assert list(validator.iter_errors(bad_rate))


def _fields(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every field of every model in a schema (its top level and its definitions)."""
    blocks = {"": schema, **schema["definitions"]}
    return [
        (f"{block}.{field}", prop)
        for block, node in blocks.items()
        for field, prop in node.get("properties", {}).items()
    ]


@pytest.mark.parametrize("name", SCHEMAS)
def test_every_field_says_what_it_is(name):
    bare = [path for path, prop in _fields(SCHEMAS[name]()) if not prop.get("description")]
    assert bare == []


def _between(text: str, marker: str) -> str | None:
    found = re.search(rf"<!-- {marker}:begin[^>]*-->\n(.*?)<!-- {marker}:end -->", text, re.S)
    return found.group(1) if found else None


@pytest.mark.parametrize("name", SCHEMAS)
def test_docs_fields_md_is_the_schema_today(name):
    table = _printed(name, "--markdown")
    assert table == markdown(name, SCHEMAS[name]())
    shown = _between((ROOT / "docs" / "fields.md").read_text(encoding="utf-8"), f"{name}-fields")
    assert shown == table, (
        f"docs/fields.md's {name} fields are not the schema's: paste the output of "
        f"`twin schema {name} --markdown` between its {name}-fields markers"
    )


def test_the_reference_gives_defaults_limits_and_variants():
    rows = {
        line.split(" | ")[0].strip("| `"): line.split(" | ")[1:]
        for line in markdown("scenario", scenario_schema()).splitlines()
        if line.startswith("| `")
    }
    assert rows["tick_s"][:3] == ["number", "`1.0`", "> 0"]
    surge = rows["incidents[type=surge].multiplier"]
    assert surge[:3] == ["number, required", "", ">= 1, <= 1000.0"]
    assert "keys: bike, tread, app" in rows["population.mix"][2]
    assert "(s)" in rows["duration_s"][3]  # the unit
