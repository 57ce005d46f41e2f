"""Rules, anomaly detectors, alerts and alert sinks (mixed into
:class:`~holotwin.service.TwinService`).

All four are documents in the store (kinds ``rule``, ``detector``, ``alert``,
``alert-sink``); :class:`~holotwin.service.analytics.AnalyticsEngine` runs the detectors and
rules on the readings as they arrive and raises and clears alerts, and
:class:`~holotwin.ingest.notify.AlertNotifier` delivers the alert events to the sinks.

- **Detector** ``{"signal": "temperature", "model" | "twins": ..., "detector": {"kind":
  "robust-z", ...}, "enabled": true}``: scores every reading of the signal on the twins it
  covers; the score (0..1) is stored as telemetry ``anomaly.<id>`` and the flag (1 when the
  score reaches the detector's threshold, else 0) as ``anomaly.<id>.flag``, at the reading's
  source time. See :mod:`holotwin.analytics.detectors` for the kinds.
- **Rule**: see :mod:`holotwin.analytics.rules`.
- **Alert** ``{"id", "rule", "twinId", "severity", "state": "raised" | "acknowledged" |
  "cleared", "message", "raisedAt", "since", "acknowledgedAt", "acknowledgedBy", "note",
  "clearedAt", "clearedBy", "occurrences", "values"}``, times ISO 8601. One open alert
  (raised or acknowledged) per rule and twin: a condition that comes back while its alert is
  open counts an occurrence on it (de-duplication). Each change is a change-log event
  (``alert.raised``, ``alert.acknowledged``, ``alert.cleared``) with the alert as data, so the
  change feed carries alerts.
- **Sink** ``{"type": "webhook", "url": "http://...", "headers": {...}}`` or ``{"type":
  "mqtt", "url": "mqtt://host:1883", "topic": "holotwin/alerts/{twinId}"}``, optionally
  ``"minSeverity"``, ``"rules": [...]``, ``"attempts"`` (default 5) and ``"backoff"`` (s,
  default 1, doubling).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from holotwin.analytics.detectors import make_detector
from holotwin.analytics.rules import SEVERITIES, Rule
from holotwin.clock import Clock, to_iso
from holotwin.errors import ConflictError, InvalidInputError, NotFoundError
from holotwin.models import ModelRegistry
from holotwin.store.base import Store
from holotwin.twins import NewEvent

__all__ = ["ALERT", "DETECTOR", "RULE", "RULE_STATE", "SINK", "SINK_STATE", "AlertMethods",
           "alert_event", "parse_detector", "parse_sink"]

RULE = "rule"
RULE_STATE = "rule-state"
DETECTOR = "detector"
ALERT = "alert"
SINK = "alert-sink"
SINK_STATE = "alert-sink-state"
ALERT_STATES = ("raised", "acknowledged", "cleared")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
_SIGNAL = re.compile(r"^[A-Za-z_][\w.]{0,127}$")
_MAX_LIST = 1000

#: serializes read-modify-write of alert documents within this process (the engine and the
#: API both change alerts)
ALERT_LOCK = threading.Lock()
#: how often an acknowledge or a clear reads the alert again when it changed meanwhile
_CHANGE_TRIES = 5


class _Service(Protocol):
    store: Store
    clock: Clock
    registry: ModelRegistry

    def _notify(self, seqs: Sequence[int]) -> None: ...


def _check_id(kind: str, value: str) -> None:
    if not isinstance(value, str) or not _ID.match(value):
        raise InvalidInputError(f"Invalid {kind} id {value!r}: 1 to 128 letters, digits or "
                                "_ . : -, starting with a letter or digit")


def _scope(document: Mapping[str, Any], what: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    model = document.get("model")
    twins = document.get("twins")
    if model is not None:
        if not isinstance(model, str) or not model:
            raise InvalidInputError(f"{what} 'model' must be a model id")
        out["model"] = model
    if twins is not None:
        if not isinstance(twins, list) or not all(isinstance(t, str) and t for t in twins) \
                or len(twins) > _MAX_LIST:
            raise InvalidInputError(f"{what} 'twins' must be a list of twin ids")
        out["twins"] = list(twins)
    if not out:
        raise InvalidInputError(f"A {what.lower()} applies to a 'model' (its twins) or to "
                                "'twins'; give one")
    return out


def parse_detector(detector_id: str, document: object) -> dict[str, Any]:
    """A detector configuration, checked and with its detector's defaults filled in."""
    if not isinstance(document, Mapping):
        raise InvalidInputError("A detector must be a JSON object")
    unknown = sorted(set(document) - {"signal", "model", "twins", "detector", "enabled",
                                      "description", "id", "updated"})
    if unknown:
        raise InvalidInputError(f"Unknown detector field(s) {', '.join(map(repr, unknown))}")
    signal = document.get("signal")
    if not isinstance(signal, str) or not _SIGNAL.match(signal) or signal.startswith(
            "anomaly."):
        raise InvalidInputError(f"Detector 'signal' must be a telemetry signal name (not an "
                                f"anomaly score), got {signal!r}")
    spec = document.get("detector", {"kind": "robust-z"})
    if not isinstance(spec, Mapping):
        raise InvalidInputError("Detector 'detector' must be an object with a 'kind'")
    enabled = document.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInputError("Detector 'enabled' must be true or false")
    description = document.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise InvalidInputError("Detector 'description' must be text of at most 2000 characters")
    out = {"id": detector_id, "signal": signal, **_scope(document, "Detector"),
           "detector": make_detector(spec).spec(), "enabled": enabled}
    if description:
        out["description"] = description
    return out


