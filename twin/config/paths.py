"""Which names a dotted path may use, read from the scenario models themselves.

A typo must be named as a typo: `duraton_s` is an unknown field ("did you mean duration_s?"),
not a missing `duration_s`; `components.cdnn.cdn.egress_gbps` names an unknown component, not
a new one missing its `label`. `check_path` walks a `--set` or `architecture_changes` path
through the pydantic models and the data it will change, and refuses the first part that
names nothing: a field the model lacks, or an entry of a mapping (a component, a station)
that the data lacks, when the path goes on below it (to add one, set it whole).
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["UnknownName", "check_path", "unknown_message"]


class UnknownName(ValueError):
    """A path part that names nothing; `depth` is its index in the path."""

    def __init__(self, depth: int, message: str) -> None:
        self.depth = depth
        super().__init__(message)


def unknown_message(name: str, known: Iterable[str], noun: str = "field") -> str:
    """`unknown field 'duraton_s'; did you mean duration_s?`, or the known names if none is."""
    names = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
    if close:
        return f"unknown {noun} {name!r}; did you mean {' or '.join(close)}?"
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f"unknown {noun} {name!r} (known: {shown or 'none'})"


def check_path(model: type[BaseModel], data: Any, path: Sequence[str]) -> None:
    """Raise UnknownName at the first part of `path` that names nothing in `model`/`data`."""
    kind: Any = model
    for depth in range(len(path)):
        step = _step(_unwrap(kind, data), data, path, depth)
        if step is None:
            return  # Any, a scalar, or a shorthand: the override reports what does not fit
        kind, data = step


def _step(kind: Any, data: Any, path: Sequence[str], depth: int) -> tuple[Any, Any] | None:
    """The type and data one part down, or None where the models say no more."""
    part = path[depth]
    if _is_model(kind) and (data is None or isinstance(data, dict)):
        fields = kind.model_fields
        if part not in fields:
            raise UnknownName(depth, unknown_message(part, fields))
        return fields[part].annotation, _get(data, part)
    if typing.get_origin(kind) is dict:
        entries = data if isinstance(data, dict) else {}
        if part not in entries and depth < len(path) - 1:
            noun = _noun(path[depth - 1]) if depth else "key"
            raise UnknownName(depth, unknown_message(part, entries, noun))
        return typing.get_args(kind)[1], entries.get(part)
    if typing.get_origin(kind) is list and isinstance(data, list) and part.isdigit():
        index = int(part)
        return typing.get_args(kind)[0], data[index] if index < len(data) else None
    return None


def _unwrap(kind: Any, data: Any) -> Any:
    """The model or container behind Annotated, Optional and a tagged union (by `data`)."""
    while True:
        origin = typing.get_origin(kind)
        if origin is typing.Annotated:
            kind = typing.get_args(kind)[0]
        elif origin in (typing.Union, types.UnionType):
            options = [a for a in typing.get_args(kind) if a is not type(None)]
            chosen = _choose(options, data)
            if chosen is None:
                return Any
            kind = chosen
        else:
            return kind


def _choose(options: list[Any], data: Any) -> Any:
    """The one option a value can be: the only one, or the model whose `type` it names."""
    plain = [_unannotated(o) for o in options]
    if len(plain) == 1:
        return plain[0]
    tag = data.get("type") if isinstance(data, dict) else None
    for option in plain:
        field = option.model_fields.get("type") if _is_model(option) else None
        tags = typing.get_args(field.annotation) if field is not None else ()
        if field is not None and typing.get_origin(field.annotation) is Literal and tag in tags:
            return option
    containers = [o for o in plain if _is_model(o) or typing.get_origin(o) in (dict, list)]
    return containers[0] if len(containers) == 1 else None


def _unannotated(kind: Any) -> Any:
    return typing.get_args(kind)[0] if typing.get_origin(kind) is typing.Annotated else kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)


def _get(data: Any, key: str) -> Any:
    return data.get(key) if isinstance(data, dict) else None


def _noun(field: str) -> str:
    """`components` -> `component`, `stations` -> `station`; other mappings hold keys."""
    return field[:-1] if field.endswith("s") and not field.endswith("ss") else "key"
