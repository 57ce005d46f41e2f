"""Validating batches of telemetry messages for ingestion (used by :class:`TwinService`).

A batch is a list of *groups*: the readings of one raw message. A group is accepted or
rejected as a whole, so a dead letter always holds a message that can be replayed as it was.

This is the hot path of ingestion, so it is written for speed: each twin's model is looked up
once per batch (one query for all of them) and each (model, signal) pair is resolved to its
check once per batch. Change events are made when the batch is written: one per twin with new
readings (:func:`telemetry_summary`), not one per record.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from holotwin.clock import to_iso
from holotwin.errors import HolotwinError, StoreError
from holotwin.models import Interface, ModelRegistry
from holotwin.models.primitives import PrimitiveSchema
from holotwin.service.telemetry import MAX_SIGNAL_NAME
from holotwin.store.base import Store, TelemetryPoint


class _Service(Protocol):
    store: Store
    registry: ModelRegistry

__all__ = ["PreparedTelemetry", "TelemetryMessage", "prepare_telemetry", "telemetry_summary"]


class TelemetryMessage(NamedTuple):
    """The values one record of a message gives one twin at one source ``time`` (epoch s):
    telemetry signals, or with ``kind="property"`` reported values of top-level properties."""

    twin_id: str
    values: dict[str, Any]
    time: float
    message_id: str | None = None
    kind: str = "telemetry"


@dataclass
class PreparedTelemetry:
    """Readings of the accepted groups, ready for :meth:`TwinService.write_telemetry` with
    ``models`` (model id of each twin named); ``rejected`` maps each refused group's index to
    why."""

    points: list[TelemetryPoint] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)
    rejected: dict[int, str] = field(default_factory=dict)
    #: reported property values: twin -> property -> (value, source time), the latest of the
    #: batch for each property
    properties: dict[str, dict[str, tuple[Any, float]]] = field(default_factory=dict)


class _Invalid(Exception):
    pass


#: a value check: raises :class:`HolotwinError` for a value the signal's schema refuses
_Check = Callable[[object, str], None]
_REAL = frozenset({"double", "float", "decimal"})


def _check_for(iface: Interface, name: str) -> _Check | None:
    """The check of signal ``name`` of ``iface`` (None: undeclared, any JSON value goes)."""
    if not isinstance(name, str) or not name or len(name) > MAX_SIGNAL_NAME:
        raise _Invalid(f"Invalid telemetry name {name!r}")
    declared = iface.telemetry.get(name)
    return None if declared is None else declared.schema.validate


def _is_real(check: _Check | None) -> bool:
    owner = getattr(check, "__self__", None)
    return isinstance(owner, PrimitiveSchema) and owner.name in _REAL


def telemetry_summary(points: Sequence[TelemetryPoint]) -> dict[str, Any]:
    """The data of the ``telemetry`` event for one twin's new readings in a batch:
    ``values`` holds each signal's value at its latest source time, ``sourceTime`` the latest
    time, ``firstSourceTime`` the earliest, ``readings`` how many readings were stored (their
    history is in the telemetry store)."""
    latest: dict[str, TelemetryPoint] = {}
    first = last = points[0].time
    for p in points:
        t = p.time
        if t < first:
            first = t
        elif t > last:
            last = t
        seen = latest.get(p.signal)
        if seen is None or t >= seen.time:
            latest[p.signal] = p
    return {"values": {name: p.raw if p.value is None else p.value for name, p in latest.items()},
            "sourceTime": to_iso(last), "firstSourceTime": to_iso(first),
            "readings": len(points)}


def prepare_telemetry(
    service: _Service, groups: Sequence[Sequence[TelemetryMessage]]
) -> PreparedTelemetry:
    """Validate every message against its twin's model; return the readings of the groups
    accepted. Readings repeated within the batch are left to the store's insert, which keeps
    each (twin, signal, source time) once and reports which readings were new."""
    models = service.store.twin_models({m.twin_id for group in groups for m in group})
    interfaces: dict[str, Interface] = {}
    checks: dict[tuple[str, str], tuple[_Check | None, bool]] = {}
    out = PreparedTelemetry(models=models)
    points_out = out.points
    for index, group in enumerate(groups):
        mine: list[TelemetryPoint] = []
        reports: list[TelemetryMessage] = []
        k = 0
        try:
            for k, m in enumerate(group):  # noqa: B007 - k names the record at fault
                twin_id, values, t = m.twin_id, m.values, m.time
                model_id = models.get(twin_id)
                if model_id is None:
                    raise _Invalid(f"Twin '{twin_id}' does not exist")
                if not isinstance(values, dict) or not values:
                    raise _Invalid("A telemetry message must be a JSON object holding at "
                                   "least one name: value")
                if m.kind != "telemetry":
                    iface = interfaces.get(model_id)
                    if iface is None:
                        iface = interfaces[model_id] = service.registry.require(model_id)
                    reports.append(_check_report(iface, m))
                    continue
                for name, value in values.items():
                    key = (model_id, name)
                    found = checks.get(key)
                    if found is None:
                        iface = interfaces.get(model_id)
                        if iface is None:
                            iface = interfaces[model_id] = service.registry.require(model_id)
                        check = _check_for(iface, name)
                        found = checks[key] = (check, _is_real(check))
                    check, real = found
                    if type(value) is float:
                        if not math.isfinite(value):
                            raise _Invalid(f"Telemetry '{name}' is not a finite number: {value!r}")
                        if check is not None and not real:
                            check(value, f"/{name}")
                        mine.append(TelemetryPoint(twin_id, name, t, value, None))
                        continue
                    if check is not None:
                        check(value, f"/{name}")
                    if isinstance(value, bool) or not isinstance(value, int | float):
                        mine.append(TelemetryPoint(twin_id, name, t, None, value))
                    else:  # an int (a float is handled above)
                        mine.append(TelemetryPoint(twin_id, name, t, float(value), None))
        except StoreError:
            raise
        except _Invalid as exc:
            out.rejected[index] = f"{_where(group, k)}{exc}"
            continue
        except HolotwinError as exc:
            out.rejected[index] = f"{_where(group, k)}{exc.message}"
            continue
        points_out.extend(mine)
        for m in reports:
            latest = out.properties.setdefault(m.twin_id, {})
            for name, value in m.values.items():
                if name not in latest or m.time >= latest[name][1]:
                    latest[name] = (value, m.time)
    return out


def _check_report(iface: Interface, m: TelemetryMessage) -> TelemetryMessage:
    """A report of property values, checked against the twin's model."""
    if m.kind != "property":
        raise _Invalid(f"Unknown reading kind {m.kind!r} (telemetry or property)")
    for name, value in m.values.items():
        prop = iface.properties.get(name)
        if prop is None:
            raise _Invalid(f"Model {iface.id} has no property '{name}'")
        prop.schema.validate(value, f"/{name}")
    return m


def _where(group: Sequence[TelemetryMessage], k: int) -> str:
    return f"record {k}: " if len(group) > 1 else ""
