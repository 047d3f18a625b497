"""The base of every block of a results file: closed, strict, and in the order it was built.

A block refuses a key it does not declare (a new key is declared in the model first, so the
model is the contract) and a value of the wrong type rather than coerce it: "3" is not a
count, True is not a number, NaN is not JSON. A key never set is left out when the block is
written and a key set to None is written null, so "does not apply to this run" (omitted) and
"could not be measured" (null) stay apart: an `Omittable` key may be left out but is never
null, a key typed `X | None` may be null. A block keeps the order its keys were given in,
from a mapping or as keyword arguments, so a file read and written again is the same text.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, TypeVar

from annotated_types import Len
from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PlainValidator,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["JSON_SCHEMA_DIALECT", "Block", "Interval", "Number", "Omittable", "keys"]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if not math.isfinite(value):
        raise ValueError("must be a finite number (NaN and infinity are not JSON)")
    return value


Number = Annotated[int | float, PlainValidator(_number), WithJsonSchema({"type": "number"})]
"""A real number kept as it was given: 3600 stays 3600 and 0.5 stays 0.5."""

Interval = Annotated[list[Number | None], Len(2, 2)]
"""A 95 % interval, `[low, high]`."""

T = TypeVar("T")


class _NeverNull:
    """Metadata of `Omittable`: None stands for a key left out, so a null is refused and the
    schema shows the type alone."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_not_null, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if "anyOf" not in json_schema:
            return json_schema
        kept = [s for s in json_schema["anyOf"] if s != {"type": "null"}]
        return kept[0] if len(kept) == 1 else {**json_schema, "anyOf": kept}


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("is left out when it does not apply, never null")
    return value


Omittable = Annotated[T | None, _NeverNull()]
"""A key that is left out of a run it does not apply to (None here), and never null."""


def keys(name: str) -> dict[str, Any]:
    """Schema for a mapping whose keys are data (services by name...): `name` says what they
    are, e.g. `services.<name>` in the docs."""
    return {"propertyNames": {"title": name}}


class Block(BaseModel):
    """One block of a results file (see the module docstring for what a block promises)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    _order: tuple[str, ...] = PrivateAttr(default=())

    @model_validator(mode="wrap")
    @classmethod
    def _remember_order(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        block = handler(data)
        if isinstance(data, dict) and isinstance(block, Block):
            block._order = tuple(data)
        return block

    @model_serializer(mode="wrap")
    def _in_given_order(self, handler: SerializerFunctionWrapHandler) -> Any:
        out = handler(self)
        if not self._order or not isinstance(out, dict):
            return out
        rank = {key: i for i, key in enumerate(self._order)}
        # keys set later (model_copy(update=...)) follow, in declaration order
        return dict(sorted(out.items(), key=lambda item: rank.get(item[0], len(rank))))

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The JSON Schema (2020-12) of this block: what `twin schema` prints."""
        schema = cls.model_json_schema(schema_generator=_ContractSchema)
        return {"$schema": JSON_SCHEMA_DIALECT, **schema}


class _ContractSchema(GenerateJsonSchema):
    """Pydantic's schema without what would mislead a reader of the contract: an optional key
    is omitted when it does not apply, not null by default; titles repeat the key names."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False
