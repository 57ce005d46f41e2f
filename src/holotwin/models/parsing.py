"""Shared machinery of the DTDL parser: the issue list and readers for common DTDL properties.

Every reader records what is wrong as a :class:`~holotwin.errors.ModelIssue` (with a stable
``rule`` id) and carries on, so one pass over a batch reports every problem. Element labels are the
element's ``@id`` or a path such as ``dtmi:example:Pump;1/speed``.

Example:
    >>> ctx = ParseContext(version=2)
    >>> read_name(ctx, {"name": "bad name"}, "dtmi:example:Pump;1/contents[0]", "Property")
    >>> ctx.issues[0].rule, ctx.issues[0].property
    ('invalidName', 'name')
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from holotwin.errors import ModelIssue
from holotwin.models.identifiers import (
    CONTEXT_VERSIONS,
    KNOWN_EXTENSIONS,
    QUANTITATIVE_TYPES,
    dtmi_problem,
    is_dtmi,
    name_problem,
    reserved_problem,
)

__all__ = [
    "COMMON_KEYS",
    "SEMANTIC_TYPES",
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

_TEXT_LIMITS: Final = {2: {"displayName": 64}, 3: {"displayName": 512}}
_TEXT_DEFAULT_LIMIT: Final = 512


@dataclass
class ParseContext:
    """Where a parse stands: the DTDL major ``version``, extension contexts and the issues so far.

    Example:
        >>> ctx = ParseContext(version=3)
        >>> ctx.report("dtmi:x;1", "schema", "unknownSchema", "Property 'a' has no schema")
        >>> len(ctx.issues)
        1
    """

    version: int
    extensions: frozenset[str] = frozenset()
    issues: list[ModelIssue] = field(default_factory=list)

    def report(self, element: str, prop: str | None, rule: str, message: str) -> None:
        """Record one issue."""
        self.issues.append(ModelIssue(element=element, property=prop, rule=rule, message=message))

    def nested(self, obj: dict[str, Any], label: str) -> ParseContext:
        """The context for ``obj``, which may add extension contexts with its own ``@context``."""
        if "@context" not in obj:
            return self
        contexts = obj["@context"]
        added: set[str] = set()
        for item in as_list(contexts):
            if not isinstance(item, str):
                self.report(label, "@context", "invalidContext",
                            f"@context entries must be strings, not {type(item).__name__}")
            elif CONTEXT_VERSIONS.get(item, self.version) != self.version:
                self.report(label, "@context", "contextVersionChange",
                            f"the element uses {item} inside a DTDL v{self.version} document")
            elif item in KNOWN_EXTENSIONS and self.version >= 3:
                added.add(item)
            elif item not in CONTEXT_VERSIONS:
                self.report(label, "@context", "undefinedContext",
                            f"'{item}' is not a DTDL context or a known DTDL extension")
        if not added:
            return self
        return ParseContext(self.version, self.extensions | added, self.issues)


def as_list(value: object) -> list[Any]:
    """JSON-LD allows one value where a list is expected: return ``value`` as a list.

    Example:
        >>> as_list("a"), as_list(["a", "b"]), as_list(None)
        (['a'], ['a', 'b'], [])
    """
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def scalar(value: object) -> object:
    """Unwrap JSON-LD forms of one value: a one-element list or a ``{"@value": ...}`` object.

    Example:
        >>> scalar([True]), scalar({"@value": 3, "@type": "xsd:integer"}), scalar([1, 2])
        (True, 3, [1, 2])
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, dict) and "@value" in value and set(value) <= {
        "@value", "@type", "@language"
    }:
        value = value["@value"]
    return value


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
        if class_of(item, ctx.version, [kind]) or item in co_types:
            continue
        if is_dtmi(item, ctx.version) or ":" in item:
            problem = dtmi_problem(item, ctx.version)
            if problem:
                ctx.report(label, "@type", "invalidType", f"co-type '{item}' is invalid: {problem}")
                continue
        elif item in SEMANTIC_TYPES:
            if not semantic:
                ctx.report(label, "@type", "semanticTypeNotAllowed",
                           f"a {kind} cannot have the semantic type '{item}'")
                continue
            if ctx.version >= 3 and QUANTITATIVE_TYPES not in ctx.extensions:
                ctx.report(label, "@type", "undefinedType",
                           f"semantic type '{item}' needs the context {QUANTITATIVE_TYPES}")
                continue
        elif not (ctx.extensions - {QUANTITATIVE_TYPES}):
            ctx.report(label, "@type", "undefinedType",
                       f"'{item}' is not a DTDL type that a {kind} can have")
            continue
        co_types.append(item)
    return tuple(co_types)


def check_keys(
    ctx: ParseContext, obj: dict[str, Any], label: str, kind: str, allowed: Iterable[str]
) -> None:
    """Report every key of ``obj`` that the DTDL element ``kind`` does not define."""
    known = COMMON_KEYS.union(allowed)
    for key in obj:
        if key not in known:
            ctx.report(label, key, "undefinedProperty", f"a {kind} has no property '{key}'")


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
    """A localizable string (``displayName``, ``description``, ``comment``): a string or a map
    of language code to string. Returns the English (or first) text."""
    if prop not in obj:
        return None
    value = obj[prop]
    if isinstance(value, list) and prop != "comment":
        value = _language_map(value)
    else:
        value = scalar(value)
    limit = _TEXT_LIMITS.get(ctx.version, {}).get(prop, _TEXT_DEFAULT_LIMIT)
    texts: dict[str, object]
    if isinstance(value, str):
        texts = {"en": value}
    elif isinstance(value, dict) and prop != "comment" and value:
        texts = value
    else:
        ctx.report(label, prop, "invalidText",
                   f"{prop} must be a string" + ("" if prop == "comment"
                                                 else " or a map of language code to string"))
        return None
    for lang, text in texts.items():
        if not isinstance(text, str):
            ctx.report(label, prop, "invalidText", f"{prop} for '{lang}' must be a string")
            return None
        if len(text) > limit:
            ctx.report(label, prop, "textTooLong", f"{prop} is longer than {limit} characters")
            return None
    first = texts.get("en", next(iter(texts.values())))
    return str(first)


def read_bool(ctx: ParseContext, obj: dict[str, Any], label: str, prop: str) -> bool | None:
    """A boolean property, None if absent or invalid (reported)."""
    if prop not in obj:
        return None
    value = scalar(obj[prop])
    if not isinstance(value, bool):
        ctx.report(label, prop, "invalidBoolean", f"{prop} must be true or false, not {value!r}")
        return None
    return value


def read_int(
    ctx: ParseContext, obj: dict[str, Any], label: str, prop: str, minimum: int
) -> int | None:
    """A whole-number property of at least ``minimum``, None if absent or invalid (reported)."""
    if prop not in obj:
        return None
    value = scalar(obj[prop])
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        ctx.report(label, prop, "invalidInteger",
                   f"{prop} must be a whole number of at least {minimum}, not {value!r}")
        return None
    return value


def _language_map(items: list[Any]) -> object:
    """A JSON-LD list of strings / ``{"@value", "@language"}`` objects as a language map."""
    texts: dict[str, object] = {}
    for item in items:
        if isinstance(item, str):
            lang, text = "", item
        elif isinstance(item, dict) and set(item) <= {"@value", "@language"} and "@value" in item:
            lang, text = str(item.get("@language", "")), item["@value"]
        else:
            return items
        if lang in texts:
            return items  # two texts for one language
        texts[lang] = text
    if list(texts) == [""]:
        return texts[""]
    return {("en" if k == "" else k): v for k, v in texts.items()} or items
