"""From a raw message to telemetry readings: topic patterns, JSON pointers, times and units.

Pure functions and frozen values: no clock (the receive time is passed in), no I/O.

A :class:`TopicMapping` says which twin a topic feeds and how to read its payload:

>>> m = TopicMapping.create("plant/{line}/{machine}/telemetry", twin="{machine}",
...                         signals={"temperature": "/sensors/temp"},
...                         units={"temperature": "degreeFahrenheit"}, time="/ts")
>>> m.topic.subscription
'plant/+/+/telemetry'
>>> [(r.twin_id, r.values, r.time) for r in map_payload(
...     m, "plant/l1/m7/telemetry", {"ts": 1700000000, "sensors": {"temp": 212}}, 0.0)]
[('m7', {'temperature': 100.0}, 1700000000.0)]
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from holotwin.clock import from_iso
from holotwin.errors import InvalidInputError
from holotwin.service.ingestion import TelemetryMessage

__all__ = [
    "TIME_FORMATS",
    "UNIT_CONVERSIONS",
    "JsonPointer",
    "MappingError",
    "Reading",
    "TopicMapping",
    "TopicPattern",
    "UnitConversion",
    "map_payload",
]

TIME_FORMATS = ("auto", "iso", "s", "ms")
TARGETS = ("telemetry", "property")
MAX_RECORDS = 100_000
_EPOCH_MS_THRESHOLD = 1e11  # 1e11 s is the year 5138; as milliseconds it is 1973
_VARIABLE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_TEMPLATE_PART = re.compile(r"\{([^{}]*)\}")
_TWIN_CACHE = 100_000  # topics remembered per mapping


class MappingError(InvalidInputError):
    """A message (or a mapping's configuration) cannot be mapped; ``pointer`` names the part
    at fault when there is one."""

    code = "MappingError"

    def __init__(self, message: str, pointer: str | None = None) -> None:
        super().__init__(message)
        self.pointer = pointer


@dataclass(frozen=True)
class UnitConversion:
    """``target = value * scale + offset``."""

    source: str
    target: str
    scale: float
    offset: float = 0.0

    def apply(self, value: float) -> float:
        return value * self.scale + self.offset


#: The conversions holotwin knows, by DTDL unit name of the incoming value. Targets are SI
#: (degreeCelsius for temperature, as the DTDL models of the field use it).
UNIT_CONVERSIONS: dict[str, UnitConversion] = {
    c.source: c
    for c in (
        UnitConversion("degreeFahrenheit", "degreeCelsius", 5 / 9, -160 / 9),
        UnitConversion("kelvin", "degreeCelsius", 1.0, -273.15),
        UnitConversion("kilowatt", "watt", 1e3),
        UnitConversion("megawatt", "watt", 1e6),
        UnitConversion("kilowattHour", "joule", 3.6e6),
        UnitConversion("percent", "ratio", 0.01),
        UnitConversion("millisecond", "second", 1e-3),
        UnitConversion("minute", "second", 60.0),
        UnitConversion("hour", "second", 3600.0),
        UnitConversion("kilopascal", "pascal", 1e3),
        UnitConversion("bar", "pascal", 1e5),
        UnitConversion("poundPerSquareInch", "pascal", 6894.757293168361),
        UnitConversion("revolutionPerMinute", "hertz", 1 / 60),
        UnitConversion("kilometrePerHour", "metrePerSecond", 1 / 3.6),
        UnitConversion("milliampere", "ampere", 1e-3),
    )
}

_MISSING = object()  # a pointer that found nothing
_RAISE = object()  # resolve() without a default


@dataclass(frozen=True)
class JsonPointer:
    """An RFC 6901 JSON pointer (``""`` is the whole document).

    >>> JsonPointer.parse("/a~1b/0").resolve({"a/b": [5]})
    5
    """

    text: str
    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> JsonPointer:
        if not isinstance(text, str) or (text and not text.startswith("/")):
            raise MappingError(f"Invalid JSON pointer {text!r}: it must be empty or start with /",
                               pointer=str(text))
        if re.search(r"~(?![01])", text):
            raise MappingError(f"Invalid JSON pointer {text!r}: ~ must be followed by 0 or 1",
                               pointer=text)
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in text.split("/")[1:])
        return cls(text, tokens)

    def resolve(self, document: object, default: object = _RAISE) -> Any:
        """The value at the pointer, or ``default`` (a MappingError without one)."""
        value = document
        for token in self.tokens:
            if isinstance(value, dict) and token in value:
                value = value[token]
            elif (isinstance(value, list) and token.isdigit()
                  and (token == "0" or not token.startswith("0")) and int(token) < len(value)):
                value = value[int(token)]
            else:
                if default is not _RAISE:
                    return default
                raise MappingError(f"No value at {self.text}", pointer=self.text)
        return value


@dataclass(frozen=True)
class TopicPattern:
    """A topic with ``{name}`` levels (one level each), ``+`` and a final ``#``.

    >>> p = TopicPattern.parse("plant/{line}/+/{machine}/#")
    >>> p.subscription
    'plant/+/+/+/#'
    >>> p.match("plant/l1/x/m2/a/b")
    {'line': 'l1', 'machine': 'm2'}
    """

    text: str
    levels: tuple[str, ...]

    @classmethod
    def parse(cls, text: str) -> TopicPattern:
        if not isinstance(text, str) or not text:
            raise MappingError(f"A topic pattern must be a non-empty string, got {text!r}")
        levels = tuple(text.split("/"))
        names: set[str] = set()
        for i, level in enumerate(levels):
            var = _VARIABLE.match(level)
            if var:
                if var.group(1) in names:
                    raise MappingError(f"Topic pattern {text!r} names {{{var.group(1)}}} twice")
                names.add(var.group(1))
            elif level == "#":
                if i != len(levels) - 1:
                    raise MappingError(f"Topic pattern {text!r}: # must be the last level")
            elif level != "+" and any(c in level for c in "+#{}"):
                raise MappingError(
                    f"Topic pattern {text!r}: level {level!r} must be literal text, {{name}}, "
                    "+ or #")
        return cls(text, levels)

    @property
    def variables(self) -> tuple[str, ...]:
        return tuple(m.group(1) for m in map(_VARIABLE.match, self.levels) if m)

    @property
    def subscription(self) -> str:
        """The MQTT subscription that receives every matching topic."""
        return "/".join("+" if _VARIABLE.match(level) else level for level in self.levels)

    @cached_property
    def _regex(self) -> re.Pattern[str]:
        parts = []
        for level in self.levels:
            var = _VARIABLE.match(level)
            if var:
                parts.append(f"(?P<{var.group(1)}>[^/]+)")
            elif level == "+":
                parts.append("[^/]*")
            elif level != "#":
                parts.append(re.escape(level))
        body = "/".join(parts)
        if self.levels[-1] == "#":  # also matches the parent level, as in MQTT
            body = f"{body}(?:/.*)?" if parts else ".*"
        return re.compile(body, re.DOTALL)

    def match(self, topic: str) -> dict[str, str] | None:
        """The ``{name}`` values of a matching topic, None if it does not match."""
        found = self._regex.fullmatch(topic)
        return None if found is None else found.groupdict()


#: The values one record of a message gives one twin at one source time (epoch s):
#: ``Reading(twin_id, values, time)``, the pipeline's unit of work (a named tuple).
Reading = TelemetryMessage


@dataclass(frozen=True)
class TopicMapping:
    """How messages on matching topics become readings.

    ``twin``: a template over the pattern's names (``"{machine}"``, ``"press-{line}"``) or a
    literal id. ``records``: a pointer to an array of records in the payload (a payload that is
    an array is one without it). ``signals``: signal name to pointer within a record (without
    it every member of the record is a signal). ``time``: pointer to the source time (ISO 8601,
    or epoch seconds or milliseconds per ``time_format``; the receive time without it).
    ``units``: the unit of an incoming signal, converted per :data:`UNIT_CONVERSIONS`.
    """

    topic: TopicPattern
    twin: str
    qos: int = 1
    records: JsonPointer | None = None
    signals: tuple[tuple[str, JsonPointer], ...] | None = None
    time: JsonPointer | None = None
    time_format: str = "auto"
    units: tuple[tuple[str, UnitConversion], ...] = ()
    #: "telemetry", or "property": the values are reported values of the twin's properties
    target: str = "telemetry"
    #: twin id (or None) of topics seen, so that a busy topic is matched once
    _twins: dict[str, str | None] = field(default_factory=dict, init=False, repr=False,
                                          compare=False)

    @classmethod
    def create(
        cls,
        topic: str,
        twin: str,
        *,
        qos: int = 1,
        records: str | None = None,
        signals: Mapping[str, str] | None = None,
        time: str | None = None,
        time_format: str = "auto",
        units: Mapping[str, str] | None = None,
        target: str = "telemetry",
    ) -> TopicMapping:
        """Build and check a mapping; a :class:`MappingError` names what is wrong."""
        pattern = TopicPattern.parse(topic)
        if not isinstance(twin, str) or not twin:
            raise MappingError(f"The twin of topic {topic!r} must be a non-empty string")
        for name in _TEMPLATE_PART.findall(twin):
            if name not in pattern.variables:
                raise MappingError(
                    f"The twin template {twin!r} uses {{{name}}}, which topic {topic!r} does not "
                    f"name (it names: {', '.join(pattern.variables) or 'nothing'})")
        if qos not in (0, 1):
            raise MappingError(f"QoS must be 0 or 1, got {qos!r}")
        if target not in TARGETS:
            raise MappingError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
        if time_format not in TIME_FORMATS:
            raise MappingError(f"time_format must be one of {', '.join(TIME_FORMATS)}, "
                               f"got {time_format!r}")
        parsed_signals = None
        if signals is not None:
            if not signals:
                raise MappingError("signals, when given, must map at least one signal")
            parsed_signals = tuple((n, JsonPointer.parse(p)) for n, p in signals.items())
        conversions = []
        for name, unit in (units or {}).items():
            conversion = UNIT_CONVERSIONS.get(unit)
            if conversion is None:
                raise MappingError(f"Unknown unit {unit!r} for signal {name!r}; known: "
                                   f"{', '.join(sorted(UNIT_CONVERSIONS))}")
            conversions.append((name, conversion))
        return cls(pattern, twin, qos, JsonPointer.parse(records) if records is not None else None,
                   parsed_signals, JsonPointer.parse(time) if time is not None else None,
                   time_format, tuple(conversions), target)

    def twin_id(self, topic: str) -> str | None:
        """The twin a topic feeds, None if the topic does not match."""
        try:
            return self._twins[topic]
        except KeyError:
            pass
        found = self.topic.match(topic)
        twin = None if found is None else _TEMPLATE_PART.sub(lambda m: found[m.group(1)],
                                                             self.twin)
        if len(self._twins) >= _TWIN_CACHE:
            self._twins.clear()
        self._twins[topic] = twin
        return twin


def map_payload(
    mapping: TopicMapping, topic: str, document: object, received: float,
    twin_id: str | None = None,
) -> list[Reading]:
    """The readings in a decoded payload; ``received`` (epoch s) is the default source time;
    ``twin_id``, when the caller has it, is ``mapping.twin_id(topic)``.

    Raises :class:`MappingError` naming the topic, record and pointer at fault.
    """
    if twin_id is None:
        twin_id = mapping.twin_id(topic)
        if twin_id is None:
            raise MappingError(f"Topic {topic!r} does not match {mapping.topic.text!r}")
    if mapping.records is not None:
        records = mapping.records.resolve(document, None)
        if not isinstance(records, list):
            raise MappingError(
                f"Message on {topic!r}: expected an array of records at "
                f"{mapping.records.text or '(the root)'}, got {_kind(records)}",
                pointer=mapping.records.text)
    elif isinstance(document, list):
        records = document
    else:
        records = [document]
    if not records:
        raise MappingError(f"Message on {topic!r} holds no records")
    if len(records) > MAX_RECORDS:
        raise MappingError(f"Message on {topic!r} holds {len(records)} records, over the "
                           f"limit of {MAX_RECORDS}")
    readings = []
    i = 0
    try:
        for i, record in enumerate(records):  # noqa: B007 - i names the record at fault
            readings.append(_map_record(mapping, twin_id, record, received))
    except MappingError as exc:
        many = len(records) > 1 or isinstance(document, list) or mapping.records is not None
        where = f"Message on {topic!r}" + (f", record {i}" if many else "")
        raise MappingError(f"{where}: {exc.message}", pointer=exc.pointer) from None
    return readings


def _map_record(mapping: TopicMapping, twin_id: str, record: object, received: float) -> Reading:
    """One record's reading; a :class:`MappingError` without the where (the caller adds it)."""
    if not isinstance(record, dict):
        raise MappingError(f"expected a JSON object of name: value, got {_kind(record)}")
    time_pointer = mapping.time
    if mapping.signals is None:
        skip = (time_pointer.tokens[0] if time_pointer and len(time_pointer.tokens) == 1
                else None)
        values = dict(record)
        if skip is not None:
            values.pop(skip, None)
    else:
        values = {}
        for name, pointer in mapping.signals:
            value = pointer.resolve(record, _MISSING)
            if value is not _MISSING:
                values[name] = value
    if not values:
        pointers = ", ".join(p.text for _, p in mapping.signals or ())
        raise MappingError(
            "no signal values" + (f" (none of {pointers} is present)" if pointers else ""))
    for name, conversion in mapping.units:
        if name in values:
            value = values[name]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise MappingError(
                    f"signal {name!r} in {conversion.source} must be a number to convert to "
                    f"{conversion.target}, got {value!r}", pointer=_pointer_of(mapping, name))
            values[name] = conversion.apply(float(value))
    if time_pointer is None:
        t = received
    else:
        raw = time_pointer.resolve(record, _MISSING)
        # the common case first: epoch seconds as a JSON number
        if (type(raw) is float or type(raw) is int) and mapping.time_format in ("auto", "s") \
                and 0 <= raw < _EPOCH_MS_THRESHOLD:
            t = float(raw)
        elif raw is _MISSING:
            raise MappingError(f"no source time at {time_pointer.text}",
                               pointer=time_pointer.text)
        else:
            t = _parse_time(raw, mapping.time_format, f"source time at {time_pointer.text}")
    if mapping.target == "telemetry":
        return Reading(twin_id, values, t)
    return Reading(twin_id, values, t, None, mapping.target)


def _pointer_of(mapping: TopicMapping, name: str) -> str:
    for signal, pointer in mapping.signals or ():
        if signal == name:
            return pointer.text
    return "/" + name.replace("~", "~0").replace("/", "~1")


def _parse_time(raw: object, time_format: str, where: str) -> float:
    if isinstance(raw, str) and time_format in ("auto", "iso"):
        try:
            return from_iso(raw)
        except InvalidInputError:
            raise MappingError(f"{where}: {raw!r} is not an ISO 8601 timestamp") from None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and time_format != "iso":
        if not math.isfinite(raw) or raw < 0:
            raise MappingError(f"{where}: {raw!r} is not a time")
        ms = time_format == "ms" or (time_format == "auto" and raw >= _EPOCH_MS_THRESHOLD)
        t = raw / 1000.0 if ms else float(raw)
        if t > 253402300799.0:  # 9999-12-31T23:59:59Z
            raise MappingError(f"{where}: {raw!r} is beyond the year 9999")
        return t
    expected = {"iso": "an ISO 8601 string", "s": "epoch seconds", "ms": "epoch milliseconds",
                "auto": "an ISO 8601 string or epoch seconds/milliseconds"}[time_format]
    raise MappingError(f"{where}: expected {expected}, got {raw!r}")


def _kind(value: object) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}.get(
        type(value), "a number")
