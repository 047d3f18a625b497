"""Scenario and architecture files to Python: YAML parsing and pydantic validation, with every
failure an `InputError` naming the file and the dotted field, so the CLI can print one line."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from twin.errors import InputError

__all__ = ["field_path", "read_yaml", "validate"]

_INNER_PATH = re.compile(r"@([^@]+)@ ")


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML mapping, or raise an InputError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), None, "no such file") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, f"cannot read ({exc.__class__.__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise InputError(str(path), None, f"not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise InputError(str(path), None, "a scenario file must be a YAML mapping")
    return data


def validate(build: Callable[[], Any], source: str) -> Any:
    """Run a pydantic build and turn its first error into an InputError naming the field."""
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field, message = field_path(first["loc"], first["msg"])
        raise InputError(source, field or None, message) from None


def field_path(loc: tuple[Any, ...], msg: str) -> tuple[str, str]:
    """Dotted field path and a clean message from a pydantic error location."""
    parts = [str(p) for p in loc if not _is_tag(p)]
    message = msg.removeprefix("Value error, ")
    inner = _INNER_PATH.match(message)
    if inner:
        parts.append(inner.group(1))
        message = message[inner.end() :]
    return ".".join(parts), message


def _is_tag(part: Any) -> bool:
    # pydantic adds validator and union tags such as "function-after[...]" to locations.
    return isinstance(part, str) and ("[" in part or part in {"float", "int", "list"})
