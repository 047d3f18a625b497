"""A JSON Schema as Markdown tables of its keys: the README's list of `summary.json` keys
(key path, type, meaning) and `docs/fields.md`, the reference of the files a user writes
(with each field's default and limits), are made by it, so the documentation is the models'
own descriptions.

Paths read as a user would look a value up: `services.<name>.latency_ms.p99`, `slo[].passed`,
`incidents[type=surge].multiplier` (one variant of a list's items). A block met again under
another key (a latency block, a service time) is listed once and referred to after. Pure:
schema in, text out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

__all__ = ["fields_table", "keys_table"]

Schema = dict[str, Any]
Row = tuple[str, Schema, str, str]  # path, property, kind, meaning

# A limit keyword and how the table writes it.
_LIMITS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minItems", "at least {} item(s)"),
    ("maxItems", "at most {} item(s)"),
    ("minProperties", "at least {} key(s)"),
)


def keys_table(schema: Schema) -> str:
    """The Markdown table of every key of `schema`, in declaration order."""
    lines = ["| key | type | meaning |", "|---|---|---|"]
    for path, _prop, kind, meaning in _Walk(schema).rows(schema, ""):
        lines.append(f"| `{path}` | {_cell(kind)} | {_cell(meaning)} |")
    return "\n".join(lines) + "\n"


def fields_table(schema: Schema, block: Schema | None = None) -> str:
    """The Markdown table of every field of `block` (default: the schema's top level), with its
    default and its limits, in declaration order."""
    lines = ["| key | type | default | limits | meaning |", "|---|---|---|---|---|"]
    walk = _Walk(schema)
    node = walk.unwrap(block or schema)
    for path, prop, kind, meaning in walk.rows(
        walk.resolve(node["$ref"]) if "$ref" in node else node, ""
    ):
        cells = (kind, _default(prop), limits(prop), meaning)
        lines.append(f"| `{path}` | " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _options(prop: Schema) -> list[Schema]:
    """The forms a value may take (`anyOf`, `oneOf`); none for a single form."""
    options: list[Schema] = prop.get("anyOf") or prop.get("oneOf") or []
    return options


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(prop: Schema) -> str:
    if "default" not in prop:
        return ""
    value = prop["default"]
    if isinstance(value, dict) and value:
        return "each field's"
    return f"`{json.dumps(value)}`"


def limits(prop: Schema) -> str:
    """The limits on a value (`> 0, <= 1`, `keys: bike, tread, app`), from any of its forms."""
    found: list[str] = []
    for form in [prop, *_options(prop)]:
        found += [text.format(form[key]) for key, text in _LIMITS if key in form]
        if "pattern" in form:
            found.append(f"matches `{form['pattern']}`")
        if "enum" in form.get("propertyNames", {}):
            found.append("keys: " + ", ".join(form["propertyNames"]["enum"]))
        for inner in (form.get("items"), form.get("additionalProperties")):
            if isinstance(inner, dict) and limits(inner):
                found.append(f"each {limits(inner)}")
    return ", ".join(dict.fromkeys(found))


class _Walk:
    """Walks a schema's objects, remembering where each shared block was first listed."""

    def __init__(self, schema: Schema) -> None:
        self.defs: dict[str, Schema] = schema.get("$defs") or schema.get("definitions") or {}
        self.listed: dict[str, str] = {}

    def rows(self, node: Schema, prefix: str) -> Iterator[Row]:
        required = set(node.get("required", ()))
        for name, given in node.get("properties", {}).items():
            prop = self.unwrap(given)
            path = f"{prefix}.{name}" if prefix else name
            kind = self.kind(prop) + (", required" if name in required else "")
            children = list(self.children(prop, path))
            again = [self.listed[ref] for ref, _, _ in children if ref in self.listed]
            if again:
                kind += f", as `{again[0]}`"
            yield path, prop, kind, prop.get("description") or self.description(prop)
            for ref, block, at in children:
                if ref not in self.listed:
                    self.listed[ref] = at
                    yield from self.rows(block, at)

    def children(self, prop: Schema, path: str) -> Iterator[tuple[str, Schema, str]]:
        """(reference, block, path) of each block under `prop`: itself, a map's values, an
        array's items, each form of a union (each variant of a discriminated one apart)."""
        tag = prop.get("discriminator", {}).get("propertyName")
        for option in _options(prop) or [prop]:
            option = self.unwrap(option)
            if "$ref" in option:
                ref = option["$ref"]
                block = self.resolve(ref)
                yield ref, block, _variant(path, tag, block) if tag else path
            elif isinstance(option.get("additionalProperties"), dict):
                key = prop.get("propertyNames", {}).get("title", "key")
                yield from self.children(option["additionalProperties"], f"{path}.<{key}>")
            elif isinstance(option.get("items"), dict):
                yield from self.children(option["items"], f"{path}[]")

    def unwrap(self, prop: Schema) -> Schema:
        """A reference wrapped in `allOf` to carry a description (draft 07), as a reference."""
        inner = prop.get("allOf")
        if not (isinstance(inner, list) and len(inner) == 1):
            return prop
        rest = {k: v for k, v in prop.items() if k != "allOf"}
        return {**inner[0], **rest}

    def resolve(self, ref: str) -> Schema:
        return self.defs[ref.rsplit("/", 1)[-1]]

    def description(self, prop: Schema) -> str:
        ref = prop.get("$ref")
        return str(self.resolve(ref).get("description", "")) if ref else ""

    def kind(self, prop: Schema) -> str:
        """`integer`, `number or null`, `map of object`, `one of "exact", "fluid"`..."""
        prop = self.unwrap(prop)
        if "$ref" in prop:
            return "object"
        if _options(prop):  # two forms of object read as one: the keys of both are listed
            return " or ".join(dict.fromkeys(self.kind(option) for option in _options(prop)))
        if "enum" in prop:
            return "one of " + ", ".join(f'"{v}"' for v in prop["enum"])
        if "const" in prop:
            return f'"{prop["const"]}"'
        kind = prop.get("type", "any")
        if kind == "array" and isinstance(prop.get("items"), list):  # a tuple (draft 07)
            return "array of (" + ", ".join(self.kind(item) for item in prop["items"]) + ")"
        if kind == "array":
            return f"array of {self.inner(prop.get('items', {}))}"
        if kind == "object" and isinstance(prop.get("additionalProperties"), dict):
            return f"map of {self.inner(prop['additionalProperties'])}"
        return str(kind)

    def inner(self, prop: Schema) -> str:
        """The kind of an array's items or a map's values, bracketed when it has parts."""
        kind = self.kind(prop)
        return f"({kind})" if " " in kind else kind


def _variant(path: str, tag: str, block: Schema) -> str:
    """`incidents[]` as `incidents[type=surge]`: the variant whose `tag` is that value."""
    value = block.get("properties", {}).get(tag, {}).get("const", "?")
    return f"{path[:-2]}[{tag}={value}]" if path.endswith("[]") else f"{path}[{tag}={value}]"
