"""The JSON Schema of the files a user writes: scenarios (either kind) and architectures.

Made from the models that validate those files, so it says what the loader accepts: every
field with its type, default, limits and description. `twin schema scenario|architecture`
prints it, and `twin/scenarios/schema/` keeps it as files that the shipped YAML files name on
their first line (`# yaml-language-server: $schema=...`) for editors to complete and check.

Written in draft 07, the newest draft editors' YAML support (yaml-language-server) validates:
definitions under `definitions`, and a reference never beside other keys (draft 07 ignores
them; a described reference is wrapped in `allOf`). A scenario is a platform scenario when
`kind: platform`, else a bare network, as the loader decides (`if`/`then`/`else`). The
loader's cross-field checks (routes that exist, shares that sum to 1) stay the loader's.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from twin.config.architecture import Architecture
from twin.config.network import NetworkScenario
from twin.config.platform import PlatformScenario

__all__ = ["DRAFT_07", "architecture_schema", "file_schema", "scenario_schema"]

DRAFT_07 = "http://json-schema.org/draft-07/schema#"
_REF = "#/definitions/{model}"


class _FileSchema(GenerateJsonSchema):
    """Pydantic's schema without the titles it makes from field names ("Duration S")."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def _definitions(*models: type[BaseModel]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each model's reference and the definitions they share."""
    refs, top = models_json_schema(
        [(m, "validation") for m in models], ref_template=_REF, schema_generator=_FileSchema
    )
    return [refs[(m, "validation")] for m in models], _draft_07(top.get("$defs", {}))


def _draft_07(node: Any) -> Any:
    """`node` with every described reference wrapped: `{"allOf": [{"$ref": ...}], ...}`."""
    if isinstance(node, list):
        return [_draft_07(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _draft_07(value) for key, value in node.items()}
    if "$ref" in out and len(out) > 1:
        out = {"allOf": [{"$ref": out.pop("$ref")}], **out}
    return out


def scenario_schema() -> dict[str, Any]:
    """A scenario file of either kind."""
    (network, platform), definitions = _definitions(NetworkScenario, PlatformScenario)
    return {
        "$schema": DRAFT_07,
        "title": "twin scenario",
        "description": "A twin scenario: riders on an architecture (kind: platform) or a bare "
        "open queueing network (kind: network, the default).",
        "if": {"required": ["kind"], "properties": {"kind": {"const": "platform"}}},
        "then": platform,
        "else": network,
        "definitions": definitions,
    }


def architecture_schema() -> dict[str, Any]:
    """An architecture file."""
    _, definitions = _definitions(Architecture)
    root = definitions.pop(Architecture.__name__)  # its keys at the top, for editors
    return {"$schema": DRAFT_07, **root, "title": "twin architecture", "definitions": definitions}


def file_schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    """The schema of a file one model validates (its keys at the top, as an architecture's)."""
    _, definitions = _definitions(model)
    root = definitions.pop(model.__name__)
    return {"$schema": DRAFT_07, **root, "title": title, "definitions": definitions}
