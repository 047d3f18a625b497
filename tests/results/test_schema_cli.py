"""`twin schema summary`: a valid JSON Schema that real summaries satisfy, and the README's
table of `summary.json` keys, which must be the one made from it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from twin.cli.app import main
from twin.results.schema_doc import keys_table
from twin.results.summary import Summary

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
_TABLE = re.compile(r"<!-- summary-keys:begin[^>]*-->\n(.*?)<!-- summary-keys:end -->", re.S)


@pytest.fixture(scope="module")
def printed_schema() -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["schema", "summary"]) == 0
    return json.loads(out.getvalue())


def test_the_printed_schema_is_a_json_schema(printed_schema):
    jsonschema.Draft202012Validator.check_schema(printed_schema)
    assert printed_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert printed_schema == Summary.json_schema()
    top = printed_schema["properties"]
    for key in ("scenario", "engine", "services", "requests", "cost", "experience", "slo"):
        assert top[key]["description"], key
    assert printed_schema["additionalProperties"] is False


def test_real_summaries_satisfy_the_printed_schema(printed_schema, summary):
    jsonschema.Draft202012Validator(printed_schema).validate(summary)


def test_the_schema_refuses_what_the_model_refuses(printed_schema, make_summary):
    validator = jsonschema.Draft202012Validator(printed_schema)
    summary = make_summary("platform-fluid")
    summary["services"]["cdn"]["egress_short_seconds"] = None  # omitted, never null
    summary["cost"]["montly_usd"] = 1.0
    errors = {".".join(map(str, e.absolute_path)) for e in validator.iter_errors(summary)}
    assert errors == {"services.cdn.egress_short_seconds", "cost"}


def test_an_unknown_schema_is_one_line_and_exit_2(capsys):
    assert main(["schema", "sumary"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "twin: twin schema: unknown schema 'sumary' "
        "(known: scenario, architecture, summary, profile)\n"
    )


def test_the_readme_lists_the_keys_of_the_schema(capsys):
    assert main(["schema", "summary", "--markdown"]) == 0
    table = capsys.readouterr().out
    assert table == keys_table(Summary.json_schema())
    found = _TABLE.search(README.read_text(encoding="utf-8"))
    assert found is not None, "README.md lost its summary-keys markers"
    assert found.group(1) == table, (
        "README.md's table of summary.json keys is not the schema's: paste the output of "
        "`twin schema summary --markdown` between its summary-keys markers"
    )


def test_the_readme_names_only_files_the_repository_has():
    text = README.read_text(encoding="utf-8")
    folders = "twin|tests|locustfiles|scenarios|benchmarks|docs"
    named = set(re.findall(rf"\b(?:{folders})/[\w./-]*", text))
    named |= set(re.findall(r"(?<![/\w])[\w-]+\.md\b", text))
    assert {p for p in named if not (ROOT / p).exists()} == set()


def test_the_table_reads_as_lookups_and_lists_a_shared_block_once():
    rows = {
        line.split(" | ")[0].strip("| `"): line.split(" | ")[1]
        for line in keys_table(Summary.json_schema()).splitlines()[2:]
    }
    assert rows["services.<name>.latency_ms.p99"] == "number or null, required"
    assert rows["slo[].passed"] == "boolean, required"
    assert rows["requests.<type>.latency_ms"] == "object, as `services.<name>.latency_ms`"
    assert "requests.<type>.latency_ms.p99" not in rows
    assert rows["drill.runs[].tracking"] == "object, required, as `drill.tracking`"
    assert rows["analytic.unavailable"] == "string, required"
    assert rows["cost.by_component"] == "map of number, required"
