"""Desired state out, reported state in: commands to devices and the devices' reports.

A :class:`DesiredMapping` ties a twin to a device's two topics::

    twin = "{machine}"                              # template over the report topic's names
    report_topic = "plant/{line}/{machine}/reported"
    command_topic = "plant/{line}/{machine}/desired"

**Out.** When a writable property gets a new desired value (``set_desired``: its
``$metadata.<prop>.desiredVersion`` grows past ``ackVersion``), the :class:`DesiredStateBridge`
publishes ``{"<prop>": value, "$version": desiredVersion}`` to the command topic at the
mapping's QoS. It follows the change log (``read_events`` after its last position, woken by the
service's listener and polling every second for other replicas), not in-memory callbacks. Its
position is recomputed at start and at every (re)connect: it scans the twins and sends every
desired value still pending (``ackVersion < desiredVersion``), then follows the log from there,
so a restart or a lost connection does not lose a command. A device may receive a command twice;
``$version`` lets it see that.

**Which topic.** The command topic's names come from the twin id where the ``twin`` template
gives them (``twin = "{machine}"`` inverted over ``machine-7`` gives ``machine``), and otherwise
from the topic the twin was last seen on (a report or telemetry of the same connector, names of
the same spelling). A command whose topic cannot be resolved yet waits until the device is heard
from; those names are kept in memory only.

**In.** A report ``{"<prop>": value, ..., "$version"?: n, "ackCode"?: int,
"ackDescription"?: str}`` on the report topic updates the reported values (a merge patch; the
service acks a desired value the reported one now equals). With ``ackCode >= 400`` the device
refuses desired version ``$version`` of the properties it names: the code and description are
recorded (:meth:`~holotwin.service.TwinService.ack_desired`) and the reported values stay.
A report that cannot be used becomes a dead letter (stage ``decode``, ``map`` or ``validate``)
and is acknowledged; a failing store acknowledges nothing and the report is retried.
"""

from __future__ import annotations

import json
import logging
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.ingest.mapping import MappingError, TopicPattern
from holotwin.ingest.pipeline import dead_letter
from holotwin.ingest.source import RawMessage, SourceStats
from holotwin.service import TwinService
from holotwin.service.tracker import LogFollower

__all__ = ["DesiredMapping", "DesiredStateBridge", "Report", "parse_report"]

log = logging.getLogger("holotwin.ingest.commands")

_NAME = re.compile(r"\{([^{}]*)\}")
_REPORT_KEYS = ("$version", "ackCode", "ackDescription")
_TWIN_EVENTS = ("twin.created", "twin.updated", "twin.deleted")

#: ``publish(topic, payload, qos) -> bool``: True once handed to the broker connection
Publish = Callable[[str, bytes, int], bool]


