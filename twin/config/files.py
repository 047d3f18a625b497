"""Scenario and architecture files to Python: YAML parsing and pydantic validation, with every
failure an `InputError` naming the file and the dotted field, so the CLI can print one line."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from twin.config.limits import MAX_FILE_BYTES, over
from twin.config.yaml12 import load_yaml
from twin.errors import InputError

__all__ = ["field_path", "read_yaml", "validate"]

_INNER_PATH = re.compile(r"@([^@]+)@ ")


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML 1.2 mapping (`twin.config.yaml12`), or raise an InputError naming the file."""
    data = load_yaml(_read_text(path), str(path))
    if not isinstance(data, dict):
        raise InputError(str(path), None, "a scenario file must be a YAML mapping")
    return data


def _read_text(path: Path) -> str:
    """The file's text: a regular file, no bigger than MAX_FILE_BYTES (/dev/zero never ends)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise InputError(str(path), None, "not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            message = over("size", info.st_size, MAX_FILE_BYTES, "MAX_FILE_BYTES", " bytes")
            raise InputError(str(path), None, message)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(str(path), None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), None, f"cannot read ({exc.__class__.__name__})") from None


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
