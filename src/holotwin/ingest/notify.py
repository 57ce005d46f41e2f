"""Alerts out: :class:`AlertNotifier` delivers ``alert.*`` events to webhooks and MQTT topics.

The notifier follows the change log (see :class:`~holotwin.service.tracker.LogFollower`):
for each enabled sink (documents ``alert-sink``, :func:`~holotwin.service.alerts.parse_sink`)
it reads the alert events after the sink's position (document ``alert-sink-state``) and
delivers each that the sink wants (``minSeverity``, ``rules``), in order:

- **webhook**: ``POST`` of the event as the change feed shows it (``{"id": seq, "type":
  "alert.raised", "twinId", "time", "data": {"alert": {...}}}``) with the sink's headers and
  ``X-Holotwin-Event-Id: <seq>``; a 2xx answer is delivered, a 429, 5xx or no answer is
  retried up to ``attempts`` times with a delay of ``backoff`` seconds doubling each time,
  and another 4xx is not retried.
- **mqtt**: the same JSON published to the sink's topic (``{twinId}``, ``{rule}``,
  ``{severity}``, ``{type}`` filled in) at its QoS, waiting for the broker's acknowledgement;
  retried in the same way.

The position moves past an event once it is delivered or has failed every attempt, and is
saved after each event: delivery is at least once (a crash between delivering and saving
sends that event again; its ``X-Holotwin-Event-Id`` tells). A delivery that failed every
attempt becomes a dead letter (source ``alert-sink/<id>``, stage ``deliver``) and counts as
``failed`` in the sink's state, so it is never silently dropped. While one event is being
retried the sink's later events wait (they keep their order).

Of several servers on one store, one delivers: the one holding the lease ``alerts`` (see
:class:`~holotwin.service.tracker.LogFollower`). It checks the lease before each attempt and
when it saves a position, so a server that lost it stops; the event it was delivering is then
delivered again by the new holder (at least once, as after a crash).
"""

from __future__ import annotations

import json
import logging
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from holotwin.analytics.rules import SEVERITIES
from holotwin.service.alerts import SINK, SINK_STATE
from holotwin.service.tracker import LogFollower
from holotwin.store.base import DeadLetter
from holotwin.twins import ChangeEvent

if TYPE_CHECKING:
    from holotwin.service.service import TwinService

__all__ = ["ALERT_KINDS", "AlertNotifier", "DeliveryError"]

log = logging.getLogger("holotwin.alerts")

ALERT_KINDS = ("alert.raised", "alert.acknowledged", "alert.cleared")


