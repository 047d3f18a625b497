"""Filling a target profile's templates (`twin.drill.wire.RequestSpec`) on the load side.

A template is a string naming variables in braces (`/v1/classes/{class}/join`), or a JSON
value (a body, headers) whose strings are templates. A string that is one variable alone
(`"{samples}"`) becomes that variable's value itself, so a body keeps numbers and lists; any
other string gets each variable's text. `capture` reads a dotted path out of a JSON reply.
twin has checked every name when it loaded the profile. Imports neither locust nor twin.
"""

from __future__ import annotations

import json
import string
from collections.abc import Mapping
from typing import Any

__all__ = ["capture", "render"]

_FORMATTER = string.Formatter()


def _alone(text: str) -> str | None:
    """The variable a string is made of alone, else None."""
    parts = list(_FORMATTER.parse(text))
    if len(parts) == 1 and parts[0][0] == "" and parts[0][1]:
        return parts[0][1]
    return None


def render(template: Any, variables: Mapping[str, Any]) -> Any:
    """`template` with its variables filled in (see the module's docstring)."""
    if isinstance(template, str):
        name = _alone(template)
        if name is not None:
            return variables[name]
        return "".join(
            text + ("" if name is None else str(variables[name]))
            for text, name, _spec, _conv in _FORMATTER.parse(template)
        )
    if isinstance(template, Mapping):
        return {str(render(str(k), variables)): render(v, variables) for k, v in template.items()}
    if isinstance(template, list):
        return [render(v, variables) for v in template]
    return template


def capture(text: str, path: str) -> Any:
    """The value at the dotted `path` of the JSON `text` (a list is mapped over); None when
    the reply is not JSON or has no such value."""
    try:
        value: Any = json.loads(text)
    except ValueError:
        return None
    for key in path.split("."):
        value = _step(value, key)
        if value is None:
            return None
    return value


def _step(value: Any, key: str) -> Any:
    if isinstance(value, list):
        found = [_step(v, key) for v in value]
        return [v for v in found if v is not None]
    if isinstance(value, dict):
        return value.get(key)
    return None