def parse_sink(sink_id: str, document: object) -> dict[str, Any]:
    """An alert sink, checked, with its defaults."""
    if not isinstance(document, Mapping):
        raise InvalidInputError("An alert sink must be a JSON object")
    unknown = sorted(set(document) - {"type", "url", "topic", "headers", "minSeverity",
                                      "rules", "attempts", "backoff", "qos", "enabled", "id",
                                      "updated"})
    if unknown:
        raise InvalidInputError(f"Unknown alert sink field(s) {', '.join(map(repr, unknown))}")
    kind = document.get("type")
    if kind not in ("webhook", "mqtt"):
        raise InvalidInputError(f"Alert sink 'type' must be 'webhook' or 'mqtt', got {kind!r}")
    url = document.get("url")
    schemes = ("http", "https") if kind == "webhook" else ("mqtt", "mqtts")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in schemes or not parts.hostname:
        raise InvalidInputError(f"A {kind} sink needs a 'url' of scheme "
                                f"{' or '.join(schemes)}, got {url!r}")
    out: dict[str, Any] = {"id": sink_id, "type": kind, "url": url,
                           "enabled": document.get("enabled", True)}
    if not isinstance(out["enabled"], bool):
        raise InvalidInputError("Alert sink 'enabled' must be true or false")
    if kind == "mqtt":
        topic = document.get("topic", "holotwin/alerts/{twinId}")
        if not isinstance(topic, str) or not topic or "#" in topic or "+" in topic:
            raise InvalidInputError("An mqtt sink's 'topic' must be a topic name (no "
                                    "wildcards); it may hold {twinId}, {rule}, {severity}")
        qos = document.get("qos", 1)
        if qos not in (0, 1, 2):
            raise InvalidInputError(f"Alert sink 'qos' must be 0, 1 or 2, got {qos!r}")
        out.update(topic=topic, qos=qos)
    headers = document.get("headers", {})
    if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
        raise InvalidInputError("Alert sink 'headers' must map header names to text")
    if headers:
        out["headers"] = dict(headers)
    severity = document.get("minSeverity", "info")
    if severity not in SEVERITIES:
        raise InvalidInputError(f"Alert sink 'minSeverity' must be one of "
                                f"{', '.join(SEVERITIES)}, got {severity!r}")
    out["minSeverity"] = severity
    rules = document.get("rules")
    if rules is not None:
        if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
            raise InvalidInputError("Alert sink 'rules' must be a list of rule ids")
        out["rules"] = list(rules)
    attempts = document.get("attempts", 5)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
        raise InvalidInputError(f"Alert sink 'attempts' must be an integer from 1 to 100, got "
                                f"{attempts!r}")
    backoff = document.get("backoff", 1.0)
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or not \
            0 <= backoff <= 3600:
        raise InvalidInputError(f"Alert sink 'backoff' must be 0 to 3600 seconds, got "
                                f"{backoff!r}")
    out.update(attempts=attempts, backoff=float(backoff))
    return out


def alert_event(kind: str, now: float, alert: Mapping[str, Any], model: str | None) -> NewEvent:
    return NewEvent(f"alert.{kind}", now, alert["twinId"], model, {"alert": dict(alert)})