@dataclass(frozen=True)
class DesiredMapping:
    """The report and command topics of the devices behind twins (see the module docs).

    >>> m = DesiredMapping.create("{machine}", "plant/{line}/{machine}/reported",
    ...                           "plant/{line}/{machine}/desired")
    >>> m.report_twin("plant/l1/m7/reported")
    ('m7', {'line': 'l1', 'machine': 'm7'})
    >>> m.command_topic_for("m7", {}) is None   # {line} is not known until m7 is seen
    True
    >>> m.command_topic_for("m7", {"line": "l1"})
    'plant/l1/m7/desired'
    """

    twin: str
    report_topic: TopicPattern
    command_topic: str
    qos: int = 1

    @classmethod
    def create(cls, twin: str, report_topic: str, command_topic: str,
               qos: int = 1) -> DesiredMapping:
        pattern = TopicPattern.parse(report_topic)
        if not isinstance(twin, str) or not twin:
            raise MappingError(f"The twin of report topic {report_topic!r} must be a non-empty "
                               "string")
        names = set(pattern.variables)
        for name in _NAME.findall(twin):
            if name not in names:
                raise MappingError(f"The twin template {twin!r} uses {{{name}}}, which report "
                                   f"topic {report_topic!r} does not name")
        if not isinstance(command_topic, str) or not command_topic:
            raise MappingError("command_topic must be a non-empty topic template")
        if "+" in command_topic or "#" in command_topic:
            raise MappingError(f"command_topic {command_topic!r} is a topic to publish to; it "
                               "cannot hold + or #")
        for name in _NAME.findall(command_topic):
            if name not in names:
                raise MappingError(f"command_topic {command_topic!r} uses {{{name}}}, which "
                                   f"report topic {report_topic!r} does not name")
        if qos not in (0, 1):
            raise MappingError(f"QoS must be 0 or 1, got {qos!r}")
        return cls(twin, pattern, command_topic, qos)

    def report_twin(self, topic: str) -> tuple[str, dict[str, str]] | None:
        """The twin a report topic is about and the topic's names; None if it does not match."""
        found = self.report_topic.match(topic)
        if found is None:
            return None
        return _NAME.sub(lambda m: found[m.group(1)], self.twin), found

    def names_of(self, twin_id: str) -> dict[str, str] | None:
        """The names the ``twin`` template gives for ``twin_id``; None if it cannot be this
        mapping's twin."""
        order: list[str] = []  # names in order of first use; group i is order[i]
        pattern, last = "", 0
        for m in _NAME.finditer(self.twin):
            pattern += re.escape(self.twin[last:m.start()])
            name = m.group(1)
            if name in order:
                pattern += f"(?P=v{order.index(name)})"
            else:
                pattern += f"(?P<v{len(order)}>[^/]+?)"
                order.append(name)
            last = m.end()
        match = re.fullmatch(pattern + re.escape(self.twin[last:]), twin_id)
        if match is None:
            return None
        return {name: match.group(f"v{i}") for i, name in enumerate(order)}

    def command_topic_for(self, twin_id: str, seen: Mapping[str, str]) -> str | None:
        """The command topic of ``twin_id`` (``seen``: names from where it was last heard);
        None when a name is unknown or the twin is not this mapping's."""
        own = self.names_of(twin_id)
        if own is None:
            return None
        names = {**seen, **own}
        missing = [n for n in _NAME.findall(self.command_topic) if n not in names]
        if missing:
            return None
        return _NAME.sub(lambda m: names[m.group(1)], self.command_topic)


@dataclass(frozen=True)
class Report:
    """A device's report: reported ``values``; ``version``/``ack_code``/``ack_description``
    answer a desired version (an ``ack_code >= 400`` refuses it)."""

    values: dict[str, Any]
    version: int | None = None
    ack_code: int | None = None
    ack_description: str | None = None

    @property
    def refused(self) -> bool:
        return self.ack_code is not None and self.ack_code >= 400


