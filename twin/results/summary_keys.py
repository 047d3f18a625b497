"""Which dotted keys a `summary.json` can hold, read from `Summary`'s JSON Schema.

An SLO or a `--compare` key must name a number a summary can hold. The schema gives the
patterns (`requests.<type>.latency_ms.p99`, `slo.<i>.observed`); a segment in angle brackets
is data (a service's name, a request type, a list index). `check_key` refuses a key that
matches no pattern, or names a service or request type close to one the run has, with the
nearest valid keys; a well-formed key for a name the run lacks is left to the gate (a
missing value fails the check).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import Any

from twin.errors import InputError

__all__ = ["DERIVED", "check_key", "numeric_patterns"]

DERIVED = ("requests.<type>.error_ratio",)  # errors / (count + errors), worked out by the gate
_NUMERIC = {"number", "integer"}


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    return defs[ref.rsplit("/", 1)[-1]] if isinstance(ref, str) else node


def _walk(node: Mapping[str, Any], defs: Mapping[str, Any], path: str) -> Iterator[str]:
    """Every dotted pattern below `node` that can hold a number."""
    node = _resolve(node, defs)
    for option in node.get("anyOf", []):
        yield from _walk(option, defs, path)
    types = node.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if types & _NUMERIC and path:
        yield path
    for name, sub in node.get("properties", {}).items():
        yield from _walk(sub, defs, f"{path}.{name}" if path else name)
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        title = node.get("propertyNames", {}).get("title", "key")
        yield from _walk(extra, defs, f"{path}.<{title}>")
    for sub in [node.get("items"), *node.get("prefixItems", [])]:
        if isinstance(sub, Mapping):
            yield from _walk(sub, defs, f"{path}.<i>")


@cache
def numeric_patterns() -> tuple[str, ...]:
    """Every pattern of a number in a summary, plus the derived keys, without repeats."""
    from twin.results.summary import Summary  # deferred: pydantic builds the schema

    schema = Summary.json_schema()
    found = dict.fromkeys([*_walk(schema, schema.get("$defs", {}), ""), *DERIVED])
    return tuple(found)


def _matches(pattern: str, parts: list[str]) -> bool:
    pieces = pattern.split(".")
    if len(pieces) != len(parts):
        return False
    for piece, part in zip(pieces, parts, strict=True):
        if piece == "<i>":
            if not part.lstrip("-").isdigit():
                return False
        elif not piece.startswith("<") and piece != part:
            return False
    return True


def _data_names(summary: Mapping[str, Any], group: str) -> list[str]:
    block = summary.get(group)
    return list(block) if isinstance(block, Mapping) else []


def _candidates(summaries: Iterable[Mapping[str, Any]]) -> list[str]:
    """The patterns with each `<name>`/`<type>` filled in from the summaries at hand."""
    names = {"services": set(), "requests": set()}  # type: dict[str, set[str]]
    for summary in summaries:
        for group in names:
            names[group].update(_data_names(summary, group))
    out = []
    for pattern in numeric_patterns():
        head, _, rest = pattern.partition(".")
        if head in names and rest.startswith("<") and names[head]:
            tail = rest.split(".", 1)[1] if "." in rest else ""
            out += [f"{head}.{n}.{tail}".rstrip(".") for n in sorted(names[head])]
        else:
            out.append(pattern)
    return out


def check_key(key: str, summaries: Iterable[Mapping[str, Any]] = (), *, source: str) -> str:
    """`key` itself when a summary can hold a number there; otherwise an InputError naming the
    nearest valid keys (with the service and request names of `summaries`)."""
    summaries = list(summaries)
    parts = key.split(".")
    fits = [p for p in numeric_patterns() if _matches(p, parts)]
    if fits and parts[0] == "drift" and summaries:
        _check_drifted(key, parts[1], summaries, source)
    if fits and not _misspelt_name(parts, summaries):
        return key
    near = difflib.get_close_matches(key, _candidates(summaries), n=3, cutoff=0.6)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    what = (
        "names no number a summary.json holds"
        if not fits
        else "names no such " + ("service" if parts[0] == "services" else "request type")
    )
    raise InputError(source, key, f"{what} (see `twin schema summary`){hint}")


def _check_drifted(
    key: str, name: str, summaries: list[Mapping[str, Any]], source: str
) -> None:  # fmt: skip
    """A `drift.<type>` key must name a type the drill drove and checked: a gate on one it
    did not drive would only ever fail for a missing value, so it is refused as bad input."""
    checked = [set(_data_names(s, "drift")) for s in summaries]
    if all(name in names for names in checked):
        return
    known = sorted(set().union(*checked))
    why = (f"the drill did not drive {name!r} (drift checks: {', '.join(known)})" if known
           else "no drift checks in this summary (only `twin drill` writes them)")  # fmt: skip
    raise InputError(source, key, why)


def _misspelt_name(parts: list[str], summaries: list[Mapping[str, Any]]) -> bool:
    """A service or request type the summaries lack but that is close to one they have."""
    if parts[0] not in ("services", "requests") or len(parts) < 2 or not summaries:
        return False
    known = {n for s in summaries for n in _data_names(s, parts[0])}
    return parts[1] not in known and bool(difflib.get_close_matches(parts[1], known, cutoff=0.6))
