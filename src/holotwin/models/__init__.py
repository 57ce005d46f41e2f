"""DTDL v2 and v3 models: parse, validate and resolve interfaces, and check values against them.

:class:`ModelRegistry` holds the interfaces; :func:`load_documents` reads DTDL files;
:func:`define_interface` declares a model in Python. Every resolved schema is a :class:`Schema`
with ``validate(value, path)`` and ``describe()``.

Example:
    >>> from holotwin.models import ModelRegistry, define_interface
    >>> reg = ModelRegistry()
    >>> [pump] = reg.add([define_interface("dtmi:ex:Pump;1", properties={"speed": "double"})])
    >>> pump.properties["speed"].schema.validate(1450.0, "/speed")
"""

from holotwin.models.complex import (
    ArraySchema,
    EnumSchema,
    EnumValue,
    Field,
    MapSchema,
    ObjectSchema,
)
from holotwin.models.declare import (
    PropertySpec,
    RelationshipSpec,
    TelemetrySpec,
    define_interface,
)
from holotwin.models.elements import (
    Command,
    CommandPayload,
    Component,
    Interface,
    Property,
    Relationship,
    Telemetry,
)
from holotwin.models.geospatial import GeospatialSchema
from holotwin.models.loading import load_documents
from holotwin.models.primitives import PrimitiveSchema
from holotwin.models.registry import ModelRegistry
from holotwin.models.schema import Schema

__all__ = [
    "ArraySchema",
    "Command",
    "CommandPayload",
    "Component",
    "EnumSchema",
    "EnumValue",
    "Field",
    "GeospatialSchema",
    "Interface",
    "MapSchema",
    "ModelRegistry",
    "ObjectSchema",
    "PrimitiveSchema",
    "Property",
    "PropertySpec",
    "Relationship",
    "RelationshipSpec",
    "Schema",
    "Telemetry",
    "TelemetrySpec",
    "define_interface",
    "load_documents",
]
