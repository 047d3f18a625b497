"""Read a scenario file: YAML, then `--set` overrides, then validation by `kind`.

Every failure is an `InputError` naming the file and the dotted field, so the CLI can
print one line. Kinds register a model here; `network` is built in, `platform` joins later.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from twin.config.network import NetworkScenario
from twin.errors import InputError

__all__ = ["field_path", "load_scenario", "read_yaml", "register_kind", "validate"]

# A kind's builder gets the raw mapping and the file's path (to find sibling files).
Builder = Callable[[dict[str, Any], Path], BaseModel]
_KINDS: dict[str, Builder] = {"network": lambda data, _path: NetworkScenario.model_validate(data)}
_INNER_PATH = re.compile(r"@([^@]+)@ ")
# Kinds whose package registers itself on first use, so importing the loader stays cheap.
_LAZY_KINDS = {"platform": "twin.platform"}


def register_kind(kind: str, builder: Builder) -> None:
    """Teach the loader a scenario kind (`platform` registers itself this way)."""
    _KINDS[kind] = builder


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


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Any:
    """Load, override and validate the scenario at `path`."""
    from twin.config.overrides import apply_overrides

    path = Path(path)
    data = apply_overrides(read_yaml(path), overrides)
    kind = data.get("kind", "network")
    if isinstance(kind, str) and kind not in _KINDS and kind in _LAZY_KINDS:
        importlib.import_module(_LAZY_KINDS[kind]).register()
    builder = _KINDS.get(kind) if isinstance(kind, str) else None
    if builder is None:
        known = ", ".join(sorted({*_KINDS, *_LAZY_KINDS}))
        raise InputError(str(path), "kind", f"unknown kind {kind!r} (known: {known})")
    return validate(lambda: builder(data, path), str(path))


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
