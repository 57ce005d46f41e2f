"""The telemetry half of :class:`~holotwin.service.TwinService`: readings in (one message, an
ingestion batch, reported property values) and out (history, aggregates, latest values), and
dead letters. A mixin, so that ``TwinService`` stays one object with one API; its methods use
the service's store, clock, registry and change notification (see :class:`_Service`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from holotwin.clock import Clock, to_iso
from holotwin.errors import HolotwinError, InvalidInputError, NotFoundError, StoreError
from holotwin.models import ModelRegistry
from holotwin.service.ingestion import (
    PreparedTelemetry,
    TelemetryMessage,
    prepare_telemetry,
    telemetry_summary,
)
from holotwin.service.telemetry import message_to_points
from holotwin.store.base import Bucket, DeadLetter, Store, TelemetryPoint, Transaction
from holotwin.twins import NewEvent, TwinChange, report_properties

__all__ = ["TelemetryMethods"]

log = logging.getLogger("holotwin.service")


class _Service(Protocol):
    """What the telemetry methods need of the service they are mixed into."""

    store: Store
    clock: Clock
    registry: ModelRegistry

    def _notify(self, seqs: Sequence[int]) -> None: ...

    def _update(self, twin_id: str, if_match: str | None,
                apply: Callable[[dict[str, Any], str], TwinChange]) -> dict[str, Any]: ...

    def _write_twin(self, tx: Transaction, kind: str, twin_id: str, change: TwinChange,
                    revision: int, now: float) -> tuple[dict[str, Any], list[int]]: ...

    def write_telemetry(
        self, points: Sequence[TelemetryPoint], models: Mapping[str, str],
        dead_letters: Sequence[DeadLetter] = (), *, event_data: dict[str, Any] | None = None,
        properties: Mapping[str, Mapping[str, tuple[Any, float]]] | None = None,
        documents: Sequence[tuple[str, str, dict[str, Any]]] = (),
        events: Sequence[NewEvent] = (),
        check: Callable[[Transaction], None] | None = None) -> int: ...

    def _report_in(self, tx: Transaction, twin_id: str,
                   reports: Mapping[str, tuple[Any, float]], now: float) -> list[int]: ...


class TelemetryMethods:
    """Telemetry, reported values from devices and dead letters (mixed into TwinService)."""

    def publish_telemetry(
        self: _Service,
        twin_id: str,
        payload: object,
        *,
        message_id: str | None = None,
        source_time: float | None = None,
        component: str | None = None,
    ) -> int:
        """Store one telemetry message; return how many readings were new (duplicates of a
        (twin, signal, source time) already stored are skipped)."""
        record = self.store.get_twin(twin_id)
        if record is None:
            raise NotFoundError("twin", twin_id)
        iface = self.registry.require(record.model_id)
        if component is not None:
            comp = iface.components.get(component)
            if comp is None:
                raise NotFoundError("component", f"{twin_id}/{component}",
                                    f"Model {iface.id} has no component '{component}'")
            iface = self.registry.require(comp.schema)
        now = self.clock.now()
        t = now if source_time is None else source_time
        points = message_to_points(twin_id, payload, iface, t, component)
        data: dict[str, Any] = {"values": payload, "sourceTime": to_iso(t)}
        if message_id:
            data["messageId"] = message_id
        if component:
            data["component"] = component
        return self.write_telemetry(points, {twin_id: record.model_id}, event_data=data)

    def write_telemetry(
        self: _Service,
        points: Sequence[TelemetryPoint],
        models: Mapping[str, str],
        dead_letters: Sequence[DeadLetter] = (),
        *,
        event_data: dict[str, Any] | None = None,
        properties: Mapping[str, Mapping[str, tuple[Any, float]]] | None = None,
        documents: Sequence[tuple[str, str, dict[str, Any]]] = (),
        events: Sequence[NewEvent] = (),
        check: Callable[[Transaction], None] | None = None,
    ) -> int:
        """Write readings, their ``telemetry`` events, reported property values, the batch's
        dead letters, ``documents`` ((kind, key, document), e.g. estimates) and other
        ``events`` (alerts) in one transaction: the batch path for ingestion. Returns how many
        readings were new.

        Each twin with new readings gets one event (``models`` gives each twin's model id); its
        data is ``event_data`` when given (one message's own fields, for one twin), else
        :func:`~holotwin.service.ingestion.telemetry_summary` of the twin's NEW readings, so a
        redelivery adds no event and the events' ``readings`` add up to the readings stored.
        ``properties`` (twin -> property -> (value, source time)) are applied as
        :func:`~holotwin.twins.report_properties` does: stale or repeated reports change
        nothing, a newer one updates the twin (revision, ``twin.updated`` event).
        ``check`` is called first in the transaction; what it raises writes nothing (the
        analytics engine checks its lease and writes its alerts, compare-and-set, so).
        """
        now = self.clock.now()
        with self.store.transaction() as tx:
            if check is not None:
                check(tx)
            flags = tx.insert_telemetry_flags(points)
            fresh = [p for p, new in zip(points, flags, strict=True) if new]
            by_twin: dict[str, list[TelemetryPoint]] = {}
            for p in fresh:
                mine = by_twin.get(p.twin_id)
                if mine is None:
                    mine = by_twin[p.twin_id] = []
                mine.append(p)
            if event_data is not None and len(by_twin) > 1:
                raise InvalidInputError("event_data is for the readings of one twin")
            made = [NewEvent("telemetry", now, twin_id, models[twin_id],
                               event_data if event_data is not None else telemetry_summary(mine))
                      for twin_id, mine in by_twin.items()]
            seqs = tx.append_events([*made, *events])
            for twin_id, reports in (properties or {}).items():
                seqs += self._report_in(tx, twin_id, reports, now)
            tx.put_dead_letters(dead_letters)
            for kind, key, document in documents:
                tx.put_document(kind, key, document, now)
        self._notify(seqs)
        return len(fresh)

    def _report_in(self: _Service, tx: Transaction, twin_id: str,
                   reports: Mapping[str, tuple[Any, float]], now: float) -> list[int]:
        current = tx.get_twin(twin_id)
        if current is None:
            log.warning("Reported properties for twin '%s' dropped: it was deleted", twin_id)
            return []
        try:
            change = report_properties(current.document, reports, self.registry, to_iso(now))
        except StoreError:
            raise
        except HolotwinError as exc:  # checked before; only a concurrent model change gets here
            log.warning("Reported properties for twin '%s' dropped: %s", twin_id, exc.message)
            return []
        if not change.changed:
            return []
        return self._write_twin(tx, "twin.updated", twin_id, change, current.revision + 1,
                                now)[1]

    def report_properties(self: _Service, twin_id: str, reports: Mapping[str, tuple[Any, float]]
                          ) -> dict[str, Any]:
        """Set reported values with their source times (epoch s) as a device reports them;
        stale reports are skipped (see :func:`holotwin.twins.report_properties`)."""
        return self._update(
            twin_id, None,
            lambda doc, now: report_properties(doc, reports, self.registry, now))

    def prepare_telemetry(
        self: _Service, groups: Sequence[Sequence[TelemetryMessage]]
    ) -> PreparedTelemetry:
        """Validate a batch of messages (groups of readings, one group per raw message)
        against their twins' models; see :func:`holotwin.service.ingestion.prepare_telemetry`."""
        return prepare_telemetry(self, groups)

    # dead letters ----------------------------------------------------------------------------
    def list_dead_letters(self: _Service, after_id: int = 0, limit: int = 100) -> list[DeadLetter]:
        if limit < 1 or after_id < 0:
            raise InvalidInputError(
                f"Dead letters: 'after' must be >= 0 and 'limit' >= 1, got {after_id}, {limit}")
        return self.store.list_dead_letters(after_id, limit)

    def count_dead_letters(self: _Service) -> int:
        return self.store.count_dead_letters()

    def telemetry_history(
        self: _Service, twin_id: str, signal: str, start: float, end: float, limit: int = 10000
    ) -> list[TelemetryPoint]:
        if end <= start:
            raise InvalidInputError("The end of a time range must be after its start")
        return self.store.telemetry_range(twin_id, signal, start, end, limit)

    def telemetry_aggregate(
        self: _Service, twin_id: str, signal: str, start: float, end: float, interval: float
    ) -> list[Bucket]:
        if end <= start:
            raise InvalidInputError("The end of a time range must be after its start")
        if not interval > 0:
            raise InvalidInputError(f"The aggregation interval must be positive, got {interval}")
        if (end - start) / interval > 100_000:
            raise InvalidInputError("Too many buckets (over 100,000); use a longer interval")
        return self.store.telemetry_buckets(twin_id, signal, start, end, interval)

    def latest_telemetry(self: _Service, twin_id: str) -> list[TelemetryPoint]:
        if self.store.get_twin(twin_id) is None:
            raise NotFoundError("twin", twin_id)
        return self.store.latest_telemetry(twin_id)
