"""Shared machinery of the DTDL parser: the issue list and readers for common DTDL properties.

Every reader records what is wrong as a :class:`~holotwin.errors.ModelIssue` (with a stable
``rule`` id) and carries on, so one pass over a batch reports every problem. Element labels are the
element's ``@id`` or a path such as ``dtmi:example:Pump;1/speed``.

Example:
    >>> ctx = ParseContext(version=2)
    >>> read_name(ctx, {"name": "bad name"}, "dtmi:example:Pump;1/contents[0]", "Property")
    >>> ctx.issues[0].rule, ctx.issues[0].property
    ('dtmi:dtdl:parsingError:stringInvalid', 'name')
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from holotwin.errors import ModelIssue
from holotwin.models.contexts import read_context_list
from holotwin.models.identifiers import (
    QUANTITATIVE_TYPES,
    dtmi_problem,
    is_dtmi,
    name_problem,
    reserved_problem,
)
from holotwin.models.literals import read_lang_string, unwrap_value
from holotwin.models.rules import Rule, rule_id
from holotwin.models.terms import DTDL_CLASSES, classify_co_type, classify_key

__all__ = [
    "COMMON_KEYS",
    "SEMANTIC_TYPES",
    "V2_CONTEXT",
    "ParseContext",
    "as_list",
    "check_keys",
    "child_label",
    "class_of",
    "read_bool",
    "read_id",
    "read_int",
    "read_name",
    "read_text",
    "read_types",
    "scalar",
]

COMMON_KEYS: Final = frozenset({"@id", "@type", "@context", "comment", "description", "displayName"})

SEMANTIC_TYPES: Final = frozenset({
    "Acceleration", "Angle", "AngularAcceleration", "AngularVelocity", "Area", "Capacitance",
    "Current", "DataRate", "DataSize", "Density", "Distance", "ElectricCharge", "Energy", "Force",
    "Frequency", "Humidity", "Illuminance", "Inductance", "Latitude", "Length", "Longitude",
    "Luminance", "Luminosity", "LuminousFlux", "LuminousIntensity", "MagneticFlux",
    "MagneticInduction", "Mass", "MassFlowRate", "Power", "Pressure", "RelativeHumidity",
    "Resistance", "SoundPressure", "Temperature", "Thrust", "TimeSpan", "Torque", "Velocity",
    "Voltage", "Volume", "VolumeFlowRate", "ApparentEnergy", "ApparentPower", "ReactiveEnergy",
    "ReactivePower", "Irradiance", "Concentration", "ChargeRate", "Radioactivity",
})
"""Semantic types (``@type`` co-types with a ``unit``): built into DTDL v2, and in v3 defined by
the ``dtmi:dtdl:extension:quantitativeTypes;1`` extension."""

V2_CONTEXT: Final = "dtmi:dtdl:context;2"
_SEMANTIC_DTMI: Final = re.compile(r"dtmi:standard:class:([A-Za-z]+);([0-9]+)")
_TEXT_LIMITS: Final = {2: {"displayName": 64}, 3: {"displayName": 512}}
_TEXT_DEFAULT_LIMIT: Final = 512


@dataclass
class ParseContext:
    """Where a parse stands: the DTDL major ``version``, extension contexts and the issues so far.

    ``allow_undefined`` is the caller's option to accept extension contexts holotwin does not
    know; ``undefined`` is True below an element that uses one (its terms are then accepted
    unchecked).

    Example:
        >>> ctx = ParseContext(version=3)
        >>> ctx.report("dtmi:x;1", "schema", "unknownSchema", "Property 'a' has no schema")
        >>> ctx.issues[0].rule
        'dtmi:dtdl:parsingError:badDtmiOrTerm'
    """

    version: int
    extensions: frozenset[str] = frozenset()
    issues: list[ModelIssue] = field(default_factory=list)
    allow_undefined: bool = False
    undefined: bool = False

    def report(self, element: str, prop: str | None, rule: str, message: str) -> None:
        """Record one issue (``rule`` is a short problem word or a validation id)."""
        self.issues.append(ModelIssue(element=element, property=prop, rule=rule_id(rule),
                                      message=message))

    def nested(self, obj: dict[str, Any], label: str, *, definition: bool = False) -> ParseContext:
        """The context for ``obj``, which may add extension contexts with its own ``@context``.

        A ``definition`` (an Interface, a content element or a complex schema) in a DTDL v3
        document may instead be written in DTDL v2, with its own ``@context`` naming
        ``dtmi:dtdl:context;2``; it and what it holds are then read as DTDL v2.
        """
        if "@context" not in obj:
            return self
        if definition and self.version >= 3 and V2_CONTEXT in as_list(obj["@context"]):
            whole = read_context_list(obj["@context"], top=True, version=None,
                                      allow_undefined=self.allow_undefined)
            for rule, message in whole.problems:
                self.report(label, "@context", rule, message)
            return ParseContext(2, whole.extensions, self.issues, self.allow_undefined,
                                self.undefined or whole.undefined)
        read = read_context_list(obj["@context"], top=False, version=self.version,
                                 allow_undefined=self.allow_undefined)
        for rule, message in read.problems:
            self.report(label, "@context", rule, message)
        if not read.extensions - self.extensions and not (read.undefined and not self.undefined):
            return self
        return ParseContext(self.version, self.extensions | read.extensions, self.issues,
                            self.allow_undefined, self.undefined or read.undefined)


def as_list(value: object) -> list[Any]:
    """JSON-LD allows one value where a list is expected: return ``value`` as a list.

    Example:
        >>> as_list("a"), as_list(["a", "b"]), as_list(None)
        (['a'], ['a', 'b'], [])
    """
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def scalar(value: object, version: int = 3) -> object:
    """Unwrap JSON-LD forms of one value: a one-element list or a ``{"@value": ...}`` object
    (DTDL ``version`` 2 ignores extra keys of the object).

    Example:
        >>> scalar([True]), scalar({"@value": 3, "@type": "xsd:integer"}), scalar([1, 2])
        (True, 3, [1, 2])
    """
    return unwrap_value(value, version)


def child_label(parent: str, obj: object, fallback: str) -> str:
    """A label for ``obj`` nested in ``parent``: its ``@id``, else ``parent/name``, else fallback.

    Example:
        >>> child_label("dtmi:x;1", {"name": "speed"}, "contents[0]")
        'dtmi:x;1/speed'
    """
    if isinstance(obj, dict):
        if is_dtmi(obj.get("@id")):
            return str(obj["@id"])
        name = obj.get("name")
        if isinstance(name, str) and name:
            return f"{parent}/{name}"
    return f"{parent}/{fallback}"


def class_of(types: object, version: int, classes: Iterable[str]) -> str | None:
    """Which of ``classes`` (DTDL class terms) the ``@type`` value names, if any.

    Example:
        >>> class_of(["Property", "Temperature"], 2, ["Property", "Telemetry"])
        'Property'
        >>> class_of("dtmi:dtdl:class:Telemetry;3", 3, ["Property", "Telemetry"])
        'Telemetry'
    """
    for item in as_list(types):
        for cls in classes:
            if item == cls or item == f"dtmi:dtdl:class:{cls};{version}":
                return cls
    return None


def read_types(
    ctx: ParseContext,
    obj: dict[str, Any],
    label: str,
    kind: str,
    *,
    required: bool = True,
    semantic: bool = False,
) -> tuple[str, ...]:
    """Check ``@type`` names ``kind`` and return the other types (co-types), e.g. semantic types."""
    if "@type" not in obj:
        if required:
            ctx.report(label, "@type", "missingType", f"the {kind} has no @type (use '{kind}')")
        return ()
    raw = obj["@type"]
    items = as_list(raw)
    if not items or any(not isinstance(t, str) for t in items) or (
        not isinstance(raw, str | list)
    ):
        ctx.report(label, "@type", "invalidType",
                   f"@type must be a string or a list of strings naming '{kind}'")
        return ()
    if class_of(items, ctx.version, [kind]) is None:
        ctx.report(label, "@type", "wrongType", f"@type {raw!r} must include '{kind}'")
        return ()
    co_types: list[str] = []
    for item in items:
        item = _semantic_term(item, ctx.version)
        if class_of(item, ctx.version, [kind]) or item in co_types:
            continue
        if item in SEMANTIC_TYPES and (ctx.version < 3 or QUANTITATIVE_TYPES in ctx.extensions):
            if not semantic and not ctx.undefined:
                ctx.report(label, "@type", "semanticTypeNotAllowed",
                           f"a {kind} cannot have the semantic type '{item}' (only Property, "
                           "Telemetry, Field and MapValue can)")
                continue
        else:
            rule, _ = classify_co_type(item, ctx.version, ctx.extensions, undefined=ctx.undefined)
            if rule is not None:
                ctx.report(label, "@type", rule, _co_type_message(ctx, item, kind))
                continue
        co_types.append(item)
    return tuple(co_types)


def _semantic_term(item: str, version: int) -> str:
    """``dtmi:standard:class:Temperature;2`` written for the semantic type ``Temperature``."""
    match = _SEMANTIC_DTMI.fullmatch(item)
    if match and match[1] in SEMANTIC_TYPES and int(match[2]) == version:
        return match[1]
    return item


def _co_type_message(ctx: ParseContext, item: str, kind: str) -> str:
    if item.startswith("dtmi:") and dtmi_problem(item, ctx.version):
        return f"co-type '{item}' is not a valid DTMI: {dtmi_problem(item, ctx.version)}"
    if item in SEMANTIC_TYPES:
        return f"semantic type '{item}' needs the context {QUANTITATIVE_TYPES} in @context"
    return (f"co-type '{item}' of this {kind} is not defined by any context in scope (use a "
            "DTDL class, a semantic type, or a type from an extension named in @context)")


def is_open(ctx: ParseContext, obj: dict[str, Any]) -> bool:
    """True if a co-type of ``obj`` lets it carry keys DTDL does not define (see terms)."""
    for item in as_list(obj.get("@type")):
        if isinstance(item, str) and not item.startswith("dtmi:dtdl:class:") and (
            item not in SEMANTIC_TYPES or (ctx.version >= 3 and QUANTITATIVE_TYPES
                                           not in ctx.extensions)
        ):
            rule, opens = classify_co_type(item, ctx.version, ctx.extensions,
                                           undefined=ctx.undefined)
            if rule is None and opens and item not in DTDL_CLASSES:
                return True
    return False


def check_keys(
    ctx: ParseContext, obj: dict[str, Any], label: str, kind: str, allowed: Iterable[str]
) -> None:
    """Report every key of ``obj`` that the DTDL element ``kind`` does not define."""
    known = COMMON_KEYS.union(allowed)
    open_element: bool | None = None
    for key in obj:
        if key in known:
            continue
        if open_element is None:
            open_element = is_open(ctx, obj)
        rule = classify_key(str(key), ctx.version, open_element=open_element)
        if rule is not None:
            expected = ", ".join(sorted(known - {"@context"}))
            ctx.report(label, key, rule,
                       f"a {kind} has no property '{key}' (it may have {expected})")


def read_id(ctx: ParseContext, obj: dict[str, Any], label: str, *, required: bool) -> str | None:
    """The element's ``@id`` if present and valid (problems are reported)."""
    if "@id" not in obj:
        if required:
            ctx.report(label, "@id", "missingId", "the element has no @id (a DTMI)")
        return None
    value = obj["@id"]
    problem = dtmi_problem(value, ctx.version)
    if problem is None and isinstance(value, str):
        problem = reserved_problem(value)
    if problem:
        ctx.report(label, "@id", "invalidId", f"@id {value!r} is not a valid DTMI: {problem}")
        return None
    return str(value)


