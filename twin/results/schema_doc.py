"""A JSON Schema as a Markdown table of its keys (key path, type, meaning): the README's list
of `summary.json` keys is made by it, so the documentation is the model's own descriptions.

Paths read as a user would look a value up: `services.<name>.latency_ms.p99`, `slo[].passed`.
A block met again under another key (a latency block, a tracking block) is listed once and
referred to after. Pure: schema in, text out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["keys_table"]

Schema = dict[str, Any]


def keys_table(schema: Schema) -> str:
    """The Markdown table of every key of `schema`, in declaration order."""
    lines = ["| key | type | meaning |", "|---|---|---|"]
    walk = _Walk(schema.get("$defs", {}))
    for path, kind, meaning in walk.rows(schema, ""):
        lines.append(f"| `{path}` | {_cell(kind)} | {_cell(meaning)} |")
    return "\n".join(lines) + "\n"


def _options(prop: Schema) -> list[Schema]:
    """The forms a value may take (`anyOf`, `oneOf`); none for a single form."""
    options: list[Schema] = prop.get("anyOf") or prop.get("oneOf") or []
    return options


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


class _Walk:
    """Walks a schema's objects, remembering where each shared block was first listed."""

    def __init__(self, defs: dict[str, Schema]) -> None:
        self.defs = defs
        self.listed: dict[str, str] = {}

    def rows(self, node: Schema, prefix: str) -> Iterator[tuple[str, str, str]]:
        required = set(node.get("required", ()))
        for name, prop in node.get("properties", {}).items():
            path = f"{prefix}.{name}" if prefix else name
            kind = self.kind(prop) + (", required" if name in required else "")
            children = list(self.children(prop, path))
            again = [self.listed[ref] for ref, _, _ in children if ref in self.listed]
            if again:
                kind += f", as `{again[0]}`"
            yield path, kind, prop.get("description") or self.description(prop)
            for ref, block, at in children:
                if ref not in self.listed:
                    self.listed[ref] = at
                    yield from self.rows(block, at)

    def children(self, prop: Schema, path: str) -> Iterator[tuple[str, Schema, str]]:
        """(reference, block, path) of each block under `prop`: itself, a map's values, an
        array's items, each form of a union."""
        for option in _options(prop) or [prop]:
            if "$ref" in option:
                ref = option["$ref"]
                yield ref, self.resolve(ref), path
            elif isinstance(option.get("additionalProperties"), dict):
                key = prop.get("propertyNames", {}).get("title", "key")
                yield from self.children(option["additionalProperties"], f"{path}.<{key}>")
            elif isinstance(option.get("items"), dict):
                yield from self.children(option["items"], f"{path}[]")

    def resolve(self, ref: str) -> Schema:
        return self.defs[ref.rsplit("/", 1)[-1]]

    def description(self, prop: Schema) -> str:
        ref = prop.get("$ref")
        return str(self.resolve(ref).get("description", "")) if ref else ""

    def kind(self, prop: Schema) -> str:
        """`integer`, `number or null`, `map of object`, `one of "exact", "fluid"`..."""
        if "$ref" in prop:
            return "object"
        if _options(prop):  # two forms of object read as one: the keys of both are listed
            return " or ".join(dict.fromkeys(self.kind(option) for option in _options(prop)))
        if "enum" in prop:
            return "one of " + ", ".join(f'"{v}"' for v in prop["enum"])
        if "const" in prop:
            return f'"{prop["const"]}"'
        kind = prop.get("type", "any")
        if kind == "array":
            return f"array of {self.inner(prop.get('items', {}))}"
        if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
            return f"map of {self.inner(prop['additionalProperties'])}"
        return str(kind)

    def inner(self, prop: Schema) -> str:
        """The kind of an array's items or a map's values, bracketed when it has parts."""
        kind = self.kind(prop)
        return f"({kind})" if " " in kind else kind