class AlertMethods:
    """Rules, detectors, alerts and sinks (mixed into TwinService)."""

    # rules ---------------------------------------------------------------------------------
    def put_rule(self: _Service, rule_id: str, document: object) -> dict[str, Any]:
        """Create or replace a rule. Replacing it keeps its open alerts and state."""
        _check_id("rule", rule_id)
        doc = Rule.parse(rule_id, document).to_json()
        if doc.get("model") is not None:
            self.registry.require(doc["model"])
        with self.store.transaction() as tx:
            tx.put_document(RULE, rule_id, doc, self.clock.now())
        return doc

    def get_rule(self: _Service, rule_id: str) -> dict[str, Any]:
        doc = self.store.get_document(RULE, rule_id)
        if doc is None:
            raise NotFoundError("rule", rule_id)
        return doc

    def list_rules(self: _Service) -> list[dict[str, Any]]:
        return list(self.store.list_documents(RULE).values())

    def delete_rule(self: _Service, rule_id: str) -> None:
        """Delete a rule; its open alerts are cleared (``clearedBy``: ``rule deleted``)."""
        if self.store.get_document(RULE, rule_id) is None:
            raise NotFoundError("rule", rule_id)
        now = self.clock.now()
        with ALERT_LOCK:
            open_alerts = [a for a in self.store.list_documents(ALERT).values()
                           if a["rule"] == rule_id and a["state"] != "cleared"]
            states = [k for k in self.store.list_documents(RULE_STATE)
                      if k.startswith(f"{rule_id}/")]
            models = self.store.twin_models({a["twinId"] for a in open_alerts})
            with self.store.transaction() as tx:
                tx.put_document(RULE, rule_id, None, now)
                for key in states:
                    tx.put_document(RULE_STATE, key, None, now)
                events = []
                for stored in open_alerts:
                    alert = {**stored, "state": "cleared", "clearedAt": to_iso(now),
                             "clearedBy": "rule deleted"}
                    if not tx.compare_and_set_document(ALERT, alert["id"], stored, alert, now):
                        raise ConflictError(f"Alert '{alert['id']}' of rule '{rule_id}' changed "
                                            "while the rule was deleted; try again")
                    events.append(alert_event("cleared", now, alert, models.get(alert["twinId"])))
                seqs = tx.append_events(events)
        self._notify(seqs)

    # detectors -----------------------------------------------------------------------------
    def put_detector(self: _Service, detector_id: str, document: object) -> dict[str, Any]:
        """Create or replace an anomaly detector configuration (it starts afresh)."""
        _check_id("detector", detector_id)
        doc = parse_detector(detector_id, document)
        if doc.get("model") is not None:
            self.registry.require(doc["model"])
        with self.store.transaction() as tx:
            tx.put_document(DETECTOR, detector_id, doc, self.clock.now())
        return doc

    def get_detector(self: _Service, detector_id: str) -> dict[str, Any]:
        doc = self.store.get_document(DETECTOR, detector_id)
        if doc is None:
            raise NotFoundError("detector", detector_id)
        return doc

    def list_detectors(self: _Service) -> list[dict[str, Any]]:
        return list(self.store.list_documents(DETECTOR).values())

    def delete_detector(self: _Service, detector_id: str) -> None:
        """Delete a detector configuration; the scores it stored stay in the telemetry."""
        if self.store.get_document(DETECTOR, detector_id) is None:
            raise NotFoundError("detector", detector_id)
        with self.store.transaction() as tx:
            tx.put_document(DETECTOR, detector_id, None, self.clock.now())

    # alerts --------------------------------------------------------------------------------
    def list_alerts(self: _Service, *, state: str | None = None, twin_id: str | None = None,
                    rule: str | None = None, severity: str | None = None,
                    limit: int = 1000) -> list[dict[str, Any]]:
        """Alerts, newest first; ``state`` ``open`` means raised or acknowledged."""
        if state is not None and state not in (*ALERT_STATES, "open"):
            raise InvalidInputError(f"Alert state must be one of open, "
                                    f"{', '.join(ALERT_STATES)}, got {state!r}")
        if severity is not None and severity not in SEVERITIES:
            raise InvalidInputError(f"Alert severity must be one of {', '.join(SEVERITIES)}, "
                                    f"got {severity!r}")
        if limit < 1:
            raise InvalidInputError(f"'limit' must be at least 1, got {limit}")
        found = [a for a in self.store.list_documents(ALERT).values()
                 if (state is None or a["state"] == state
                     or (state == "open" and a["state"] != "cleared"))
                 and (twin_id is None or a["twinId"] == twin_id)
                 and (rule is None or a["rule"] == rule)
                 and (severity is None or a["severity"] == severity)]
        found.sort(key=lambda a: (a["raisedAt"], a["id"]), reverse=True)
        return found[:limit]

    def get_alert(self: _Service, alert_id: str) -> dict[str, Any]:
        doc = self.store.get_document(ALERT, alert_id)
        if doc is None:
            raise NotFoundError("alert", alert_id)
        return doc

    def acknowledge_alert(self: _Service, alert_id: str, by: str = "", note: str = ""
                          ) -> dict[str, Any]:
        """A person has seen the alert: it stays open until its rule clears it (409 when it
        is already cleared; acknowledging twice changes nothing)."""
        return _change_alert(self, alert_id, "acknowledged", by, note)

    def clear_alert(self: _Service, alert_id: str, by: str = "", note: str = ""
                    ) -> dict[str, Any]:
        """Close an alert by hand; its rule starts afresh for the twin (it raises a new
        alert if its condition still holds long enough)."""
        return _change_alert(self, alert_id, "cleared", by, note)

    # sinks ---------------------------------------------------------------------------------
    def put_alert_sink(self: _Service, sink_id: str, document: object) -> dict[str, Any]:
        """Create or replace an alert sink; a new sink gets the alerts from now on."""
        _check_id("alert sink", sink_id)
        doc = parse_sink(sink_id, document)
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.put_document(SINK, sink_id, doc, now)
        if self.store.get_document(SINK_STATE, sink_id) is None:
            with self.store.transaction() as tx:
                tx.put_document(SINK_STATE, sink_id, {"position": self.store.last_event_seq(),
                                                      "delivered": 0, "failed": 0}, now)
        return _shown(doc)

    def get_alert_sink(self: _Service, sink_id: str) -> dict[str, Any]:
        doc = self.store.get_document(SINK, sink_id)
        if doc is None:
            raise NotFoundError("alert sink", sink_id)
        return {**_shown(doc), "status": self.store.get_document(SINK_STATE, sink_id) or {}}

    def list_alert_sinks(self: _Service) -> list[dict[str, Any]]:
        states = self.store.list_documents(SINK_STATE)
        return [{**_shown(d), "status": states.get(k, {})}
                for k, d in self.store.list_documents(SINK).items()]

    def delete_alert_sink(self: _Service, sink_id: str) -> None:
        if self.store.get_document(SINK, sink_id) is None:
            raise NotFoundError("alert sink", sink_id)
        now = self.clock.now()
        with self.store.transaction() as tx:
            tx.put_document(SINK, sink_id, None, now)
            tx.put_document(SINK_STATE, sink_id, None, now)


