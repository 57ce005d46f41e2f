"""Validating batches of telemetry messages for ingestion (used by :class:`TwinService`).

A batch is a list of *groups*: the readings of one raw message. A group is accepted or
rejected as a whole, so a dead letter always holds a message that can be replayed as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from holotwin.clock import to_iso
from holotwin.errors import HolotwinError, StoreError
from holotwin.service.telemetry import message_to_points
from holotwin.store.base import TelemetryPoint, TwinRecord
from holotwin.twins import NewEvent

if TYPE_CHECKING:
    from holotwin.service.service import TwinService

__all__ = ["PreparedTelemetry", "TelemetryMessage", "prepare_telemetry"]


@dataclass(frozen=True)
class TelemetryMessage:
    """The values a message gives one twin at one source time (epoch s)."""

    twin_id: str
    values: dict[str, Any]
    source_time: float
    message_id: str | None = None


@dataclass
class PreparedTelemetry:
    """Readings and events ready for :meth:`TwinService.write_telemetry`; ``rejected`` maps the
    index of each refused group to why."""

    points: list[TelemetryPoint] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    #: how many of ``points`` (in order) belong to each event
    event_sizes: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)


def prepare_telemetry(
    service: TwinService, groups: Sequence[Sequence[TelemetryMessage]]
) -> PreparedTelemetry:
    """Validate every message against its twin's model; each twin is read once per batch.

    Readings repeated within the batch (same twin, signal and source time) are kept once, and
    a message whose readings all repeat earlier ones gets no event.
    """
    twins: dict[str, TwinRecord | None] = {}
    for group in groups:
        for m in group:
            if m.twin_id not in twins:
                twins[m.twin_id] = service.store.get_twin(m.twin_id)
    now = service.clock.now()
    out = PreparedTelemetry()
    seen: set[tuple[str, str, float]] = set()
    for index, group in enumerate(groups):
        points: list[list[TelemetryPoint]] = []
        models: list[str] = []
        reason = None
        for k, m in enumerate(group):
            where = f"record {k}: " if len(group) > 1 else ""
            record = twins[m.twin_id]
            if record is None:
                reason = f"{where}Twin '{m.twin_id}' does not exist"
                break
            try:
                iface = service.registry.require(record.model_id)
                models.append(record.model_id)
                points.append(message_to_points(m.twin_id, m.values, iface, m.source_time))
            except StoreError:
                raise
            except HolotwinError as exc:
                reason = f"{where}{exc.message}"
                break
        if reason is not None:
            out.rejected[index] = reason
            continue
        for m, model_id, message_points in zip(group, models, points, strict=True):
            fresh = [p for p in message_points if (p.twin_id, p.signal, p.time) not in seen]
            if not fresh:
                continue
            seen.update((p.twin_id, p.signal, p.time) for p in fresh)
            out.points.extend(fresh)
            data: dict[str, Any] = {"values": m.values, "sourceTime": to_iso(m.source_time)}
            if m.message_id:
                data["messageId"] = m.message_id
            out.events.append(NewEvent("telemetry", now, m.twin_id, model_id, data))
            out.event_sizes.append(len(fresh))
    return out
