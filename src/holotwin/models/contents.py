"""Parse the ``contents`` of a DTDL Interface: Property, Telemetry, Command, Relationship and
Component, one function per element type.

Each function reads one JSON object, reports problems on the batch's
:class:`~holotwin.models.parsing.ParseContext` and returns the resolved element or None.

Example:
    >>> from holotwin.models.parsing import ParseContext
    >>> from holotwin.models.schema_builder import SchemaBuilder
    >>> ctx, builder = ParseContext(version=2), SchemaBuilder(lambda dtmi: None, {})
    >>> doc = {"@type": ["Property", "Temperature"], "name": "setpoint", "schema": "double",
    ...        "unit": "degreeCelsius", "writable": True}
    >>> parse_content(ctx, doc, "dtmi:ex:Room;1/setpoint", builder, set(), lambda *a: None)
    Property(name='setpoint', schema=PrimitiveSchema(name='double'), writable=True, \
unit='degreeCelsius', semantic_types=('Temperature',), display_name=None, description=None, id=None)
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any, Final

from holotwin.models.elements import (
    Command,
    CommandPayload,
    Component,
    Content,
    Property,
    Relationship,
    Telemetry,
)
from holotwin.models.identifiers import dtmi_problem
from holotwin.models.parsing import (
    SEMANTIC_TYPES,
    ParseContext,
    as_list,
    check_keys,
    child_label,
    class_of,
    read_bool,
    read_id,
    read_int,
    read_name,
    read_text,
    read_types,
    scalar,
)
from holotwin.models.primitives import PrimitiveSchema
from holotwin.models.schema import Schema
from holotwin.models.schema_builder import SchemaBuilder, contains_array
from holotwin.models.units import unit_problem

__all__ = ["CONTENT_CLASSES", "InterfaceReference", "parse_content"]

CONTENT_CLASSES: Final = ("Property", "Telemetry", "Command", "Relationship", "Component")
_MAX_MULTIPLICITY_V2: Final = 500
_MAX_PROPERTIES_V2: Final = 300

InterfaceReference = Callable[[ParseContext, object, str, str], str | None]
"""Resolves an interface value (a DTMI or an inline Interface) found in property ``prop`` of
element ``label``: ``(ctx, value, label, prop) -> dtmi or None`` (problems are reported)."""


def parse_content(
    ctx: ParseContext,
    obj: object,
    label: str,
    schemas: SchemaBuilder,
    refs: set[str],
    interfaces: InterfaceReference,
) -> Content | None:
    """Parse one element of ``contents`` (dispatching on its ``@type``)."""
    if not isinstance(obj, dict):
        ctx.report(label, "contents", "invalidContent",
                   f"each element of contents must be an object, not {obj!r}")
        return None
    ctx = ctx.nested(obj, label, definition=True)
    cls = class_of(obj.get("@type"), ctx.version, CONTENT_CLASSES)
    if cls is None:
        rule = "missingType" if "@type" not in obj else "invalidContentType"
        ctx.report(label, "@type", rule,
                   "a content element needs @type Property, Telemetry, Command, Relationship or "
                   f"Component, not {obj.get('@type')!r}")
        return None
    if cls == "Component":
        return parse_component(ctx, obj, label, interfaces)
    if cls == "Command":
        return parse_command(ctx, obj, label, schemas, refs)
    if cls == "Relationship":
        return parse_relationship(ctx, obj, label, schemas, refs)
    if cls == "Telemetry":
        return parse_telemetry(ctx, obj, label, schemas, refs)
    return parse_property(ctx, obj, label, schemas, refs)


def _common(ctx: ParseContext, obj: dict[str, Any], label: str, kind: str) -> dict[str, Any]:
    return {
        "name": read_name(ctx, obj, label, kind),
        "id": read_id(ctx, obj, label, required=False),
        "display_name": read_text(ctx, obj, label, "displayName"),
        "description": read_text(ctx, obj, label, "description"),
        "comment": read_text(ctx, obj, label, "comment"),
    }


def _unit(ctx: ParseContext, obj: dict[str, Any], label: str) -> str | None:
    if "unit" not in obj:
        return None
    value = scalar(obj["unit"])
    if not isinstance(value, str):
        ctx.report(label, "unit", "invalidUnit",
                   f"unit must be one unit name such as 'kelvin', not {value!r}")
        return None
    return value


_NUMERIC: Final = frozenset({
    "double", "float", "decimal", "integer", "long", "short", "byte", "unsignedByte",
    "unsignedShort", "unsignedInteger", "unsignedLong",
})


def _check_semantics(
    ctx: ParseContext, obj: dict[str, Any], label: str, kind: str,
    co_types: tuple[str, ...], schema: Schema | None,
) -> None:
    semantic = [t for t in co_types if t in SEMANTIC_TYPES]
    if not semantic:
        return
    if len(semantic) > 1:
        ctx.report(label, "@type", "multipleSemanticTypes",
                   f"the {kind} has more than one semantic type ({', '.join(semantic)})")
    if ctx.version < 3 and "unit" not in obj:
        ctx.report(label, "unit", "missingUnit",
                   f"the {kind} has semantic type {semantic[0]} but no unit")
    elif "unit" in obj and isinstance(scalar(obj["unit"]), str):
        problem = unit_problem(semantic[0], scalar(obj["unit"]), ctx.version)
        if problem:
            ctx.report(label, "unit", "invalidUnit", problem)
    if schema is not None and not (
        isinstance(schema, PrimitiveSchema) and schema.name in _NUMERIC
    ):
        ctx.report(label, "schema", "semanticTypeSchema",
                   f"a {kind} with semantic type {semantic[0]} needs a numeric schema, "
                   f"not {schema.describe()}")


def _schema(
    ctx: ParseContext, obj: dict[str, Any], label: str, kind: str, schemas: SchemaBuilder,
    refs: set[str],
) -> Any:
    if "schema" not in obj:
        ctx.report(label, "schema", "missingProperty", f"the {kind} has no schema")
        return None
    return schemas.checked(ctx, obj["schema"], label, "schema", refs)


def parse_property(
    ctx: ParseContext, obj: dict[str, Any], label: str, schemas: SchemaBuilder, refs: set[str]
) -> Property | None:
    """A Property: ``name``, ``schema``, ``writable`` and, with a semantic type, ``unit``."""
    semantic = read_types(ctx, obj, label, "Property", semantic=True)
    check_keys(ctx, obj, label, "Property",
               ["name", "schema", "writable", *(["unit"] if semantic else [])])
    common = _common(ctx, obj, label, "Property")
    schema = _schema(ctx, obj, label, "Property", schemas, refs)
    writable = read_bool(ctx, obj, label, "writable")
    unit = _unit(ctx, obj, label)
    _check_semantics(ctx, obj, label, "Property", semantic, schema)
    if ctx.version < 3 and schema is not None and contains_array(schema):
        ctx.report(label, "schema", "propertyArray",
                   "in DTDL v2 a Property schema cannot be or contain an Array "
                   "(use Telemetry or DTDL v3)")
        return None
    if common["name"] is None or schema is None:
        return None
    return Property(common["name"], schema, bool(writable), unit, semantic,
                    common["display_name"], common["description"], common["id"])


def parse_telemetry(
    ctx: ParseContext, obj: dict[str, Any], label: str, schemas: SchemaBuilder, refs: set[str]
) -> Telemetry | None:
    """A Telemetry: ``name``, ``schema`` and, with a semantic type, ``unit``."""
    semantic = read_types(ctx, obj, label, "Telemetry", semantic=True)
    check_keys(ctx, obj, label, "Telemetry", ["name", "schema", *(["unit"] if semantic else [])])
    common = _common(ctx, obj, label, "Telemetry")
    schema = _schema(ctx, obj, label, "Telemetry", schemas, refs)
    unit = _unit(ctx, obj, label)
    _check_semantics(ctx, obj, label, "Telemetry", semantic, schema)
    if common["name"] is None or schema is None:
        return None
    return Telemetry(common["name"], schema, unit, semantic, common["display_name"],
                     common["description"], common["id"])


def _payload(
    ctx: ParseContext, obj: dict[str, Any], label: str, prop: str, schemas: SchemaBuilder,
    refs: set[str],
) -> tuple[bool, CommandPayload | None]:
    if prop not in obj or obj[prop] == []:
        return True, None
    value = schemas.element(scalar(obj[prop]))
    payload_label = f"{label}/{prop}"
    if not isinstance(value, dict):
        ctx.report(label, prop, "invalidPayload",
                   f"the Command {prop} must be an object with name and schema")
        return False, None
    ctx = ctx.nested(value, payload_label)
    if ctx.version < 3:
        kind = "CommandPayload"
    else:
        kind = "CommandRequest" if prop == "request" else "CommandResponse"
    read_types(ctx, value, payload_label, kind, required=False)
    check_keys(ctx, value, payload_label, kind,
               ["name", "schema", *(["nullable"] if ctx.version >= 3 else [])])
    common = _common(ctx, value, payload_label, kind)
    read_bool(ctx, value, payload_label, "nullable")
    schema = _schema(ctx, value, payload_label, kind, schemas, refs)
    if common["name"] is None or schema is None:
        return False, None
    return True, CommandPayload(common["name"], schema)


def parse_command(
    ctx: ParseContext, obj: dict[str, Any], label: str, schemas: SchemaBuilder, refs: set[str]
) -> Command | None:
    """A Command: ``name`` and an optional ``request`` and ``response``."""
    read_types(ctx, obj, label, "Command")
    check_keys(ctx, obj, label, "Command", ["name", "request", "response", "commandType"])
    common = _common(ctx, obj, label, "Command")
    command_type = scalar(obj.get("commandType"))
    if isinstance(command_type, str):
        command_type = command_type.replace("dtmi:dtdl:instance:CommandType:", "").split(";")[0]
    if "commandType" in obj and obj["commandType"] != [] and command_type not in (
        "synchronous", "asynchronous"
    ):
        ctx.report(label, "commandType", "invalidCommandType",
                   "commandType must be 'synchronous' or 'asynchronous'")
    ok_request, request = _payload(ctx, obj, label, "request", schemas, refs)
    ok_response, response = _payload(ctx, obj, label, "response", schemas, refs)
    if common["name"] is None or not (ok_request and ok_response):
        return None
    return Command(common["name"], request, response, common["display_name"],
                   common["description"], common["id"])


def parse_relationship(
    ctx: ParseContext, obj: dict[str, Any], label: str, schemas: SchemaBuilder, refs: set[str]
) -> Relationship | None:
    """A Relationship: ``name``, optional ``target``, ``properties`` and multiplicities."""
    read_types(ctx, obj, label, "Relationship")
    check_keys(ctx, obj, label, "Relationship",
               ["name", "target", "properties", "minMultiplicity", "maxMultiplicity", "writable"])
    common = _common(ctx, obj, label, "Relationship")
    ok = common["name"] is not None
    targets = as_list(obj.get("target"))
    raw_target: object = targets[0] if len(targets) == 1 else targets or None
    target: str | None = None
    if "target" in obj and raw_target is None and obj["target"] != []:
        ctx.report(label, "target", "invalidTarget", "target must be an interface DTMI, not null")
        ok = False
    if raw_target is not None:
        problem = dtmi_problem(raw_target, ctx.version)
        if problem:
            ctx.report(label, "target", "invalidTarget",
                       f"target {raw_target!r} is not a valid interface DTMI: {problem}")
            ok = False
        else:
            target = str(raw_target)
            refs.add(target)
    low = read_int(ctx, obj, label, "minMultiplicity", 0)
    if low is not None and low != 0:
        ctx.report(label, "minMultiplicity", "invalidMultiplicity", "minMultiplicity must be 0")
        ok = False
    high = read_int(ctx, obj, label, "maxMultiplicity", 1)
    if high is None and "maxMultiplicity" in obj and obj["maxMultiplicity"] != []:
        ok = False
    if ctx.version < 3 and high is not None and high > _MAX_MULTIPLICITY_V2:
        ctx.report(label, "maxMultiplicity", "tooHigh",
                   f"Relationship {label} has maxMultiplicity {high}; DTDL v2 allows at most "
                   f"{_MAX_MULTIPLICITY_V2}")
        ok = False
    items = as_list(obj.get("properties"))
    if ctx.version < 3 and len(items) > _MAX_PROPERTIES_V2:
        ctx.report(label, "properties", "tooMany",
                   f"Relationship {label} has {len(items)} properties; DTDL v2 allows at most "
                   f"{_MAX_PROPERTIES_V2}")
        ok = False
    writable = read_bool(ctx, obj, label, "writable")
    properties: dict[str, Property] = {}
    for i, item in enumerate(items):
        item = schemas.element(item)
        item_label = child_label(label, item, f"properties[{i}]")
        if not isinstance(item, dict):
            ctx.report(item_label, "properties", "invalidProperty",
                       "each relationship property must be a Property object")
            ok = False
            continue
        item_ctx = ctx.nested(item, item_label, definition=True)
        prop = parse_property(item_ctx, item, item_label, schemas, refs)
        if prop is None:
            ok = False
        elif prop.name in properties:
            ctx.report(item_label, "name", "duplicateName",
                       f"relationship property '{prop.name}' appears more than once")
            ok = False
        else:
            properties[prop.name] = prop
    if not ok:
        return None
    return Relationship(common["name"], target, MappingProxyType(properties), low, high,
                        bool(writable), common["display_name"], common["description"],
                        common["id"])


def parse_component(
    ctx: ParseContext, obj: dict[str, Any], label: str, interfaces: InterfaceReference
) -> Component | None:
    """A Component: ``name`` and ``schema`` (an interface DTMI or an inline Interface)."""
    read_types(ctx, obj, label, "Component")
    check_keys(ctx, obj, label, "Component", ["name", "schema"])
    common = _common(ctx, obj, label, "Component")
    if "schema" not in obj:
        ctx.report(label, "schema", "missingProperty", "the Component has no schema")
        return None
    schema = interfaces(ctx, scalar(obj["schema"]), label, "schema")
    if common["name"] is None or schema is None:
        return None
    return Component(common["name"], schema, common["display_name"], common["description"],
                     common["id"])
