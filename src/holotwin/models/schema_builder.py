"""Build resolved :class:`~holotwin.models.schema.Schema` objects from DTDL schema values.

A schema value is a primitive name (``"double"``), a DTMI naming a complex schema declared
elsewhere (an interface's ``schemas``, in the same batch or already registered), or an inline
Array / Enum / Map / Object. Each DTDL schema class has one ``_build_<class>`` method.

Example:
    >>> from holotwin.models.parsing import ParseContext
    >>> builder = SchemaBuilder(lambda dtmi: None, {})
    >>> ctx = ParseContext(version=3)
    >>> schema = builder.build(ctx, {"@type": "Array", "elementSchema": "double"}, "x", "schema",
    ...                        set())
    >>> schema.describe() if schema else ctx.issues
    'array of double'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from holotwin.models.complex import (
    ArraySchema,
    EnumSchema,
    EnumValue,
    Field,
    MapSchema,
    ObjectSchema,
)
from holotwin.models.geospatial import GEOSPATIAL_SCHEMAS, GeospatialSchema
from holotwin.models.identifiers import is_dtmi
from holotwin.models.parsing import (
    ParseContext,
    as_list,
    check_keys,
    child_label,
    class_of,
    read_id,
    read_name,
    read_text,
    read_types,
    scalar,
)
from holotwin.models.primitives import PRIMITIVES_V2, PRIMITIVES_V3, PrimitiveSchema
from holotwin.models.schema import Schema

__all__ = ["COMPLEX_CLASSES", "SchemaBuilder", "SchemaDefinition", "schema_depth"]

COMPLEX_CLASSES: Final = ("Array", "Enum", "Map", "Object")
_MAX_DEPTH: Final = {2: 5, 3: 5}
_MAX_COUNT: Final = {"enumValues": 100, "fields": 30}
"""DTDL v2 limits on the elements of an Enum and an Object (v3 has none; v2 also needs one)."""
_INSTANCE = re.compile(r"dtmi:dtdl:instance:Schema:(\w+);([23])")
_GEO_DTMI = re.compile(r"dtmi:standard:schema:geospatial:(\w+);([23])")

SchemaDefinition = tuple[dict[str, Any], ParseContext, str]
"""A complex schema declared with an ``@id`` in the batch: (JSON, its context, its label)."""


def schema_depth(schema: Schema) -> int:
    """How deeply complex schemas nest in ``schema`` (a primitive is 0, ``array of double`` 1).

    Example:
        >>> schema_depth(ArraySchema(ArraySchema(PrimitiveSchema("double"))))
        2
    """
    if isinstance(schema, ArraySchema):
        return 1 + schema_depth(schema.element)
    if isinstance(schema, MapSchema):
        return 1 + schema_depth(schema.value)
    if isinstance(schema, ObjectSchema):
        return 1 + max((schema_depth(f.schema) for f in schema.fields), default=0)
    return 1 if isinstance(schema, EnumSchema) else 0


def contains_array(schema: Schema) -> bool:
    """True if ``schema`` is or holds an Array (DTDL v2 forbids that for properties); a
    geospatial schema counts, as its coordinates are arrays.

    Example:
        >>> contains_array(GeospatialSchema("point")), contains_array(PrimitiveSchema("double"))
        (True, False)
    """
    if isinstance(schema, ArraySchema | GeospatialSchema):
        return True
    if isinstance(schema, MapSchema):
        return contains_array(schema.value)
    if isinstance(schema, ObjectSchema):
        return any(contains_array(f.schema) for f in schema.fields)
    return False


class SchemaBuilder:
    """Turns DTDL schema values into resolved schemas for one batch of documents.

    ``lookup`` finds schemas already registered; ``definitions`` are the complex schemas with an
    ``@id`` declared anywhere in the batch. Each definition is built once (so its issues are
    reported once) and reference cycles are reported, not followed. ``elements`` are all the
    elements with an ``@id`` in the batch: where DTDL expects an element (an enum value, a
    field, a map key), it may name one defined elsewhere by its ``@id``.
    """

    def __init__(
        self,
        lookup: Callable[[str], Schema | None],
        definitions: Mapping[str, SchemaDefinition],
        elements: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        self._lookup = lookup
        self._definitions = definitions
        self._elements: Mapping[str, dict[str, Any]] = {} if elements is None else elements
        self.built: dict[str, Schema] = {}
        self._failed: set[str] = set()
        self._building: list[str] = []

    def build(
        self,
        ctx: ParseContext,
        value: object,
        label: str,
        prop: str,
        refs: set[str],
    ) -> Schema | None:
        """The schema ``value`` found in property ``prop`` of element ``label``, or None (the
        problem is reported). DTMIs of schemas declared outside the element go into ``refs``."""
        value = scalar(value)
        if isinstance(value, str):
            return self._named(ctx, value, label, prop, refs)
        if isinstance(value, dict):
            return self._complex(ctx, value, child_label(label, value, prop), refs)
        ctx.report(label, prop, "invalidSchema",
                   f"{prop} must be a schema name, a DTMI or a schema object, not {value!r}")
        return None

    def element(self, value: object) -> object:
        """The batch element ``value`` names by ``@id``, else ``value`` itself.

        Example:
            >>> field = {"@id": "dtmi:ex:f;1", "name": "f", "schema": "double"}
            >>> builder = SchemaBuilder(lambda dtmi: None, {}, {"dtmi:ex:f;1": field})
            >>> builder.element("dtmi:ex:f;1") is field, builder.element(3)
            (True, 3)
        """
        if isinstance(value, str) and value in self._elements:
            return self._elements[value]
        return value

    def build_definition(self, dtmi: str, refs: set[str]) -> Schema | None:
        """Build the batch definition ``dtmi`` (memoized)."""
        if dtmi in self.built:
            return self.built[dtmi]
        if dtmi in self._failed:
            return None
        obj, ctx, label = self._definitions[dtmi]
        return self._complex(ctx, obj, label, refs)

    def checked(
        self, ctx: ParseContext, value: object, label: str, prop: str, refs: set[str]
    ) -> Schema | None:
        """Like :meth:`build`, also checking the DTDL limit on how deep complex schemas nest."""
        schema = self.build(ctx, value, label, prop, refs)
        limit = _MAX_DEPTH.get(ctx.version, 8)
        if schema is not None and schema_depth(schema) > limit:
            ctx.report(label, prop, "schemaTooDeep",
                       f"the {prop} of {label} nests complex schemas (Array, Enum, Map, Object) "
                       f"{schema_depth(schema)} levels deep; DTDL v{ctx.version} allows at most "
                       f"{limit}")
        return schema

    def _named(
        self, ctx: ParseContext, value: str, label: str, prop: str, refs: set[str]
    ) -> Schema | None:
        primitives = PRIMITIVES_V2 if ctx.version < 3 else PRIMITIVES_V3
        if value in primitives:
            return PrimitiveSchema(value)
        if value in GEOSPATIAL_SCHEMAS:
            return GeospatialSchema(value)
        for pattern, table in ((_INSTANCE, primitives), (_GEO_DTMI, GEOSPATIAL_SCHEMAS)):
            match = pattern.fullmatch(value)
            if match and match[1] in table and int(match[2]) == ctx.version:
                return _simple(match[1])
        if not is_dtmi(value, ctx.version):
            ctx.report(label, prop, "unknownSchema",
                       f"'{value}' is not a DTDL v{ctx.version} schema name or a valid DTMI")
            return None
        if value in self._building:
            path = " -> ".join([*self._building[self._building.index(value):], value])
            ctx.report(label, prop, "schemaCycle", f"schema {value} contains itself ({path})")
            return None
        refs.add(value)
        if value in self._definitions:
            return self.build_definition(value, refs)
        found = self._lookup(value)
        if found is None:
            ctx.report(label, prop, "unresolved",
                       f"schema {value} is not defined in this batch or a registered model "
                       "(add the model that declares it to the batch)")
        return found

    def _complex(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, refs: set[str]
    ) -> Schema | None:
        ctx = ctx.nested(obj, label, definition=True)
        cls = class_of(obj.get("@type"), ctx.version, COMPLEX_CLASSES)
        if cls is None:
            ctx.report(label, "@type", "invalidSchema" if "@type" in obj else "missingType",
                       f"a schema object needs @type Array, Enum, Map or Object, "
                       f"not {obj.get('@type')!r}")
            return None
        dtmi = read_id(ctx, obj, label, required=False)
        if dtmi is not None:
            if dtmi in self.built:
                return self.built[dtmi]
            self._building.append(dtmi)
        try:
            read_types(ctx, obj, label, cls)
            read_text(ctx, obj, label, "displayName")
            read_text(ctx, obj, label, "description")
            read_text(ctx, obj, label, "comment")
            builders = {
                "Array": self._build_array, "Enum": self._build_enum,
                "Map": self._build_map, "Object": self._build_object,
            }
            schema = builders[cls](ctx, obj, label, dtmi, refs)
        finally:
            if dtmi is not None:
                self._building.pop()
        if dtmi is not None:
            if schema is None:
                self._failed.add(dtmi)
            else:
                self.built[dtmi] = schema
        return schema

    def _build_array(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, dtmi: str | None,
        refs: set[str],
    ) -> Schema | None:
        check_keys(ctx, obj, label, "Array", ["elementSchema"])
        if "elementSchema" not in obj:
            ctx.report(label, "elementSchema", "missingProperty", "the Array has no elementSchema")
            return None
        element = self.build(ctx, obj["elementSchema"], label, "elementSchema", refs)
        return None if element is None else ArraySchema(element, dtmi)

    def _build_enum(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, dtmi: str | None,
        refs: set[str],
    ) -> Schema | None:
        check_keys(ctx, obj, label, "Enum", ["valueSchema", "enumValues"])
        value_schema = scalar(obj.get("valueSchema"))
        match = _INSTANCE.fullmatch(value_schema) if isinstance(value_schema, str) else None
        kind = match[1] if match else value_schema
        if kind not in ("integer", "string"):
            ctx.report(label, "valueSchema", "invalidEnumValueSchema",
                       f"the Enum valueSchema must be 'integer' or 'string', not {value_schema!r}")
            return None
        if "enumValues" not in obj and ctx.version < 3:
            ctx.report(label, "enumValues", "missingProperty", "the Enum has no enumValues")
            return None
        values: list[EnumValue] = []
        ok = self._count(ctx, obj, label, "enumValues")
        for i, item in enumerate(as_list(obj.get("enumValues"))):
            item = self.element(item)
            item_label = child_label(label, item, f"enumValues[{i}]")
            if not isinstance(item, dict):
                ctx.report(item_label, "enumValues", "invalidEnumValue",
                           "each enumValue must be an object with name and enumValue")
                ok = False
                continue
            item_ctx = ctx.nested(item, item_label)
            read_types(item_ctx, item, item_label, "EnumValue", required=False)
            check_keys(item_ctx, item, item_label, "EnumValue", ["name", "enumValue"])
            read_id(item_ctx, item, item_label, required=False)
            name = read_name(item_ctx, item, item_label, "EnumValue")
            shown = read_text(item_ctx, item, item_label, "displayName")
            read_text(item_ctx, item, item_label, "description")
            read_text(item_ctx, item, item_label, "comment")
            raw = scalar(item.get("enumValue"))
            good = isinstance(raw, str) if kind == "string" else (
                isinstance(raw, int) and not isinstance(raw, bool))
            if not good:
                ctx.report(item_label, "enumValue", "invalidEnumValue",
                           f"enumValue must be {'a string' if kind == 'string' else 'an integer'}"
                           f" (the Enum's valueSchema), not {raw!r}")
            elif any(v.value == raw for v in values):
                ctx.report(item_label, "enumValue", "duplicateEnumValue",
                           f"enumValue {raw!r} appears more than once in the Enum")
            elif name is not None and any(v.name == name for v in values):
                ctx.report(item_label, "name", "duplicateName",
                           f"enum value name '{name}' appears more than once in the Enum")
            elif name is not None:
                values.append(EnumValue(name, raw, shown))  # type: ignore[arg-type]
                continue
            ok = False
        return EnumSchema(str(kind), tuple(values), dtmi) if ok else None

    def _count(self, ctx: ParseContext, obj: dict[str, Any], label: str, prop: str) -> bool:
        """Check the DTDL v2 limits on how many ``enumValues`` or ``fields`` there are."""
        if ctx.version >= 3 or prop not in obj:
            return True
        count, most = len(as_list(obj[prop])), _MAX_COUNT[prop]
        kind = "Enum" if prop == "enumValues" else "Object"
        if count == 0:
            ctx.report(label, prop, "tooFew", f"the {kind} {label} has no {prop}; DTDL v2 "
                       "needs at least 1")
            return False
        if count > most:
            ctx.report(label, prop, "tooMany", f"the {kind} {label} has {count} {prop}; DTDL "
                       f"v2 allows at most {most}")
            return False
        return True

    def _build_map(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, dtmi: str | None,
        refs: set[str],
    ) -> Schema | None:
        check_keys(ctx, obj, label, "Map", ["mapKey", "mapValue"])
        parts: dict[str, tuple[str | None, Schema | None]] = {}
        for prop, cls in (("mapKey", "MapKey"), ("mapValue", "MapValue")):
            part = self.element(scalar(obj.get(prop)))
            part_label = f"{label}/{prop}"
            if not isinstance(part, dict):
                ctx.report(label, prop, "missingProperty" if part is None else "invalidMap",
                           f"the Map needs {prop} as an object with name and schema")
                return None
            part_ctx = ctx.nested(part, part_label)
            read_types(part_ctx, part, part_label, cls, required=False,
                       semantic=prop == "mapValue")
            check_keys(part_ctx, part, part_label, cls, ["name", "schema"])
            read_id(part_ctx, part, part_label, required=False)
            name = read_name(part_ctx, part, part_label, cls)
            for text in ("displayName", "description", "comment"):
                read_text(part_ctx, part, part_label, text)
            if "schema" not in part:
                ctx.report(part_label, "schema", "missingProperty", f"the {prop} has no schema")
                return None
            schema = self.build(part_ctx, part["schema"], part_label, "schema", refs)
            if prop == "mapKey" and schema is not None and schema != PrimitiveSchema("string"):
                ctx.report(part_label, "schema", "invalidMapKey", "the mapKey schema must be string")
                schema = None
            parts[prop] = (name, schema)
        (key_name, key_schema), (value_name, value_schema) = parts["mapKey"], parts["mapValue"]
        if key_name is None or key_schema is None or value_name is None or value_schema is None:
            return None
        return MapSchema(value_schema, key_name, value_name, dtmi)

    def _build_object(
        self, ctx: ParseContext, obj: dict[str, Any], label: str, dtmi: str | None,
        refs: set[str],
    ) -> Schema | None:
        check_keys(ctx, obj, label, "Object", ["fields"])
        if "fields" not in obj and ctx.version < 3:
            ctx.report(label, "fields", "missingProperty", "the Object has no fields")
            return None
        fields: list[Field] = []
        ok = self._count(ctx, obj, label, "fields")
        for i, item in enumerate(as_list(obj.get("fields"))):
            item = self.element(item)
            item_label = child_label(label, item, f"fields[{i}]")
            if not isinstance(item, dict):
                ctx.report(item_label, "fields", "invalidField",
                           "each field must be an object with name and schema")
                ok = False
                continue
            item_ctx = ctx.nested(item, item_label)
            co_types = read_types(item_ctx, item, item_label, "Field", required=False,
                                  semantic=True)
            check_keys(item_ctx, item, item_label, "Field",
                       ["name", "schema", "unit"] if co_types else ["name", "schema"])
            read_id(item_ctx, item, item_label, required=False)
            name = read_name(item_ctx, item, item_label, "Field")
            shown = read_text(item_ctx, item, item_label, "displayName")
            described = read_text(item_ctx, item, item_label, "description")
            read_text(item_ctx, item, item_label, "comment")
            if "schema" not in item:
                ctx.report(item_label, "schema", "missingProperty", "the field has no schema")
                ok = False
                continue
            schema = self.build(item_ctx, item["schema"], item_label, "schema", refs)
            if name is not None and any(f.name == name for f in fields):
                ctx.report(item_label, "name", "duplicateName",
                           f"field name '{name}' appears more than once in the Object")
                ok = False
            elif name is None or schema is None:
                ok = False
            else:
                fields.append(Field(name, schema, shown, described))
        return ObjectSchema(tuple(fields), dtmi) if ok else None


def _simple(name: str) -> Schema:
    return GeospatialSchema(name) if name in GEOSPATIAL_SCHEMAS else PrimitiveSchema(name)
