"""`--set dotted.path=value`: override any key of a scenario before it is validated.

Values are read as YAML 1.2 (`twin.config.yaml12`), so `3`, `0.5`, `1e6`, `null`, `[1, 2]` and
`exponential` all mean what they would in the file. List items are addressed by index
(`network.sources.0.rate_per_s=2`). The same machinery applies a scenario's
`architecture_changes` (dotted `path: value` pairs) to its architecture.

Given the model the data will become, each path is checked before it is set
(`twin.config.paths`): a part that names no field, or no existing entry of a mapping such as a
component or a station, is refused as unknown with the nearest valid names. Under a key listed
in `flat` (a mapping whose keys are dotted paths themselves, like `architecture_changes`), the
rest of the path is one key: `--set architecture_changes.components.cdn.cdn.egress_gbps=5`
adds the change `components.cdn.cdn.egress_gbps: 5`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from pydantic import BaseModel

from twin.config.paths import UnknownName, check_path
from twin.config.yaml12 import load_yaml
from twin.errors import InputError

__all__ = ["apply_changes", "apply_overrides", "parse_override", "split_path"]

Change = tuple[list[str], Any]


def split_path(key: str, source: str) -> list[str]:
    """`a.b.c` as its parts, or an InputError naming `source` if a part is empty."""
    path = key.strip().split(".")
    if not key.strip() or any(not part for part in path):
        raise InputError(source, key, "expected a dotted path such as network.stations.api.servers")
    return path


def parse_override(text: str) -> Change:
    """Split `a.b.c=value` into its path and its YAML-parsed value."""
    key, sep, raw = text.partition("=")
    if not sep:
        raise InputError("--set", text, "expected dotted.path=value")
    path = split_path(key, "--set")
    value = load_yaml(raw, "--set", key.strip()) if raw.strip() else None
    return path, value


def apply_overrides(
    data: dict[str, Any],
    overrides: Iterable[str],
    *,
    model: type[BaseModel] | None = None,
    flat: Collection[str] = (),
) -> dict[str, Any]:
    """Return a copy of `data` with every `--set` applied in order."""
    changes = [parse_override(text) for text in overrides]
    return apply_changes(data, changes, model=model, source="--set", flat=flat)


def apply_changes(
    data: dict[str, Any],
    changes: Iterable[Change],
    *,
    model: type[BaseModel] | None = None,
    source: str,
    flat: Collection[str] = (),
) -> dict[str, Any]:
    """Return a copy of `data` with each (path, value) set in order, paths checked on `model`."""
    result = _deep_copy(data)
    for path, value in changes:
        if len(path) > 1 and path[0] in flat:
            path = [path[0], ".".join(path[1:])]
        if model is not None:
            _check(model, result, path, source)
        _set_path(result, path, value, source)
    return result


def _check(model: type[BaseModel], data: dict[str, Any], path: list[str], source: str) -> None:
    try:
        check_path(model, data, path)
    except UnknownName as exc:
        raise InputError(source, ".".join(path[: exc.depth + 1]), str(exc)) from None


def _set_path(node: Any, path: list[str], value: Any, source: str) -> None:
    for depth, part in enumerate(path[:-1]):
        node = _child(node, part, path[: depth + 1], source)
    last = path[-1]
    if isinstance(node, list):
        node[_index(node, last, path, source)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise InputError(source, ".".join(path), "cannot set a key inside a plain value")


def _child(node: Any, part: str, where: list[str], source: str) -> Any:
    if isinstance(node, dict):
        if node.get(part) is None:
            node[part] = {}  # a new or a null section: filled key by key
        return node[part]
    if isinstance(node, list):
        return node[_index(node, part, where, source)]
    raise InputError(source, ".".join(where), "cannot set a key inside a plain value")


def _index(node: list[Any], part: str, where: list[str], source: str) -> int:
    try:
        index = int(part)
    except ValueError:
        raise InputError(source, ".".join(where), "a list is indexed by number") from None
    if not -len(node) <= index < len(node):
        raise InputError(source, ".".join(where), f"index out of range (list has {len(node)})")
    return index


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