def parse_report(document: object) -> Report:
    """Check a decoded report payload.

    >>> parse_report({"speed": 80, "$version": 3})
    Report(values={'speed': 80}, version=3, ack_code=None, ack_description=None)
    >>> parse_report({"speed": 80, "ackCode": 400}).refused
    Traceback (most recent call last):
    ...
    holotwin.ingest.mapping.MappingError: A report with ackCode 400 must give the refused $version
    """
    if not isinstance(document, dict):
        raise MappingError("A report must be a JSON object of property: value")
    version = document.get("$version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                or version < 1):
        raise MappingError(f"$version must be a positive integer, got {version!r}", "/$version")
    code = document.get("ackCode")
    if code is not None and (isinstance(code, bool) or not isinstance(code, int)
                             or not 100 <= code <= 599):
        raise MappingError(f"ackCode must be an integer from 100 to 599, got {code!r}",
                           "/ackCode")
    description = document.get("ackDescription")
    if description is not None and not isinstance(description, str):
        raise MappingError(f"ackDescription must be a string, got {description!r}",
                           "/ackDescription")
    unknown = [k for k in document if k.startswith("$") and k != "$version"]
    if unknown:
        raise MappingError(f"A report cannot set {unknown[0]!r}", f"/{unknown[0]}")
    values = {k: v for k, v in document.items() if k not in _REPORT_KEYS}
    if not values:
        raise MappingError("A report names no property")
    if code is not None and code >= 400 and version is None:
        raise MappingError(f"A report with ackCode {code} must give the refused $version",
                           "/$version")
    return Report(values, version, code, description)


def _pending(twin: Mapping[str, Any]) -> dict[str, tuple[Any, int]]:
    """Top-level properties whose desired value the device has not answered yet."""
    meta = twin.get("$metadata")
    found: dict[str, tuple[Any, int]] = {}
    if not isinstance(meta, dict):
        return found
    for prop, entry in meta.items():
        if prop.startswith("$") or not isinstance(entry, dict):
            continue
        version = entry.get("desiredVersion")
        if isinstance(version, int) and int(entry.get("ackVersion") or 0) < version:
            found[prop] = (entry.get("desiredValue"), version)
    return found


class DesiredStateBridge(LogFollower):
    """Sends desired values to devices and applies their reports, on one thread of its own
    (:meth:`start`/:meth:`stop`, see :class:`~holotwin.service.tracker.LogFollower`; stopping
    leaves queued reports unacknowledged, so the broker delivers them again), or step by step
    with :meth:`run_once` (tests).

    ``publish`` sends a command (see :data:`Publish`); ``stats`` (the source's counters) count
    reports as messages received, written or dead-lettered.
    """

    logger = log

    def __init__(self, service: TwinService, source: str, mappings: Sequence[DesiredMapping],
                 publish: Publish, *, stats: SourceStats | None = None,
                 max_payload: int = 1024 * 1024, poll_interval: float = 1.0,
                 page_size: int = 500) -> None:
        if not mappings:
            raise InvalidInputError("A desired-state bridge needs at least one mapping")
        super().__init__(service, poll_interval, page_size)  # _position None: scan first
        self.task = f"holotwin-desired-{source}"
        self.what = f"Desired state of '{source}'"
        self.source = source
        self.mappings = tuple(mappings)
        self.publish = publish
        self.stats = stats or SourceStats()
        self.max_payload = max_payload
        #: commands handed to the broker, reports applied (or refused versions recorded)
        self.sent = 0
        self.reports = 0
        self._reports: deque[tuple[RawMessage, str]] = deque()
        self._names: dict[str, dict[str, str]] = {}  # twin -> topic names it was last seen with
        self._sent: dict[tuple[str, str], int] = {}  # (twin, prop) -> version published
        self._waiting: dict[tuple[str, str], tuple[Any, int]] = {}  # unresolved or unpublished
        self._retry_waiting = False

    # fed by the source (any thread) ------------------------------------------------------
    def route(self, topic: str) -> str | None:
        """The twin a report topic is about, None if it is not a report topic."""
        for mapping in self.mappings:
            found = mapping.report_twin(topic)
            if found is not None:
                return found[0]
        return None

    def observe(self, twin_id: str, names: Mapping[str, str]) -> None:
        """Remember the topic names ``twin_id`` was heard with (resolves command topics)."""
        with self._cond:
            if self._names.get(twin_id) == names:
                return
            self._names[twin_id] = {**self._names.get(twin_id, {}), **names}
            if any(key[0] == twin_id for key in self._waiting):
                self._retry_waiting = True
                self._cond.notify()

    def submit_report(self, message: RawMessage, twin_id: str) -> None:
        """Queue a report; its ``ack`` is called once it is applied or dead-lettered."""
        self.stats.add(received=1)
        with self._cond:
            self._reports.append((message, twin_id))
            self._cond.notify()

    def resync(self) -> None:
        """Scan the twins again and send every pending desired value (after a (re)connect)."""
        with self._cond:
            self._position = None
            self._cond.notify()

    @property
    def waiting(self) -> int:
        """Commands not sent yet (their topic is unknown, or the broker is unreachable)."""
        with self._cond:
            return len(self._waiting)

    # processing --------------------------------------------------------------------------
    def run_once(self) -> int:
        """Apply queued reports, then send what the log says is new; return how many reports
        and commands that was (raises what the store raises; nothing is lost then)."""
        before = self.reports + self.sent
        while True:
            with self._cond:
                if not self._reports:
                    break
                message, twin_id = self._reports[0]
            self._apply(message, twin_id)
            with self._cond:
                self._reports.popleft()
        with self._cond:
            position, retry = self._position, self._retry_waiting
            self._woken = self._retry_waiting = False
        if position is None:
            self._scan()
        else:
            self._follow(position)
        if retry:
            self._send_waiting()
        self.rounds += 1
        return self.reports + self.sent - before

    def _due(self) -> bool:
        return bool(self._reports or self._woken or self._retry_waiting
                    or self._position is None)

    def failed(self) -> None:
        self.stats.error(f"Desired state: {self.last_error}", self.service.clock.now())

    def _apply(self, message: RawMessage, twin_id: str) -> None:
        now = self.service.clock.now()
        stage = "decode"
        try:
            if len(message.payload) > self.max_payload:
                raise InvalidInputError(f"Payload of {len(message.payload)} bytes is over the "
                                        f"limit of {self.max_payload} bytes")
            try:
                document = json.loads(message.payload.decode("utf-8-sig"))
            except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                raise InvalidInputError(f"Malformed report: {exc}") from None
            stage = "map"
            report = parse_report(document)
            stage = "validate"
            if report.refused and report.version is not None and report.ack_code is not None:
                for prop in report.values:
                    self.service.ack_desired(twin_id, prop, report.version, report.ack_code,
                                             report.ack_description or "")
            else:
                self.service.merge_patch_twin(twin_id, report.values)
        except (InvalidInputError, NotFoundError) as exc:
            letter = dead_letter(message, stage, f"Report for twin '{twin_id}': {exc.message}",
                                 now)
            self.service.store.put_dead_letters([letter])
            log.info("Dead letter from %s on %s: %s", message.source, message.topic,
                     letter.reason)
            self.stats.add(dead_lettered=1)
        else:
            self.reports += 1
            self.stats.add(written=1)
        try:
            message.ack()
        except Exception as exc:  # noqa: BLE001 - a lost ack means a harmless redelivery
            log.warning("Could not acknowledge a report from %s: %s", message.source, exc)

    def _scan(self) -> None:
        position = self.service.last_event_seq()
        after: str | None = None
        with self._cond:
            self._sent.clear()
        while True:
            twins = self.service.list_twins(after=after, limit=self.page_size)
            for twin in twins:
                self._dispatch(twin["$dtId"], twin)
            if len(twins) < self.page_size:
                break
            after = twins[-1]["$dtId"]
        with self._cond:
            if self._position is None:  # not asked to scan again meanwhile
                self._position = position

    def _follow(self, position: int) -> None:
        while True:
            events = self.service.read_events(position, self.page_size, kinds=_TWIN_EVENTS)
            for event in events:
                twin = event.data.get("twin")
                if event.kind == "twin.deleted" or not isinstance(twin, dict):
                    self._forget(event.twin_id)
                else:
                    self._dispatch(event.twin_id, twin)
                position = event.seq
            with self._cond:
                if self._position is None:
                    return
                self._position = position
            if len(events) < self.page_size:
                return

    def _forget(self, twin_id: str) -> None:
        with self._cond:
            for store in (self._sent, self._waiting):
                for key in [k for k in store if k[0] == twin_id]:
                    del store[key]

    def _dispatch(self, twin_id: str, twin: Mapping[str, Any]) -> None:
        pending = _pending(twin)
        with self._cond:
            for key in [k for k in self._waiting if k[0] == twin_id and k[1] not in pending]:
                del self._waiting[key]
        for prop, (value, version) in pending.items():
            with self._cond:
                if self._sent.get((twin_id, prop), 0) >= version:
                    continue
            self._send(twin_id, prop, value, version)

    def _send_waiting(self) -> None:
        with self._cond:
            waiting = list(self._waiting.items())
        for (twin_id, prop), (value, version) in waiting:
            self._send(twin_id, prop, value, version)

    def _send(self, twin_id: str, prop: str, value: Any, version: int) -> None:
        with self._cond:
            names = dict(self._names.get(twin_id, {}))
        for mapping in self.mappings:
            topic = mapping.command_topic_for(twin_id, names)
            if topic is None:
                continue
            payload = json.dumps({prop: value, "$version": version}).encode()
            if self.publish(topic, payload, mapping.qos):
                with self._cond:
                    self._sent[(twin_id, prop)] = version
                    self._waiting.pop((twin_id, prop), None)
                self.sent += 1
                log.debug("Sent desired %s=%r (version %d) of %s to %s", prop, value, version,
                          twin_id, topic)
                return
            break
        with self._cond:
            self._waiting[(twin_id, prop)] = (value, version)
