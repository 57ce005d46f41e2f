"""The resolved model elements: Interface and its contents (Property, Telemetry, Command,
Relationship, Component).

These are what the rest of holotwin reads; the parser in :mod:`holotwin.models.interfaces` builds
them from DTDL documents and :class:`~holotwin.models.registry.ModelRegistry` holds them. They are
immutable; an Interface's mappings include what it inherits through ``extends``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from holotwin.models.schema import Schema

__all__ = [
    "Command",
    "CommandPayload",
    "Component",
    "Content",
    "Interface",
    "Property",
    "Relationship",
    "Telemetry",
]



def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Property:
    """A property of a twin: state that is reported (and, if ``writable``, desired).

    Example:
        >>> from holotwin.models import PrimitiveSchema
        >>> p = Property("setpoint", PrimitiveSchema("double"), writable=True,
        ...              unit="degreeCelsius", semantic_types=("Temperature",))
        >>> p.schema.describe(), p.writable
        ('double', True)
    """

    name: str
    schema: Schema
    writable: bool = False
    unit: str | None = None
    semantic_types: tuple[str, ...] = ()
    display_name: str | None = None
    description: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Telemetry:
    """A measurement the twin's asset sends; it is not part of the twin's stored state.

    Example:
        >>> from holotwin.models import PrimitiveSchema
        >>> Telemetry("temperature", PrimitiveSchema("double"), unit="kelvin").unit
        'kelvin'
    """

    name: str
    schema: Schema
    unit: str | None = None
    semantic_types: tuple[str, ...] = ()
    display_name: str | None = None
    description: str | None = None
    id: str | None = None


class CommandPayload(NamedTuple):
    """A command's request or response: ``(name, schema)``.

    Example:
        >>> from holotwin.models import PrimitiveSchema
        >>> name, schema = CommandPayload("delay", PrimitiveSchema("duration"))
        >>> name
        'delay'
    """

    name: str
    schema: Schema


@dataclass(frozen=True)
class Command:
    """A function the twin's asset can perform, with an optional request and response.

    Example:
        >>> from holotwin.models import PrimitiveSchema
        >>> c = Command("reboot", request=CommandPayload("delay", PrimitiveSchema("duration")))
        >>> c.request.name if c.request else None
        'delay'
    """

    name: str
    request: CommandPayload | None = None
    response: CommandPayload | None = None
    display_name: str | None = None
    description: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Relationship:
    """A link from a twin to other twins, optionally to a ``target`` model and with properties.

    ``max_multiplicity`` is the most relationships of this name one twin may have (None: no limit).

    Example:
        >>> r = Relationship("feeds", target="dtmi:example:Tank;1", max_multiplicity=2)
        >>> r.target, r.max_multiplicity, dict(r.properties)
        ('dtmi:example:Tank;1', 2, {})
    """

    name: str
    target: str | None = None
    properties: Mapping[str, Property] = field(default_factory=_empty, hash=False)
    min_multiplicity: int | None = None
    max_multiplicity: int | None = None
    writable: bool = False
    display_name: str | None = None
    description: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Component:
    """A part of a twin described by another interface (``schema`` is that interface's DTMI).

    Example:
        >>> Component("frontLeft", "dtmi:example:Wheel;1").schema
        'dtmi:example:Wheel;1'
    """

    name: str
    schema: str
    display_name: str | None = None
    description: str | None = None
    id: str | None = None


Content = Property | Telemetry | Command | Relationship | Component
"""Any element of an interface's ``contents``."""


@dataclass(frozen=True, eq=False)
class Interface:
    """A resolved DTDL Interface: its own and inherited contents, ready to validate twins.

    ``document`` is the DTDL document the interface came from (treat it as read-only).

    Example:
        >>> from holotwin.models import ModelRegistry, define_interface
        >>> reg = ModelRegistry()
        >>> [pump] = reg.add([define_interface("dtmi:example:Pump;1",
        ...                                    properties={"speed": "double"})])
        >>> pump.id, pump.dtdl_version, list(pump.properties)
        ('dtmi:example:Pump;1', 3, ['speed'])
    """

    id: str
    dtdl_version: int
    display_name: str | None = None
    description: str | None = None
    extends: tuple[str, ...] = ()
    properties: Mapping[str, Property] = field(default_factory=_empty)
    telemetry: Mapping[str, Telemetry] = field(default_factory=_empty)
    commands: Mapping[str, Command] = field(default_factory=_empty)
    relationships: Mapping[str, Relationship] = field(default_factory=_empty)
    components: Mapping[str, Component] = field(default_factory=_empty)
    schemas: Mapping[str, Schema] = field(default_factory=_empty)
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    def content(self, name: str) -> Content | None:
        """The content element called ``name`` (of any kind, inherited included), or None.

        Example:
            >>> Interface("dtmi:example:Empty;1", 3).content("speed") is None
            True
        """
        for table in (self.properties, self.telemetry, self.commands, self.relationships,
                      self.components):
            found = table.get(name)
            if found is not None:
                return found
        return None
