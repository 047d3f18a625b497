"""Scenario YAML is read as YAML 1.2: numbers are numbers, duplicate keys are errors, and an
alias bomb is refused before it is built (issue 17)."""

from __future__ import annotations

import itertools
import math
import time
import tracemalloc
from pathlib import Path

import pytest

from twin.config import load_scenario
from twin.config.limits import MAX_YAML_NODES
from twin.config.overrides import parse_override
from twin.config.yaml12 import load_yaml
from twin.errors import InputError

CORE = """\
exp: 1e15
dec: 1.5e3
lead: 017
octal: 0o17
hex: 0x1F
yes_word: yes
on_word: on
time: 1:30
date: 2021-03-09T18:00:00
inf: -.inf
nan: .NaN
empty:
tilde: ~
truth: True
underscored: 3_000
quoted: '1e3'
"""


def test_the_core_schema_of_yaml_1_2() -> None:
    data = load_yaml(CORE, "x.yaml")
    assert data["exp"] == 1e15 and isinstance(data["exp"], float)
    assert (data["dec"], data["lead"], data["octal"], data["hex"]) == (1500.0, 17, 15, 31)
    # YAML 1.1 made these booleans, sexagesimal 90 and a datetime; 1.2 keeps them strings.
    assert (data["yes_word"], data["on_word"], data["time"]) == ("yes", "on", "1:30")
    assert data["date"] == "2021-03-09T18:00:00"
    assert data["inf"] == -math.inf and math.isnan(data["nan"])
    assert data["empty"] is None and data["tilde"] is None and data["truth"] is True
    assert (data["underscored"], data["quoted"]) == ("3_000", "1e3")


def test_a_duplicate_key_names_its_line_and_the_first() -> None:
    text = "name: a\nnetwork:\n  stations: {}\n  sources: []\n  stations: {}\n"
    with pytest.raises(InputError) as caught:
        load_yaml(text, "s.yaml")
    assert str(caught.value) == "s.yaml: line 5: duplicate key 'stations' (first at line 3)"


def _bomb(levels: int = 9) -> str:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for prev, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_an_alias_bomb_is_refused_at_once_in_little_memory() -> None:
    # 9 levels of 9 aliases: 9**9 = 387M strings once expanded (gigabytes as Python lists,
    # more once copied and validated); refused while it is still a few hundred nodes.
    tracemalloc.start()
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        load_yaml(_bomb(), "bomb.yaml")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 0.1 and peak < 1_000_000
    assert f"past the limit of {MAX_YAML_NODES:,} values (MAX_YAML_NODES" in str(caught.value)


def test_aliases_within_the_limit_still_work() -> None:
    data = load_yaml("base: &b {servers: 2}\napi: *b\ndb: *b\n", "x.yaml")
    assert data["api"] == data["db"] == {"servers": 2}


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("a: &a [*a]\n", "recursive alias"),
        ("[" * 150 + "]" * 150, "nested deeper than the limit of 100 levels"),
        ("<<: {duration_s: 5}\n", None),  # no merge keys in 1.2: `<<` is a plain key
    ],
)
def test_recursion_and_depth_are_refused(text: str, words: str | None) -> None:
    if words is None:
        assert load_yaml(text, "x.yaml") == {"<<": {"duration_s": 5}}
        return
    with pytest.raises(InputError, match=words):
        load_yaml(text, "x.yaml")


def test_set_values_are_read_by_the_same_loader() -> None:
    assert parse_override("duration_s=1e3") == (["duration_s"], 1000.0)
    assert parse_override("name=on") == (["name"], "on")
    with pytest.raises(InputError) as caught:
        parse_override("network={a: 1, a: 2}")
    assert caught.value.source == "--set" and "duplicate key 'a'" in caught.value.message


def test_files_that_never_end_or_are_huge_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a regular file"):
        load_scenario("/dev/zero")
    with pytest.raises(InputError, match="not a regular file"):
        load_scenario(tmp_path)
    big = tmp_path / "big.yaml"
    with big.open("wb") as out:
        out.truncate(17 * 1024 * 1024)
    with pytest.raises(InputError, match=r"over the limit of 16,777,216 bytes \(MAX_FILE_BYTES"):
        load_scenario(big)
