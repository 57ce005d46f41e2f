"""JSON-LD terms in DTDL documents: property keys written as DTMIs, co-types and unknown keys.

DTDL is JSON-LD, so a document may write a DTDL property by its full identifier
(``"dtmi:dtdl:property:description;3"`` for ``description``) and may give an element extra
types (*co-types*). Which co-types and extra keys are allowed depends on the DTDL version and
on undefined extension contexts in scope:

* DTDL v2 accepts a co-type that is an undefined term (``"Foobar"``) or a non-DTMI IRI; such a
  co-type makes the element *open*: any further key is accepted.
* DTDL v3 accepts an unknown co-type only below an undefined extension context (when the caller
  allows undefined extensions); the element is then open to undefined terms and DTMIs.
* A DTMI co-type or a DTDL term that is not a class of the element (``"boolean"``) needs an
  undefined extension in scope in both versions.

Example:
    >>> expand_terms({"@type": "Array", "dtmi:dtdl:property:elementSchema;3": "double"}, 3)
    {'@type': 'Array', 'elementSchema': 'double'}
    >>> classify_co_type("Foobar", 2, frozenset(), undefined=False)
    (None, True)
    >>> classify_co_type("Foobar", 3, frozenset(), undefined=False)[0]
    'dtmi:dtdl:parsingError:typeUndefinedTerm'
"""

from __future__ import annotations

import re
from typing import Any, Final

from holotwin.models.geospatial import GEOSPATIAL_SCHEMAS
from holotwin.models.identifiers import QUANTITATIVE_TYPES, dtmi_problem, is_dtmi
from holotwin.models.primitives import PRIMITIVES_V3
from holotwin.models.rules import Rule

__all__ = ["DTDL_TERMS", "classify_co_type", "classify_key", "expand_terms"]

DTDL_CLASSES: Final = frozenset({
    "Interface", "Property", "Telemetry", "Command", "Relationship", "Component",
    "CommandPayload", "CommandRequest", "CommandResponse", "Array", "Enum", "EnumValue", "Map",
    "MapKey", "MapValue", "Object", "Field", "Schema", "Unit", "SemanticType",
})

DTDL_PROPERTIES: Final = frozenset({
    "comment", "commandType", "contents", "description", "displayName", "elementSchema",
    "enumValue", "enumValues", "extends", "fields", "mapKey", "mapValue", "maxMultiplicity",
    "minMultiplicity", "name", "nullable", "properties", "request", "response", "schema",
    "schemas", "target", "unit", "valueSchema", "writable",
})

DTDL_TERMS: Final = (DTDL_CLASSES | DTDL_PROPERTIES | PRIMITIVES_V3 | frozenset(GEOSPATIAL_SCHEMAS)
                     | frozenset({"synchronous", "asynchronous"}))
"""Terms the DTDL context defines (besides semantic types and units)."""

_PROPERTY_DTMI = re.compile(r"dtmi:dtdl:property:([A-Za-z]+);([0-9]+)")


def expand_terms(value: object, version: int) -> Any:
    """A copy of ``value`` where keys naming a DTDL property by DTMI are written as its term.

    A key is left as it is if the term is also present (then the key is reported as unknown)
    or names another DTDL version.
    """
    if isinstance(value, list):
        return [expand_terms(item, version) for item in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@context":
            out[key] = item
            continue
        match = _PROPERTY_DTMI.fullmatch(key) if isinstance(key, str) else None
        if match and int(match[2]) == version and match[1] not in value:
            key = match[1]
        out[key] = expand_terms(item, version)
    return out


def classify_co_type(
    item: str, version: int, extensions: frozenset[str], *, undefined: bool
) -> tuple[str | None, bool]:
    """Whether co-type ``item`` (not a semantic type) is allowed: ``(rule or None, opens)``;
    ``opens`` is True if the element then accepts keys DTDL does not define."""
    if item.startswith("dtmi:"):
        if dtmi_problem(item, version):
            return Rule.TYPE_INVALID_DTMI, False
        return (None, True) if undefined else (Rule.TYPE_IRRELEVANT, False)
    if ":" in item:
        if version < 3:
            return None, True
        return Rule.TYPE_NOT_DTMI_NOR_TERM, False
    if item in DTDL_TERMS:
        return (None, True) if undefined else (Rule.TYPE_IRRELEVANT, False)
    if version < 3 or undefined or extensions - {QUANTITATIVE_TYPES}:
        return None, True
    return Rule.TYPE_UNDEFINED_TERM, False


def classify_key(key: str, version: int, *, open_element: bool) -> str | None:
    """The rule broken by a key the element's DTDL class does not define, or None if the key is
    accepted (a JSON-LD keyword DTDL v2 ignores, or any key of an open element)."""
    if key.startswith("@"):
        if key == "@graph":
            return Rule.GRAPH_DISALLOWED
        return None if version < 3 else Rule.KEYWORD_DISALLOWED
    if open_element and (version < 3 or ":" not in key or is_dtmi(key, version)):
        return None
    if key.startswith("dtmi:"):
        return Rule.PROPERTY_INVALID_DTMI if dtmi_problem(key, version) else Rule.PROPERTY_IRRELEVANT
    if ":" in key:
        return Rule.PROPERTY_NOT_DTMI_NOR_TERM
    return Rule.PROPERTY_IRRELEVANT if key in DTDL_TERMS else Rule.PROPERTY_UNDEFINED_TERM