class DeliveryError(Exception):
    """One attempt failed; ``retry`` says whether another attempt may succeed."""

    def __init__(self, reason: str, retry: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry


def _wants(sink: Mapping[str, Any], event: ChangeEvent) -> bool:
    alert = event.data.get("alert") or {}
    if SEVERITIES.index(alert.get("severity", "warning")) < SEVERITIES.index(
            sink.get("minSeverity", "info")):
        return False
    rules = sink.get("rules")
    return rules is None or alert.get("rule") in rules


def _post(sink: Mapping[str, Any], body: bytes, event: ChangeEvent, timeout: float) -> None:
    headers = {"Content-Type": "application/json", "User-Agent": "holotwin-alerts",
               "X-Holotwin-Event-Id": str(event.seq), "X-Holotwin-Event": event.kind,
               **sink.get("headers", {})}
    request = urllib.request.Request(sink["url"], data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        retry = exc.code == 429 or exc.code >= 500
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}", retry) from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"no answer from {sink['url']}: {reason}") from None


class _Mqtt:
    """One broker connection of an MQTT sink (paho, imported when a sink needs it)."""

    def __init__(self, url: str, timeout: float) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        parts = urlsplit(url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"holotwin-alerts-{id(self):x}")
        if parts.username:
            self.client.username_pw_set(parts.username, parts.password)
        if parts.scheme == "mqtts":
            self.client.tls_set_context(ssl.create_default_context())
        self.timeout = timeout
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        try:
            self.client.connect(parts.hostname or "localhost", port, keepalive=30)
        except OSError as exc:
            raise DeliveryError(f"cannot connect to {parts.hostname}:{port}: {exc}") from None
        self.client.loop_start()

    def publish(self, topic: str, body: bytes, qos: int) -> None:
        info = self.client.publish(topic, body, qos=qos)
        try:
            info.wait_for_publish(self.timeout)
        except (RuntimeError, ValueError) as exc:
            raise DeliveryError(f"publish to {topic} failed: {exc}") from None
        if not info.is_published():
            raise DeliveryError(f"the broker did not acknowledge {topic} in {self.timeout} s")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


class AlertNotifier(LogFollower):
    """Delivers alert events to the alert sinks (see the module docs)."""

    task = "holotwin-alerts"
    what = "Alert delivery"

    def __init__(self, service: TwinService, poll_interval: float = 1.0,
                 page_size: int = 100, timeout: float = 10.0, *,
                 lease: str | None = "alerts", lease_time: float = 15.0) -> None:
        super().__init__(service, poll_interval, page_size, lease=lease,
                         lease_time=lease_time)
        self.timeout = timeout
        self._mqtt: dict[str, tuple[str, _Mqtt]] = {}
        #: deliveries made and given up so far
        self.delivered = 0
        self.failed_deliveries = 0

    def run_once(self) -> int:
        store = self.service.store
        sinks = {k: s for k, s in store.list_documents(SINK).items() if s.get("enabled", True)}
        states = store.list_documents(SINK_STATE)
        done = 0
        for sink_id, sink in sinks.items():
            state = dict(states.get(sink_id) or {"position": store.last_event_seq(),
                                                 "delivered": 0, "failed": 0})
            while not self._stopping:
                events = self.service.read_events(int(state["position"]), self.page_size,
                                                  kinds=ALERT_KINDS)
                for event in events:
                    if self._stopping:
                        break
                    if _wants(sink, event):
                        ok = self._deliver(sink_id, sink, event, state)
                        done += 1
                        state["delivered" if ok else "failed"] = int(
                            state.get("delivered" if ok else "failed", 0)) + 1
                    state["position"] = event.seq
                    self._save(sink_id, state)
                if len(events) < self.page_size:
                    break
        self._position = store.last_event_seq()
        self.rounds += 1
        return done

    def _save(self, sink_id: str, state: Mapping[str, Any]) -> None:
        store = self.service.store
        with store.transaction() as tx:
            self._fence(tx)  # a server that lost the lease moves no position back
            if store.get_document(SINK, sink_id) is not None:  # not if deleted meanwhile
                tx.put_document(SINK_STATE, sink_id, dict(state), self.service.clock.now())

    def _deliver(self, sink_id: str, sink: Mapping[str, Any], event: ChangeEvent,
                 state: dict[str, Any]) -> bool:
        body = json.dumps(event.to_json()).encode()
        delay = float(sink.get("backoff", 1.0))
        attempts = int(sink.get("attempts", 5))
        reason = ""
        for attempt in range(1, attempts + 1):
            self._keep_lease()  # the lease outlasts an attempt (its timeout)
            try:
                self._send(sink_id, sink, event, body)
                self.delivered += 1
                state.pop("lastError", None)
                return True
            except DeliveryError as exc:
                reason = exc.reason
                log.warning("Alert sink %s: event %d, attempt %d of %d: %s", sink_id,
                            event.seq, attempt, attempts, reason)
                if not exc.retry or attempt == attempts:
                    break
                with self._cond:
                    if self._stopping:
                        break
                    self._cond.wait(timeout=delay)
                delay *= 2
        self.failed_deliveries += 1
        state["lastError"] = f"event {event.seq}: {reason}"
        self.service.store.put_dead_letters([DeadLetter(
            self.service.clock.now(), f"alert-sink/{sink_id}", sink.get("topic", sink["url"]),
            body.decode(), "deliver", reason)])
        return False

    def _send(self, sink_id: str, sink: Mapping[str, Any], event: ChangeEvent,
              body: bytes) -> None:
        if sink["type"] == "webhook":
            _post(sink, body, event, self.timeout)
            return
        held = self._mqtt.get(sink_id)
        if held is None or held[0] != sink["url"]:
            if held is not None:
                held[1].close()
            held = self._mqtt[sink_id] = (sink["url"], _Mqtt(sink["url"], self.timeout))
        alert = event.data.get("alert") or {}
        topic = sink["topic"]
        for key, value in (("twinId", event.twin_id), ("rule", alert.get("rule", "")),
                           ("severity", alert.get("severity", "")), ("type", event.kind)):
            topic = topic.replace("{" + key + "}", str(value))
        held[1].publish(topic, body, int(sink.get("qos", 1)))

    def stop(self, timeout: float = 5.0) -> None:
        super().stop(timeout)
        for _, connection in self._mqtt.values():
            connection.close()
        self._mqtt.clear()
