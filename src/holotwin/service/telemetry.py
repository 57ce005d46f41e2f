"""Turning telemetry messages into readings (pure helpers for the service)."""

from __future__ import annotations

import math
from collections.abc import Mapping

from holotwin.errors import InvalidInputError
from holotwin.models import Interface
from holotwin.store.base import TelemetryPoint

__all__ = ["message_to_points"]

MAX_SIGNAL_NAME = 256


def message_to_points(
    twin_id: str,
    payload: object,
    iface: Interface,
    time: float,
    component: str | None = None,
) -> list[TelemetryPoint]:
    """Readings in one telemetry message: one per top-level member.

    Members declared as telemetry in the model are validated against their schema; undeclared
    members are kept too (Azure Digital Twins does not validate telemetry either). A component's
    telemetry is stored under ``component/name``.
    """
    if not isinstance(payload, Mapping):
        raise InvalidInputError("A telemetry message must be a JSON object of name: value")
    if not payload:
        raise InvalidInputError("A telemetry message must hold at least one value")
    points = []
    for name, value in payload.items():
        if not isinstance(name, str) or not name or len(name) > MAX_SIGNAL_NAME:
            raise InvalidInputError(f"Invalid telemetry name {name!r}")
        declared = iface.telemetry.get(name)
        prefix = f"/{component}" if component else ""
        if declared is not None:
            declared.schema.validate(value, f"{prefix}/{name}")
        signal = f"{component}/{name}" if component else name
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            points.append(TelemetryPoint(twin_id, signal, time, None, value))
        elif not math.isfinite(value):
            raise InvalidInputError(f"Telemetry '{signal}' is not a finite number: {value!r}")
        else:
            points.append(TelemetryPoint(twin_id, signal, time, float(value), None))
    return points
