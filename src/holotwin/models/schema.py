"""The base of every resolved DTDL schema: ``validate`` a JSON value and ``describe`` the schema.

A schema is immutable and holds no per-value state, so one instance serves every twin of a model.
Subclasses: :class:`~holotwin.models.primitives.PrimitiveSchema`,
:class:`~holotwin.models.geospatial.GeospatialSchema` and the complex schemas in
:mod:`holotwin.models.complex`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from holotwin.errors import PropertyValueError

__all__ = ["Schema", "child_path"]


def child_path(path: str, key: str | int) -> str:
    """The JSON pointer of ``key`` inside the value at ``path`` (RFC 6901 escaping).

    Example:
        >>> child_path("/settings", "speed"), child_path("/tags", 3), child_path("", "a/b")
        ('/settings/speed', '/tags/3', '/a~1b')
    """
    text = str(key).replace("~", "~0").replace("/", "~1")
    return f"{path}/{text}"


class Schema(ABC):
    """A resolved DTDL schema that checks JSON values (as decoded by :mod:`json`).

    ``kind`` names the DTDL schema (``double``, ``Object``, ``Enum``, ...).

    Example:
        >>> from holotwin.models import PrimitiveSchema
        >>> schema = PrimitiveSchema("double")
        >>> schema.describe()
        'double'
        >>> schema.validate(21.5, "/temperature")
        >>> schema.validate("hot", "/temperature")
        Traceback (most recent call last):
        ...
        holotwin.errors.PropertyValueError: Property '/temperature' expects double, got 'hot'
    """

    __slots__ = ()

    @property
    @abstractmethod
    def kind(self) -> str:
        """The DTDL name of this kind of schema."""

    @abstractmethod
    def validate(self, value: object, path: str) -> None:
        """Raise :class:`PropertyValueError` for the first problem of ``value`` (at ``path``)."""

    @abstractmethod
    def describe(self) -> str:
        """Words for the values this schema accepts, e.g. ``'array of double'``."""

    def is_valid(self, value: object) -> bool:
        """True if ``value`` passes :meth:`validate`.

        Example:
            >>> from holotwin.models import PrimitiveSchema
            >>> PrimitiveSchema("integer").is_valid(2**40)
            False
        """
        try:
            self.validate(value, "")
        except PropertyValueError:
            return False
        return True

    def fail(self, path: str, value: object, reason: str | None = None) -> PropertyValueError:
        """The error for ``value`` at ``path`` (callers ``raise`` it)."""
        return PropertyValueError(path, self.describe(), value, reason)

    def __str__(self) -> str:
        return self.describe()
