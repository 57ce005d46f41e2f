"""Declare models in Python: :func:`define_interface` writes the DTDL v3 document for you.

The document then goes through :meth:`ModelRegistry.add` like any uploaded JSON, so models
declared in Python and DTDL files become the same internal schema.

Example:
    >>> doc = define_interface(
    ...     "dtmi:ex:Room;1",
    ...     properties={"setpoint": PropertySpec("double", writable=True, unit="degreeCelsius",
    ...                                          semantic_type="Temperature")},
    ...     telemetry={"temperature": "double"},
    ...     relationships={"contains": "dtmi:ex:Sensor;1"},
    ... )
    >>> [c["name"] for c in doc["contents"]]
    ['setpoint', 'temperature', 'contains']
    >>> doc["@context"]
    ['dtmi:dtdl:context;3', 'dtmi:dtdl:extension:quantitativeTypes;1']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from holotwin.errors import ModelError, ModelIssue
from holotwin.models.identifiers import QUANTITATIVE_TYPES, dtmi_problem, name_problem

__all__ = ["PropertySpec", "RelationshipSpec", "TelemetrySpec", "define_interface"]

SchemaSpec = str | Mapping[str, Any]
"""A schema: a DTDL schema name or DTMI (``"double"``) or a DTDL complex schema dict."""


@dataclass(frozen=True)
class PropertySpec:
    """How to declare a property with :func:`define_interface`.

    Example:
        >>> PropertySpec("double", writable=True).writable
        True
    """

    schema: SchemaSpec
    writable: bool = False
    unit: str | None = None
    semantic_type: str | None = None
    display_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TelemetrySpec:
    """How to declare telemetry with :func:`define_interface`.

    Example:
        >>> TelemetrySpec("double", unit="kelvin", semantic_type="Temperature").unit
        'kelvin'
    """

    schema: SchemaSpec
    unit: str | None = None
    semantic_type: str | None = None
    display_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class RelationshipSpec:
    """How to declare a relationship with :func:`define_interface`.

    Example:
        >>> RelationshipSpec("dtmi:ex:Tank;1", max_multiplicity=1).max_multiplicity
        1
    """

    target: str | None = None
    max_multiplicity: int | None = None
    properties: Mapping[str, str | PropertySpec] = field(default_factory=dict)
    writable: bool = False
    display_name: str | None = None
    description: str | None = None


def define_interface(
    id: str,
    *,
    display_name: str | None = None,
    description: str | None = None,
    extends: Iterable[str] = (),
    properties: Mapping[str, str | PropertySpec] | None = None,
    telemetry: Mapping[str, str | TelemetrySpec] | None = None,
    relationships: Mapping[str, str | RelationshipSpec] | None = None,
    components: Mapping[str, str] | None = None,
    commands: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A DTDL v3 Interface document for the given contents (see the module docstring).

    ``commands`` maps a name to the DTDL command body (``{"request": {...}}``) or ``{}``.
    Raises :class:`ModelError` for arguments that cannot make a valid document; everything else
    is checked when the document is added to a registry.
    """
    issues: list[ModelIssue] = []
    problem = dtmi_problem(id, 3)
    if problem:
        issues.append(ModelIssue(str(id), "@id", "invalidId", f"@id {id!r} is invalid: {problem}"))
    if isinstance(extends, str):
        extends = [extends]
    contents: list[dict[str, Any]] = []
    semantic = False
    for name, spec in (properties or {}).items():
        p = spec if isinstance(spec, PropertySpec) else PropertySpec(_schema(spec, name, issues))
        contents.append(_property(name, p))
        semantic |= p.semantic_type is not None
    for name, t_spec in (telemetry or {}).items():
        t = t_spec if isinstance(t_spec, TelemetrySpec) else TelemetrySpec(
            _schema(t_spec, name, issues))
        item = _element("Telemetry", name, t.schema, t.display_name, t.description)
        _add_semantics(item, t.semantic_type, t.unit)
        contents.append(item)
        semantic |= t.semantic_type is not None
    for name, r_spec in (relationships or {}).items():
        r = r_spec if isinstance(r_spec, RelationshipSpec) else RelationshipSpec(target=r_spec)
        contents.append(_relationship(name, r))
    for name, target in (components or {}).items():
        contents.append(_element("Component", name, target, None, None))
    for name, body in (commands or {}).items():
        if not isinstance(body, Mapping):
            issues.append(ModelIssue(str(id), "commands", "invalidCommand",
                                     f"command '{name}' must be given as a dict"))
            continue
        contents.append({"@type": "Command", "name": name, **body})
    for item in contents:
        bad = name_problem(item["name"], 3)
        if bad:
            issues.append(ModelIssue(f"{id}/{item['name']}", "name", "invalidName",
                                     f"the name is invalid: {bad}"))
        if "unit" in item and isinstance(item["@type"], str):
            issues.append(ModelIssue(f"{id}/{item['name']}", "unit", "unitWithoutSemanticType",
                                     "a unit needs a semantic_type (e.g. 'Temperature')"))
    if issues:
        raise ModelError(issues)
    doc: dict[str, Any] = {
        "@context": ["dtmi:dtdl:context;3", QUANTITATIVE_TYPES] if semantic
        else "dtmi:dtdl:context;3",
        "@id": id,
        "@type": "Interface",
    }
    if display_name is not None:
        doc["displayName"] = display_name
    if description is not None:
        doc["description"] = description
    if extends:
        doc["extends"] = list(extends)
    doc["contents"] = contents
    return doc


def _schema(spec: object, name: str, issues: list[ModelIssue]) -> SchemaSpec:
    if not isinstance(spec, str | Mapping):
        issues.append(ModelIssue(name, "schema", "invalidSchema",
                                 f"'{name}' needs a schema name, DTMI, dict or spec, not {spec!r}"))
        return "string"
    return spec


def _element(
    kind: str, name: str, schema: SchemaSpec, display_name: str | None, description: str | None
) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": kind, "name": name, "schema": _plain(schema)}
    if display_name is not None:
        item["displayName"] = display_name
    if description is not None:
        item["description"] = description
    return item


def _plain(schema: SchemaSpec) -> Any:
    return schema if isinstance(schema, str) else dict(schema)


def _add_semantics(item: dict[str, Any], semantic_type: str | None, unit: str | None) -> None:
    if semantic_type is not None:
        item["@type"] = [item["@type"], semantic_type]
    if unit is not None:
        item["unit"] = unit


def _property(name: str, spec: PropertySpec) -> dict[str, Any]:
    item = _element("Property", name, spec.schema, spec.display_name, spec.description)
    _add_semantics(item, spec.semantic_type, spec.unit)
    if spec.writable:
        item["writable"] = True
    return item


def _relationship(name: str, spec: RelationshipSpec) -> dict[str, Any]:
    item: dict[str, Any] = {"@type": "Relationship", "name": name}
    if spec.target is not None:
        item["target"] = spec.target
    if spec.max_multiplicity is not None:
        item["maxMultiplicity"] = spec.max_multiplicity
    if spec.writable:
        item["writable"] = True
    if spec.display_name is not None:
        item["displayName"] = spec.display_name
    if spec.description is not None:
        item["description"] = spec.description
    if spec.properties:
        item["properties"] = [
            _property(n, p if isinstance(p, PropertySpec) else PropertySpec(p))
            for n, p in spec.properties.items()
        ]
    return item