def _shown(sink: Mapping[str, Any]) -> dict[str, Any]:
    """A sink as the API shows it: header values (tokens) and a password in the URL hidden."""
    out = dict(sink)
    if out.get("headers"):
        out["headers"] = {k: "***" for k in out["headers"]}
    parts = urlsplit(out["url"])
    if parts.password:
        out["url"] = parts._replace(netloc=parts.netloc.replace(f":{parts.password}@",
                                                                ":***@")).geturl()
    return out


def _change_alert(service: _Service, alert_id: str, state: str, by: str, note: str
                  ) -> dict[str, Any]:
    for name, text in (("by", by), ("note", note)):
        if not isinstance(text, str) or len(text) > 2000:
            raise InvalidInputError(f"'{name}' must be text of at most 2000 characters")
    # a compare-and-set write: the analytics engine (on this server or another) may change
    # the alert between the read and the write; then it is read again
    for _ in range(_CHANGE_TRIES):
        now = service.clock.now()
        with ALERT_LOCK:
            stored = service.store.get_document(ALERT, alert_id)
            if stored is None:
                raise NotFoundError("alert", alert_id)
            if stored["state"] == "cleared":
                raise ConflictError(f"Alert '{alert_id}' is already cleared")
            if stored["state"] == state:
                return stored
            alert = dict(stored)
            if state == "acknowledged":
                alert.update(state=state, acknowledgedAt=to_iso(now), acknowledgedBy=by)
            else:
                alert.update(state=state, clearedAt=to_iso(now), clearedBy=by or "manual")
            if note:
                alert["note"] = note
            model = service.store.twin_models([alert["twinId"]]).get(alert["twinId"])
            with service.store.transaction() as tx:
                if not tx.compare_and_set_document(ALERT, alert_id, stored, alert, now):
                    continue
                if state == "cleared":
                    tx.put_document(RULE_STATE, f"{alert['rule']}/{alert['twinId']}", None,
                                    now)
                seqs = tx.append_events([alert_event(state, now, alert, model)])
        service._notify(seqs)
        return alert
    raise ConflictError(f"Alert '{alert_id}' kept changing while it was being "
                        f"{state}; try again")
