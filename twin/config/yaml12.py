"""YAML as twin reads it: the YAML 1.2 core schema, duplicate keys refused, aliases bounded.

PyYAML's parser (libyaml's when it is there) builds the node graph; the resolvers here are the
YAML 1.2 core schema's instead of PyYAML's YAML 1.1 ones, so `1e15` and `1.5e3` are numbers,
`017` is seventeen, and `yes`, `on`, `1:30` and dates stay strings (pydantic reads a date-time
from its string). Before anything is built, the graph is measured with its aliases expanded:
a document of more than `MAX_YAML_NODES` values (an alias bomb: a few lines that expand to
billions) or nested deeper than `MAX_YAML_DEPTH` is refused, as is an alias to itself, so what
comes out can be copied and validated in bounded time and memory. Every failure is an
`InputError` naming the source and the line.
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from twin.config.limits import MAX_YAML_DEPTH, MAX_YAML_NODES
from twin.errors import InputError

__all__ = ["load_yaml"]

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# The YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
# Each: tag, pattern, the first characters it can start with ("" for the empty scalar).
_CORE: tuple[tuple[str, str, list[str]], ...] = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("null", r"^(?:~|null|Null|NULL|)$", [*"~nN", ""]),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
)


class _Refused(Exception):
    """A document refused before construction, with the line it is at."""

    def __init__(self, node: Node, message: str) -> None:
        self.line = node.start_mark.line + 1
        super().__init__(message)


class _Loader(_Base):
    """PyYAML's safe loader with the core schema's resolvers and no duplicate keys."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        # No `<<` merge keys (YAML 1.1 only): straight to the base constructor, after the check.
        assert isinstance(node, MappingNode)
        first: dict[Any, Node] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base constructor says so
            if key in first:
                line = first[key].start_mark.line + 1
                raise _Refused(key_node, f"duplicate key {key!r} (first at line {line})")
            first[key] = key_node
        return yaml.constructor.BaseConstructor.construct_mapping(self, node, deep=deep)

    def construct_yaml_int(self, node: Node) -> int:
        text = str(self.construct_scalar(node))
        if text.startswith(("0o", "0x")):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text, 10)

    def construct_yaml_float(self, node: Node) -> float:
        text = str(self.construct_scalar(node)).lower()
        if text.endswith(".inf"):
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if text == ".nan" else float(text)


for _name, _pattern, _first in _CORE:
    _Loader.add_implicit_resolver(f"tag:yaml.org,2002:{_name}", re.compile(_pattern), _first)
_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_yaml_float)


def load_yaml(text: str, source: str, field: str | None = None) -> Any:
    """The value of one YAML 1.2 document, or an InputError naming `source` and the line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _measure(node)
        return loader.construct_document(node)
    except _Refused as exc:
        raise InputError(source, field, f"line {exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        lines = text.count("\n") + (not text.endswith("\n"))  # libyaml marks the end past it
        where = f" at line {min(mark.line + 1, max(lines, 1))}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or exc.__class__.__name__
        raise InputError(source, field, f"not valid YAML{where} ({problem})") from None
    finally:
        loader.dispose()


def _measure(root: Node) -> None:
    """Refuse a graph too big once aliases are expanded, too deep, or holding itself."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node, depth: int) -> int:
        if id(node) in sizes:
            return sizes[id(node)]
        if depth > MAX_YAML_DEPTH:
            message = f"nested deeper than the limit of {MAX_YAML_DEPTH} levels (MAX_YAML_DEPTH)"
            raise _Refused(node, message)
        if id(node) in open_nodes:
            raise _Refused(node, "an alias refers to a value that holds it (a recursive alias)")
        open_nodes.add(id(node))
        total = 1 + sum(size(child, depth + 1) for child in _children(node))
        open_nodes.discard(id(node))
        if total > MAX_YAML_NODES:
            message = (
                f"its aliases expand the document past the limit of {MAX_YAML_NODES:,} values"
                " (MAX_YAML_NODES, see README): refused before it is built"
            )
            raise _Refused(node, message)
        sizes[id(node)] = total
        return total

    size(root, 0)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []
