"""Anomaly detection and rules on live readings: :class:`AnalyticsEngine`.

The engine follows the change log (``telemetry`` and ``twin.updated`` events; see
:class:`~holotwin.service.tracker.LogFollower`) and, for each twin touched:

1. **Detectors** (documents ``detector``, see :mod:`holotwin.service.alerts`): each detector
   covering the twin scores the signal's readings newer than its last score, in source-time
   order, and the scores and flags are written as telemetry (``anomaly.<id>``,
   ``anomaly.<id>.flag``) at the readings' times. A detector keeps its state in memory; after a
   restart (or when its configuration changes) it learns again from the readings of the
   ``history`` seconds (default 1 h) before its last stored score and goes on from there, so
   no reading is scored twice or left out. A new detector starts with the last ``history``
   seconds.
2. **Rules** (documents ``rule``): each rule covering the twin is evaluated at every source
   time of a reading of a value it reads (telemetry, estimates, residuals, the scores just
   made) newer than its state, and at the twin's newest reading of any signal (so that a
   condition on properties alone, ``status == 'fault'`` for 30 s, moves on in time), with
   reported properties at their current values; the rule's
   state per twin is a document (``rule-state``), so a restart goes on where it stopped.
   A new rule (or one cleared by hand) starts with the readings of its duration (``for``)
   before the twin's latest reading: one whose condition has held that long raises at once. Raised and
   cleared alerts are documents ``alert`` plus ``alert.*`` events.

Everything a round makes (scores, their telemetry events, rule states, alerts and alert
events) is written in one transaction. Of several servers on one store, one runs the engine:
the one holding the lease ``analytics`` (see :class:`~holotwin.service.tracker.LogFollower`),
which every such transaction checks. A failing round is retried from the store (the
in-memory detector state is dropped and rebuilt), so nothing is lost or doubled: telemetry is
unique per (twin, signal, time) and rules move forward in time.

Alert timestamps (``raisedAt``, ``clearedAt``, ``since``) are source times of the readings
that caused them.
"""

from __future__ import annotations

import bisect
import json
import logging
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from holotwin.analytics.detectors import Detector, make_detector
from holotwin.analytics.expressions import Values
from holotwin.analytics.rules import Rule, RuleState, Transition, render, step
from holotwin.clock import from_iso, to_iso
from holotwin.errors import ConflictError, HolotwinError
from holotwin.service.alerts import (
    ALERT,
    ALERT_LOCK,
    DETECTOR,
    RULE,
    RULE_STATE,
    alert_event,
)
from holotwin.service.tracker import LogFollower
from holotwin.store.base import TelemetryPoint, Transaction, TwinRecord
from holotwin.twins import NewEvent

if TYPE_CHECKING:
    from holotwin.service.service import TwinService

__all__ = ["AnalyticsEngine"]

log = logging.getLogger("holotwin.analytics")

ANOMALY = "anomaly."
_PAGE = 10_000
_MAX_TIMES = 50_000  # rule evaluations per rule and twin in one round; the rest next round
_RULE_LOOKBACK = 300.0  # s of readings before a rule's state it reads (rate() needs two)
_TWINS_PER_WRITE = 200


@dataclass
class _Running:
    config: dict[str, Any]
    detector: Detector
    last: float  # source time of the last reading scored


def _numbers(points: Iterable[TelemetryPoint]) -> list[TelemetryPoint]:
    return [p for p in points if p.value is not None and math.isfinite(p.value)]


class AlertWrite(NamedTuple):
    """An alert the engine changes: its id, the document it read (None: a new alert) and
    the new document."""

    id: str
    expected: dict[str, Any] | None
    document: dict[str, Any]


def _write_alerts(tx: Transaction, alerts: Sequence[AlertWrite], now: float) -> None:
    """Write the engine's alerts only where they are still what it read: an acknowledge or a
    clear through another server meanwhile makes the round fail (ConflictError, nothing
    written), and the retry starts from the stored alert, so neither change is lost."""
    for write in alerts:
        if not tx.compare_and_set_document(ALERT, write.id, write.expected, write.document,
                                           now):
            raise ConflictError(f"Alert '{write.id}' changed while the engine updated it; "
                                "the round is done again")


class AnalyticsEngine(LogFollower):
    """Runs detectors and rules on the readings as they arrive (see the module docs)."""

    task = "holotwin-analytics"
    what = "Analytics"

    def __init__(self, service: TwinService, poll_interval: float = 1.0,
                 page_size: int = 1000, history: float = 3600.0, *,
                 lease: str | None = "analytics", lease_time: float = 15.0) -> None:
        super().__init__(service, poll_interval, page_size, lease=lease,
                         lease_time=lease_time)
        self.history = history
        self._running: dict[tuple[str, str], _Running] = {}
        self._rules: dict[str, tuple[str, Rule]] = {}
        #: readings scored, rule evaluations and alerts raised and cleared so far
        self.scored = 0
        self.evaluations = 0
        self.raised = 0
        self.cleared = 0

    def failed(self) -> None:
        self._running.clear()

    def _rule(self, rule_id: str, document: dict[str, Any]) -> Rule:
        """The parsed rule (parsed again only when its document changed)."""
        key = json.dumps(document, sort_keys=True)
        hit = self._rules.get(rule_id)
        if hit is None or hit[0] != key:
            hit = self._rules[rule_id] = (key, Rule.parse(rule_id, document))
        return hit[1]

    # rounds ------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Score and evaluate the twins touched since the last round; return how many."""
        service = self.service
        detectors = [d for d in service.store.list_documents(DETECTOR).values()
                     if d.get("enabled", True)]
        rules = [r for r in (self._rule(k, d) for k, d in
                             service.store.list_documents(RULE).items()) if r.enabled]
        ids = {d["id"] for d in detectors}
        for key in [k for k in self._running if k[0] not in ids]:  # deleted or disabled
            del self._running[key]
        if self._position is None:
            position = service.last_event_seq()
            touched = self._covered(detectors, rules)
        else:
            position, touched = self._touched(self._position)
        done = 0
        if touched and (detectors or rules):
            ordered = sorted(touched)
            for i in range(0, len(ordered), _TWINS_PER_WRITE):
                self._keep_lease()
                done += self._process(ordered[i:i + _TWINS_PER_WRITE], detectors, rules)
        self._position = position
        self.rounds += 1
        return done

    def _covered(self, detectors: Sequence[Mapping[str, Any]], rules: Sequence[Rule]
                 ) -> set[str]:
        """Every twin some detector or rule covers (the first round)."""
        store = self.service.store
        twins = {t for d in detectors for t in d.get("twins", [])}
        twins |= {t for r in rules for t in r.twins}
        models = {d["model"] for d in detectors if d.get("model")} | {
            r.model for r in rules if r.model}
        family: set[str] = set()
        for model in models:
            if model in self.service.registry:
                family |= self.service.registry.descendants(model)
        after = None
        while family:
            page = store.list_twins(model_ids=sorted(family), after=after, limit=1000)
            twins.update(t.id for t in page)
            if len(page) < 1000:
                break
            after = page[-1].id
        return twins

    def _touched(self, position: int) -> tuple[int, set[str]]:
        twins: set[str] = set()
        while True:
            events = self.service.read_events(position, self.page_size,
                                              kinds=["telemetry", "twin.updated"])
            for event in events:
                values = event.data.get("values") or {} if event.kind == "telemetry" else None
                if values is None or any(not str(k).startswith(ANOMALY) for k in values):
                    twins.add(event.twin_id)
                position = event.seq
            if len(events) < self.page_size:
                return position, twins

    def _process(self, twin_ids: Sequence[str], detectors: Sequence[Mapping[str, Any]],
                 rules: Sequence[Rule]) -> int:
        service = self.service
        points: list[TelemetryPoint] = []
        documents: list[tuple[str, str, dict[str, Any]]] = []
        alerts: list[AlertWrite] = []
        events: list[NewEvent] = []
        models: dict[str, str] = {}
        with ALERT_LOCK:
            for twin_id in twin_ids:
                record = service.store.get_twin(twin_id)
                if record is None:  # deleted: forget its detectors
                    for key in [k for k in self._running if k[1] == twin_id]:
                        del self._running[key]
                    continue
                models[twin_id] = record.model_id
                mine = [d for d in detectors if self._covers(d.get("model"), d.get("twins", ()),
                                                             twin_id, record.model_id)]
                latest = {p.signal: p for p in service.store.latest_telemetry(twin_id)}
                scores: list[TelemetryPoint] = []
                for config in mine:
                    scores.extend(self._score(twin_id, config, latest))
                points.extend(scores)
                applying = [r for r in rules if self._covers(r.model, r.twins, twin_id,
                                                             record.model_id)]
                if applying:
                    self._evaluate(record, applying, latest, scores, documents, alerts,
                                   events)
            if points or documents or alerts or events:
                def check(tx: Transaction) -> None:
                    self._fence(tx)
                    _write_alerts(tx, alerts, service.clock.now())

                service.write_telemetry(points, models, documents=documents, events=events,
                                        check=check)
        self.scored += len(points) // 2
        return len(models)

    def _covers(self, model: str | None, twins: Iterable[str], twin_id: str, twin_model: str
                ) -> bool:
        if twin_id in twins:
            return True
        return model is not None and model in self.service.registry and \
            self.service.registry.is_a(twin_model, model)

    # detectors ---------------------------------------------------------------------------
    def _readings(self, twin_id: str, signal: str, after: float, until: float = math.inf
                  ) -> list[TelemetryPoint]:
        """Numeric readings with after < time < until, oldest first (all pages)."""
        out: list[TelemetryPoint] = []
        start = math.nextafter(after, math.inf)
        while True:
            page = self.service.store.telemetry_range(twin_id, signal, start, until, _PAGE)
            out.extend(_numbers(page))
            if len(page) < _PAGE:
                return out
            start = math.nextafter(page[-1].time, math.inf)

    def _score(self, twin_id: str, config: Mapping[str, Any],
               latest: Mapping[str, TelemetryPoint]) -> list[TelemetryPoint]:
        key = (config["id"], twin_id)
        signal, name = config["signal"], f"{ANOMALY}{config['id']}"
        running = self._running.get(key)
        if running is None or running.config != config:
            newest = latest.get(signal)
            if newest is None:
                return []
            detector = make_detector(config["detector"])
            scored = latest.get(name)
            if scored is not None:
                warm = self._readings(twin_id, signal, scored.time - self.history,
                                      math.nextafter(scored.time, math.inf))
                if warm:
                    detector.update(np.array([p.value for p in warm], dtype=np.float64))
                since = scored.time
            else:
                since = newest.time - self.history
            running = self._running[key] = _Running(dict(config), detector, since)
        fresh = self._readings(twin_id, signal, running.last)
        if not fresh:
            return []
        scores = running.detector.update(np.array([p.value for p in fresh], dtype=np.float64))
        flags = running.detector.flags(scores)
        running.last = fresh[-1].time
        out: list[TelemetryPoint] = []
        for p, score, flag in zip(fresh, scores.tolist(), flags.tolist(), strict=True):
            out.append(TelemetryPoint(twin_id, name, p.time, score))
            out.append(TelemetryPoint(twin_id, f"{name}.flag", p.time, 1.0 if flag else 0.0))
        return out

    # rules -------------------------------------------------------------------------------
    def _evaluate(self, record: TwinRecord, rules: Sequence[Rule],
                  latest: Mapping[str, TelemetryPoint], scores: Sequence[TelemetryPoint],
                  documents: list[tuple[str, str, dict[str, Any]]], alerts: list[AlertWrite],
                  events: list[NewEvent]) -> None:
        store = self.service.store
        twin_id, doc = record.id, record.document
        keys = [f"{r.id}/{twin_id}" for r in rules]
        states = store.list_documents(RULE_STATE, keys)
        made: dict[str, list[TelemetryPoint]] = {}
        for p in scores:
            made.setdefault(p.signal, []).append(p)
        heard = max((p.time for p in latest.values()), default=-math.inf)
        cache: dict[str, tuple[float, list[tuple[float, Any]]]] = {}

        def read(name: str, start: float) -> list[tuple[float, Any]]:
            """The readings of ``name`` from ``start`` on (read once for all the rules)."""
            hit = cache.get(name)
            if hit is None or hit[0] > start:
                points = [(p.time, p.value if p.raw is None else p.raw) for p in
                          store.telemetry_range(twin_id, name, start, math.inf, _PAGE)]
                cache[name] = (start, points)
                return points
            return hit[1][bisect.bisect_left(hit[1], start, key=lambda p: p[0]):]

        for rule, key in zip(rules, keys, strict=True):
            saved = states.get(key) or {}
            state = RuleState.of(saved)
            # a new state looks back over the rule's duration too: a rule added while its
            # condition has held long enough raises at once
            span = rule.for_seconds if not math.isfinite(state.t) else 0.0
            lookback = max(rule.condition.window, rule.clear.window if rule.clear else 0.0,
                           _RULE_LOOKBACK, span)
            series: dict[str, list[tuple[float, Any]]] = {}
            times: set[float] = set()
            newest = -math.inf
            for name in rule.names:
                if name in doc and not name.startswith("$"):
                    at = self._property_time(doc, name)
                    series[name] = [(at, doc[name])]
                    newest = max(newest, at)
                    if at > state.t:
                        times.add(at)
                    continue
                if name in made:
                    found = [(p.time, p.value) for p in made[name]]
                    before = latest.get(name)
                    if before is not None and before.time < found[0][0]:
                        found.insert(0, (before.time, before.value))
                else:
                    last = latest.get(name)
                    if last is None:
                        continue
                    start = (last.time if not math.isfinite(state.t) else state.t) - lookback
                    found = read(name, start)
                if found:
                    series[name] = found
                    newest = max(newest, found[-1][0])
                    times.update(t for t, _ in found if t > state.t)
            # the twin's newest reading of any signal is a time too: durations of a condition
            # on properties alone (status == 'fault' for 30 s) move on with the twin's data
            if math.isfinite(heard) and heard > state.t and series:
                times.add(heard)
                newest = max(newest, heard)
            if not math.isfinite(state.t):
                times = {t for t in times if t >= newest - span} | (
                    {newest} if math.isfinite(newest) else set())
            order = sorted(times)[:_MAX_TIMES]
            if not order:
                continue
            columns = {n: [t for t, _ in s] for n, s in series.items()}
            alert = store.get_document(ALERT, saved["alert"]) if saved.get("alert") else None
            loaded = alert
            for t in order:
                window = {n: s[bisect.bisect_left(columns[n], t - lookback):
                               bisect.bisect_right(columns[n], t)]
                          for n, s in series.items()}
                values = Values(window, t)
                state, change = step(rule, state, t, values)
                self.evaluations += 1
                if change is not None:
                    alert = self._apply(rule, record, alert, change, values, events)
            state_doc = {**state.to_json(), "rule": rule.id, "twinId": twin_id}
            if alert is not None and alert["state"] != "cleared":
                state_doc["alert"] = alert["id"]
            documents.append((RULE_STATE, key, state_doc))
            if alert is not None and alert != loaded:
                alerts.append(AlertWrite(alert["id"], loaded if loaded is not None and
                                         loaded["id"] == alert["id"] else None, alert))

    @staticmethod
    def _property_time(doc: Mapping[str, Any], name: str) -> float:
        meta = (doc.get("$metadata") or {}).get(name) or {}
        stamp = meta.get("sourceTime") or meta.get("lastUpdateTime")
        try:
            return from_iso(stamp) if isinstance(stamp, str) else -math.inf
        except HolotwinError:
            return -math.inf

    def _apply(self, rule: Rule, record: TwinRecord, alert: dict[str, Any] | None,
               change: Transition, values: Values, events: list[NewEvent]
               ) -> dict[str, Any] | None:
        now = self.service.clock.now()
        snapshot = {n: s[-1][1] for n, s in values.series.items() if s}
        is_open = alert is not None and alert["state"] != "cleared"
        if change.kind == "raised" and not is_open:
            alert = {"id": uuid.uuid4().hex[:16], "rule": rule.id, "twinId": record.id,
                     "model": record.model_id, "severity": rule.severity, "state": "raised",
                     "message": render(rule.message, values) if rule.message
                     else f"{rule.name or rule.id}: {rule.condition.text}",
                     "raisedAt": to_iso(change.time),
                     "since": to_iso(change.since if change.since is not None else change.time),
                     "occurrences": 1, "values": snapshot, "created": to_iso(now)}
            events.append(alert_event("raised", now, alert, record.model_id))
            self.raised += 1
        elif change.kind in ("raised", "repeated") and alert is not None and is_open:
            alert = {**alert, "occurrences": int(alert.get("occurrences", 1)) + 1,
                     "lastOccurrence": to_iso(change.time)}
        elif change.kind == "cleared" and alert is not None and is_open:
            alert = {**alert, "state": "cleared", "clearedAt": to_iso(change.time),
                     "clearedBy": "rule", "clearValues": snapshot}
            events.append(alert_event("cleared", now, alert, record.model_id))
            self.cleared += 1
        return alert
