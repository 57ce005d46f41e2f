"""DTDL identifiers: digital twin model identifiers (DTMIs), element names and ``@context`` values.

The rules differ between DTDL v2 and v3 (v3 makes the version optional, allows a minor version
and longer names), so every check takes the DTDL major version.

Example:
    >>> dtmi_problem("dtmi:com:example:Pump;1", 2) is None
    True
    >>> dtmi_problem("dtmi:com:example:Pump", 2)
    'it has no version (a DTMI ends in ;<version>, e.g. dtmi:com:example:Pump;1)'
    >>> name_problem("inlet_temperature", 3) is None
    True
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "CONTEXT_VERSIONS",
    "KNOWN_EXTENSIONS",
    "QUANTITATIVE_TYPES",
    "dtmi_problem",
    "is_dtmi",
    "name_problem",
    "reserved_problem",
]

CONTEXT_VERSIONS: Final = {"dtmi:dtdl:context;2": 2, "dtmi:dtdl:context;3": 3}
"""The DTDL language contexts and the major version each selects."""

QUANTITATIVE_TYPES: Final = "dtmi:dtdl:extension:quantitativeTypes;1"

KNOWN_EXTENSIONS: Final = frozenset({
    QUANTITATIVE_TYPES,
    "dtmi:dtdl:extension:historization;1",
    "dtmi:dtdl:extension:annotation;1",
    "dtmi:dtdl:extension:overriding;1",
    "dtmi:dtdl:extension:mqtt;1",
    "dtmi:dtdl:extension:mqtt;2",
    "dtmi:dtdl:extension:requirement;1",
})
"""Extension contexts DTDL v3 documents may add after ``dtmi:dtdl:context;3``."""

_SEGMENT = r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?"
_PATH = re.compile(rf"{_SEGMENT}(?::{_SEGMENT})*")
_VERSION = re.compile(r"[1-9][0-9]{0,8}")
_MINOR = re.compile(r"[1-9][0-9]{0,5}")
_NAME = re.compile(r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?")
_NAME_MAX: Final = {2: 64, 3: 512}
_DTMI_MAX: Final = 2048
_RESERVED_FIRST_SEGMENTS: Final = frozenset({"dtdl", "standard"})


def dtmi_problem(value: object, version: int) -> str | None:
    """Say why ``value`` is not a valid DTMI in DTDL ``version``, or return None if it is.

    Example:
        >>> dtmi_problem("dtmi:foo:bar;3.14", 3) is None
        True
        >>> dtmi_problem("dtmi:foo:1bar;1", 3)
        "segment '1bar' must start with a letter, hold only letters, digits and underscores \
and not end with an underscore"
    """
    if not isinstance(value, str):
        return f"it must be a string, not {type(value).__name__}"
    if not value.startswith("dtmi:"):
        return "it must start with 'dtmi:'"
    if len(value) > _DTMI_MAX:
        return f"it is longer than {_DTMI_MAX} characters"
    path, sep, ver = value[5:].partition(";")
    if not path:
        return "it has no path after 'dtmi:'"
    for segment in path.split(":"):
        if not _PATH.fullmatch(segment):
            return (
                f"segment '{segment}' must start with a letter, hold only letters, digits and "
                "underscores and not end with an underscore"
            )
    if not sep:
        if version < 3:
            return "it has no version (a DTMI ends in ;<version>, e.g. dtmi:com:example:Pump;1)"
        return None
    major, dot, minor = ver.partition(".")
    if not _VERSION.fullmatch(major):
        return f"version '{ver}' must be a whole number from 1 to 999999999 without leading zeros"
    if dot and (version < 3 or not _MINOR.fullmatch(minor)):
        if version < 3:
            return f"version '{ver}' must be a whole number (minor versions need DTDL v3)"
        return f"minor version '{minor}' must be a number from 1 to 999999 without leading zeros"
    return None


def is_dtmi(value: object, version: int = 3) -> bool:
    """True if ``value`` is a valid DTMI.

    Example:
        >>> is_dtmi("dtmi:a:b;1"), is_dtmi("urn:a:b")
        (True, False)
    """
    return dtmi_problem(value, version) is None


def reserved_problem(dtmi: str) -> str | None:
    """Say why ``dtmi`` may not be used as the ``@id`` of a user's element (reserved prefix).

    Example:
        >>> reserved_problem("dtmi:dtdl:example;1")
        "identifiers starting with 'dtmi:dtdl:' are reserved for the DTDL language"
    """
    first = dtmi[5:].split(":", 1)[0].split(";", 1)[0]
    if first in _RESERVED_FIRST_SEGMENTS:
        return f"identifiers starting with 'dtmi:{first}:' are reserved for the DTDL language"
    return None


def name_problem(value: object, version: int) -> str | None:
    """Say why ``value`` is not a valid DTDL ``name`` in ``version``, or return None if it is.

    Example:
        >>> name_problem("speed_", 2)
        "'speed_' must start with a letter, hold only letters, digits and underscores and not \
end with an underscore"
    """
    if not isinstance(value, str):
        return f"it must be a string, not {type(value).__name__}"
    limit = _NAME_MAX.get(version, 512)
    if len(value) > limit:
        return f"it is longer than {limit} characters"
    if not _NAME.fullmatch(value):
        return (
            f"'{value}' must start with a letter, hold only letters, digits and underscores "
            "and not end with an underscore"
        )
    return None
