"""DTDL complex schemas: Array, Enum, Map and Object, resolved and ready to check values.

Nested values are reported by JSON pointer (``/settings/speed``, ``/tags/3``) at the first
problem found.

Example:
    >>> from holotwin.models.primitives import PrimitiveSchema
    >>> speeds = MapSchema(PrimitiveSchema("double"))
    >>> speeds.describe()
    'map of string to double'
    >>> speeds.validate({"pump1": 1450.0, "pump2": "fast"}, "/speeds")
    Traceback (most recent call last):
    ...
    holotwin.errors.PropertyValueError: Property '/speeds/pump2' expects double, got 'fast'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from holotwin.models.schema import Schema, child_path

__all__ = ["ArraySchema", "EnumSchema", "EnumValue", "Field", "MapSchema", "ObjectSchema"]


@dataclass(frozen=True)
class ArraySchema(Schema):
    """A JSON list whose items all match ``element``.

    Example:
        >>> from holotwin.models.primitives import PrimitiveSchema
        >>> tags = ArraySchema(PrimitiveSchema("double"))
        >>> tags.describe()
        'array of double'
        >>> tags.validate([1.0, 2, None], "/tags")
        Traceback (most recent call last):
        ...
        holotwin.errors.PropertyValueError: Property '/tags/2' expects double, got None
    """

    element: Schema
    id: str | None = None

    @property
    def kind(self) -> str:
        return "Array"

    def describe(self) -> str:
        return f"array of {self.element.describe()}"

    def validate(self, value: object, path: str) -> None:
        if not isinstance(value, list):
            raise self.fail(path, value)
        for i, item in enumerate(value):
            self.element.validate(item, child_path(path, i))


@dataclass(frozen=True)
class EnumValue:
    """One ``enumValues`` entry: a ``name`` and the ``value`` it stands for.

    Example:
        >>> EnumValue("on", "on").value
        'on'
    """

    name: str
    value: int | str
    display_name: str | None = None


@dataclass(frozen=True)
class EnumSchema(Schema):
    """One of a fixed set of values of type ``value_schema`` (``integer`` or ``string``).

    Example:
        >>> mode = EnumSchema("string", (EnumValue("on", "on"), EnumValue("off", "off")))
        >>> mode.describe()
        'enum of string (on, off)'
        >>> mode.validate("on", "/mode")
        >>> mode.is_valid("standby")
        False
    """

    value_schema: str
    values: tuple[EnumValue, ...]
    id: str | None = None

    @property
    def kind(self) -> str:
        return "Enum"

    def describe(self) -> str:
        shown = ", ".join(str(v.value) for v in self.values)
        return f"enum of {self.value_schema} ({shown})"

    def validate(self, value: object, path: str) -> None:
        if self.value_schema == "string":
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or not any(v.value == value for v in self.values):
            raise self.fail(path, value)

    def name_of(self, value: int | str) -> str | None:
        """The ``name`` of the enum value ``value``, or None.

        Example:
            >>> EnumSchema("integer", (EnumValue("low", 1),)).name_of(1)
            'low'
        """
        return next((v.name for v in self.values if v.value == value), None)


@dataclass(frozen=True)
class Field:
    """One field of an :class:`ObjectSchema`.

    Example:
        >>> from holotwin.models.primitives import PrimitiveSchema
        >>> Field("speed", PrimitiveSchema("double")).schema.describe()
        'double'
    """

    name: str
    schema: Schema
    display_name: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class ObjectSchema(Schema):
    """A JSON object with declared ``fields``; unknown keys are errors, missing fields allowed.

    Example:
        >>> from holotwin.models.primitives import PrimitiveSchema
        >>> settings = ObjectSchema((Field("speed", PrimitiveSchema("double")),
        ...                          Field("mode", PrimitiveSchema("string"))))
        >>> settings.describe()
        'object {speed: double, mode: string}'
        >>> settings.validate({"speed": 3.5}, "/settings")
        >>> settings.validate({"speed": "fast"}, "/settings")
        Traceback (most recent call last):
        ...
        holotwin.errors.PropertyValueError: Property '/settings/speed' expects double, got 'fast'
    """

    fields: tuple[Field, ...]
    id: str | None = None
    _by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", MappingProxyType({f.name: f for f in self.fields}))

    @property
    def kind(self) -> str:
        return "Object"

    def get_field(self, name: str) -> Field | None:
        """The field called ``name``, or None."""
        return self._by_name.get(name)

    def describe(self) -> str:
        inner = ", ".join(f"{f.name}: {f.schema.describe()}" for f in self.fields)
        return f"object {{{inner}}}"

    def validate(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise self.fail(path, value)
        for key, item in value.items():
            declared = self._by_name.get(key) if isinstance(key, str) else None
            if declared is None:
                names = ", ".join(self._by_name) or "none"
                raise self.fail(
                    child_path(path, str(key)), item,
                    f"'{key}' is not a field of this object (fields: {names})",
                )
            declared.schema.validate(item, child_path(path, key))


@dataclass(frozen=True)
class MapSchema(Schema):
    """A JSON object with free string keys whose values all match ``value``.

    ``key_name`` and ``value_name`` are the DTDL ``mapKey``/``mapValue`` names.

    Example:
        >>> from holotwin.models.primitives import PrimitiveSchema
        >>> MapSchema(PrimitiveSchema("integer")).is_valid({"a": 1, "b": 2})
        True
    """

    value: Schema
    key_name: str = "key"
    value_name: str = "value"
    id: str | None = None

    @property
    def kind(self) -> str:
        return "Map"

    def describe(self) -> str:
        return f"map of string to {self.value.describe()}"

    def validate(self, value: object, path: str) -> None:
        if not isinstance(value, dict):
            raise self.fail(path, value)
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.fail(path, value, f"map key {key!r} is not a string")
            self.value.validate(item, child_path(path, key))
