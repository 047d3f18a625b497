"""`--set dotted.path=value`: override any key of a scenario before it is validated.

Values are read as YAML, so `3`, `0.5`, `null`, `[1, 2]` and `exponential` all mean what
they would in the file. List items are addressed by index (`network.sources.0.rate_per_s=2`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml

from twin.errors import InputError

__all__ = ["apply_overrides", "parse_override"]


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into its path and its YAML-parsed value."""
    key, sep, raw = text.partition("=")
    path = [part for part in key.strip().split(".")]
    if not sep or not key.strip() or any(not part for part in path):
        raise InputError("--set", text, "expected dotted.path=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise InputError(
            "--set", key, f"value is not valid YAML ({exc.__class__.__name__})"
        ) from None
    return path, value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of `data` with every `--set` applied in order."""
    result = _deep_copy(data)
    for text in overrides:
        path, value = parse_override(text)
        _set_path(result, path, value, text)
    return result


def _set_path(node: Any, path: list[str], value: Any, text: str) -> None:
    for depth, part in enumerate(path[:-1]):
        node = _child(node, part, path[: depth + 1], text, create=True)
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, path, text)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise InputError("--set", ".".join(path), "cannot set a key inside a plain value")


def _child(node: Any, part: str, where: list[str], text: str, *, create: bool) -> Any:
    if isinstance(node, dict):
        if part not in node and create:
            node[part] = {}
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, where, text)]
    raise InputError("--set", ".".join(where), "cannot set a key inside a plain value")


def _index(node: list[Any], part: str, where: list[str], text: str) -> int:
    try:
        index = int(part)
    except ValueError:
        raise InputError("--set", ".".join(where), "a list is indexed by number") from None
    if not -len(node) <= index < len(node):
        raise InputError("--set", ".".join(where), f"index out of range (list has {len(node)})")
    return index


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