def read_name(ctx: ParseContext, obj: dict[str, Any], label: str, kind: str) -> str | None:
    """The element's required ``name`` if valid (problems are reported)."""
    if "name" not in obj:
        ctx.report(label, "name", "missingName", f"the {kind} has no name")
        return None
    value = scalar(obj["name"])
    problem = name_problem(value, ctx.version)
    if problem:
        ctx.report(label, "name", "invalidName", f"the {kind} name is invalid: {problem}")
        return None
    return str(value)


def read_text(ctx: ParseContext, obj: dict[str, Any], label: str, prop: str) -> str | None:
    """A ``comment`` (a plain string) or a localizable string (``displayName``,
    ``description``: see :func:`~holotwin.models.literals.read_lang_string`). Returns the
    English (or first) text; an empty list or map counts as no text."""
    if prop not in obj:
        return None
    limit = _TEXT_LIMITS.get(ctx.version, {}).get(prop, _TEXT_DEFAULT_LIMIT)
    value = obj[prop]
    if prop == "comment":
        if value == []:
            return None
        value = unwrap_value(value, ctx.version)
        if not isinstance(value, str):
            ctx.report(label, prop, Rule.STRING_NOT_STRING,
                       f"comment must be a string, not {value!r}")
            return None
        texts = {"en": value}
    else:
        texts, problem = read_lang_string(value, ctx.version)
        if problem:
            ctx.report(label, prop, "invalidText", f"{prop} is not a valid text: {problem}")
            return None
    for text in texts.values():
        if len(text) > limit:
            rule = Rule.STRING_TOO_LONG if prop == "comment" else "textTooLong"
            ctx.report(label, prop, rule, f"{prop} is longer than {limit} characters")
            return None
    return texts.get("en", next(iter(texts.values()), None))


def read_bool(ctx: ParseContext, obj: dict[str, Any], label: str, prop: str) -> bool | None:
    """A boolean property, None if absent (or ``[]``, no value) or invalid (reported)."""
    if prop not in obj or obj[prop] == []:
        return None
    value = scalar(obj[prop], ctx.version)
    if not isinstance(value, bool):
        ctx.report(label, prop, "invalidBoolean", f"{prop} must be true or false, not {value!r}")
        return None
    return value


def read_int(
    ctx: ParseContext, obj: dict[str, Any], label: str, prop: str, minimum: int
) -> int | None:
    """A whole-number property of at least ``minimum``, None if absent (or ``[]``, no value) or
    invalid (reported)."""
    if prop not in obj or obj[prop] == []:
        return None
    value = scalar(obj[prop], ctx.version)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        ctx.report(label, prop, "invalidInteger",
                   f"{prop} must be a whole number of at least {minimum}, not {value!r}")
        return None
    return value
