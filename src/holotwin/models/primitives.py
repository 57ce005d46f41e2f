"""DTDL primitive schemas (``boolean``, ``double``, ``dateTime``, ``uuid``, ...) and their values.

Numbers follow JSON as decoded by :mod:`json`: integer kinds take ``int`` (never ``bool``) inside
their range; ``double``, ``float`` and ``decimal`` take ``int`` or ``float`` that is finite. Dates,
times and durations are ISO 8601 strings; ``dateTime`` needs a zone (``Z`` or an offset).

Example:
    >>> PrimitiveSchema("dateTime").is_valid("2024-01-01T00:00:00Z")
    True
    >>> PrimitiveSchema("dateTime").is_valid("2024-01-01 00:00")
    False
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from holotwin.models.schema import Schema

__all__ = ["PRIMITIVES_V2", "PRIMITIVES_V3", "PrimitiveSchema"]

_INT_RANGES: Final = MappingProxyType({
    "byte": (-(2**7), 2**7 - 1),
    "short": (-(2**15), 2**15 - 1),
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
    "unsignedByte": (0, 2**8 - 1),
    "unsignedShort": (0, 2**16 - 1),
    "unsignedInteger": (0, 2**32 - 1),
    "unsignedLong": (0, 2**64 - 1),
})
_FLOAT_MAX: Final = 3.4028234663852886e38

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})")
_NUM = r"\d+(?:[.,]\d+)?"
_DURATION = re.compile(
    rf"P(?!$)(?:{_NUM}W|(?:{_NUM}Y)?(?:{_NUM}M)?(?:{_NUM}D)?"
    rf"(?:T(?=\d)(?:{_NUM}H)?(?:{_NUM}M)?(?:{_NUM}S)?)?)"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

PRIMITIVES_V2: Final = frozenset({
    "boolean", "date", "dateTime", "double", "duration", "float", "integer", "long", "string",
    "time",
})
"""Primitive schema names of DTDL v2."""

PRIMITIVES_V3: Final = PRIMITIVES_V2 | frozenset({
    "byte", "bytes", "decimal", "short", "unsignedByte", "unsignedShort", "unsignedInteger",
    "unsignedLong", "uuid",
})
"""Primitive schema names of DTDL v3."""


def _fractional_seconds(text: str) -> str:
    # datetime.fromisoformat in 3.11 takes at most 6 fraction digits; ISO 8601 allows more.
    return re.sub(r"(\.\d{6})\d+", r"\1", text)


def _check_boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else ""


def _check_real(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    if isinstance(value, float) and not math.isfinite(value):
        return "not a finite number"
    return None


def _check_float(value: object) -> str | None:
    problem = _check_real(value)
    if problem is None and abs(float(value)) > _FLOAT_MAX:  # type: ignore[arg-type]
        return "out of the range of a 32-bit float"
    return problem


def _integer_check(low: int, high: int) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return "a whole number must be written without a fraction"
            return ""
        if not low <= value <= high:
            return f"out of range {low}..{high}"
        return None

    return check


def _check_string(value: object) -> str | None:
    return None if isinstance(value, str) else ""


def _pattern_check(
    pattern: re.Pattern[str], parse: Callable[[str], object] | None, form: str
) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if not isinstance(value, str):
            return ""
        if not pattern.fullmatch(value):
            return f"not in ISO 8601 form {form}" if parse or "P" in form else f"not {form}"
        if parse is not None:
            try:
                parse(_fractional_seconds(value))
            except ValueError as exc:
                return str(exc)
        return None

    return check


def _check_bytes(value: object) -> str | None:
    if not isinstance(value, str):
        return ""
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "not base64-encoded"
    return None


def _checks() -> MappingProxyType[str, Callable[[object], str | None]]:
    table: dict[str, Callable[[object], str | None]] = {
        "boolean": _check_boolean,
        "double": _check_real,
        "decimal": _check_real,
        "float": _check_float,
        "string": _check_string,
        "bytes": _check_bytes,
        "date": _pattern_check(_DATE, dt.date.fromisoformat, "YYYY-MM-DD"),
        "time": _pattern_check(_TIME, dt.time.fromisoformat, "hh:mm:ss"),
        "dateTime": _pattern_check(
            _DATETIME, dt.datetime.fromisoformat, "YYYY-MM-DDThh:mm:ssZ (with a zone)"
        ),
        "duration": _pattern_check(_DURATION, None, "PnYnMnDTnHnMnS, e.g. PT5M"),
        "uuid": _pattern_check(_UUID, None, "a UUID (8-4-4-4-12 hex digits)"),
    }
    for name, (low, high) in _INT_RANGES.items():
        table[name] = _integer_check(low, high)
    return MappingProxyType(table)


_CHECKS: Final = _checks()


@dataclass(frozen=True)
class PrimitiveSchema(Schema):
    """A DTDL primitive schema such as ``double``, ``integer`` or ``dateTime``.

    Example:
        >>> PrimitiveSchema("integer").validate(7, "/count")
        >>> PrimitiveSchema("integer").validate(True, "/count")
        Traceback (most recent call last):
        ...
        holotwin.errors.PropertyValueError: Property '/count' expects integer, got True
        >>> PrimitiveSchema("duration").is_valid("P1DT2H")
        True
    """

    name: str

    def __post_init__(self) -> None:
        if self.name not in _CHECKS:
            raise ValueError(f"'{self.name}' is not a DTDL primitive schema")

    @property
    def kind(self) -> str:
        return self.name

    def validate(self, value: object, path: str) -> None:
        problem = _CHECKS[self.name](value)
        if problem is not None:
            raise self.fail(path, value, problem or None)

    def describe(self) -> str:
        return self.name
