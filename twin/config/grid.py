"""A sweep's grid as the user gives it: `--grid KEY=V1,V2` per axis, checked before any run.

An axis is any dotted key `--set` takes (`riders` is short for `population.riders`); its
values are read as YAML 1.2, as `--set` reads them. A grid that is not `KEY=V1,V2`, names a
key twice, has an empty or repeated value, or has more than MAX_SWEEP_POINTS points is
refused with one line naming `--grid`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from twin.config.limits import check_sweep_points
from twin.config.yaml12 import load_yaml
from twin.errors import InputError

__all__ = ["ALIASES", "Axis", "override", "parse_grid"]

# Short names for the keys a sweep varies most.
ALIASES = {"riders": "population.riders"}


@dataclass(frozen=True)
class Axis:
    """One swept key: `key` as `--set` takes it, `label` as the user wrote it, its values."""

    key: str
    label: str
    values: tuple[Any, ...]


def parse_grid(texts: Sequence[str]) -> tuple[Axis, ...]:
    """`KEY=V1,V2,...` per axis, values read as YAML 1.2; refused with one line if not."""
    if not texts:
        raise InputError("--grid", None, "give at least one axis: --grid KEY=V1,V2")
    axes: list[Axis] = []
    for text in texts:
        axis = _axis(text)
        if any(a.key == axis.key for a in axes):
            raise InputError("--grid", axis.label, "is given twice: put its values in one list")
        axes.append(axis)
    check_sweep_points(math.prod(len(a.values) for a in axes))
    return tuple(axes)


def _axis(text: str) -> Axis:
    label, sep, raw = text.partition("=")
    label = label.strip()
    if not sep or not label:
        raise InputError("--grid", text, "expected KEY=V1,V2 (e.g. riders=1e5,1e6)")
    words = [w.strip() for w in raw.split(",")]
    if not any(words):
        raise InputError("--grid", label, "has an empty list of values")
    if not all(words):
        raise InputError("--grid", label, f"has an empty value in {raw!r}")
    if len(set(words)) < len(words):
        raise InputError("--grid", label, f"repeats a value in {raw!r}")
    values = tuple(_value(w, label) for w in words)
    return Axis(key=ALIASES.get(label, label), label=label, values=values)


def _value(word: str, label: str) -> Any:
    """A grid value as YAML 1.2 reads it; `1e6` riders are the integer 1000000."""
    value = load_yaml(word, "--grid", label)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def override(key: str, value: Any) -> str:
    """`key=value` as `--set` reads it back to the same value (JSON is YAML 1.2)."""
    return f"{key}={value if isinstance(value, str) else json.dumps(value)}"
