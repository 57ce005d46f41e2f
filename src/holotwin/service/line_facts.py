"""What a line's twins say about its stations, for line scenarios: :func:`line_facts`.

Reads only. For each station twin (in flow order) at the fork time:

- **cycle time** ``60 / rate`` s, the rate being the twin's ``properties.rate`` property
  (default ``speed``) in parts per minute;
- **MTBF and MTTR** from its status history in the ``lookback`` seconds before the fork
  (property ``properties.status``, default ``status``): MTBF = time in a running status
  (``running``) / faults started (a change into one of ``faultStates``), MTTR = the mean length
  of the fault spells that ended in the window; each only when the history shows one;
- **health** from its behavior estimate (the ``health`` quantity of behaviors that derive one,
  such as ``rotating-machine`` and ``centrifugal-pump``): the current estimate for a fork now,
  the estimate history on the twin (``estimate.health``) for a fork in the past.

The stations are the scenario's ``stations``, or else the targets of the line twin's
relationships (those named ``relationship``, or all), ordered by the relationship property
``position`` where they have one and then by twin id (``machine-2`` before ``machine-10``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.scenarios.line_whatif import StationFacts
from holotwin.service.estimating import ESTIMATE
from holotwin.service.history import status_spells, twin_of
from holotwin.store.base import Store

__all__ = ["RUN_STATES", "line_facts", "station_order"]

RUN_STATES = ("running",)
_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(text)]


def station_order(store: Store, spec: Mapping[str, Any]) -> list[str]:
    """The scenario's stations in flow order (see the module docs)."""
    line = spec["line"]
    if store.get_twin(line) is None:
        raise NotFoundError("twin", line)
    if spec.get("stations"):
        stations = list(spec["stations"])
    else:
        relationships = store.list_relationships(line, spec.get("relationship"))
        if not relationships:
            which = f"'{spec['relationship']}' relationships" if spec.get("relationship") \
                else "relationships"
            raise InvalidInputError(f"Line twin '{line}' has no {which} to stations; name "
                                    "them in 'stations'")

        def key(r: Mapping[str, Any]) -> tuple[float, list[Any]]:
            position = r.get("position")
            number = float(position) if isinstance(position, int | float) \
                and not isinstance(position, bool) else math.inf
            return number, _natural(r["$targetId"])

        stations = list(dict.fromkeys(r["$targetId"] for r in sorted(relationships, key=key)))
    missing = [s for s in stations if store.get_twin(s) is None]
    if missing:
        raise NotFoundError("twin", missing[0])
    return stations


def _document(store: Store, twin: str, at: float | None) -> dict[str, Any] | None:
    if at is None:
        record = store.get_twin(twin)
        return None if record is None else record.document
    event = store.twin_event_at(twin, at)
    return None if event is None else twin_of(event.data)


def _history_facts(store: Store, twin: str, spec: Mapping[str, Any], end: float
                   ) -> tuple[float | None, float | None, dict[str, str]]:
    lookback = float(spec["lookback"])
    if lookback <= 0:
        return None, None, {}
    faulty, run_set = set(spec["faultStates"]), set(RUN_STATES)
    spells, cut = status_spells(store, twin, spec["properties"]["status"], end - lookback, end)
    running = sum(b - a for a, b, v in spells if v in run_set)
    merged: list[list[Any]] = []  # [from, to, in a fault state], adjacent ones joined
    for a, b, value in spells:
        if merged and merged[-1][2] == (value in faulty):
            merged[-1][1] = b
        else:
            merged.append([a, b, value in faulty])
    window_start = end - lookback
    # a fault spell counts as a failure when it started in the window, and as a repair when
    # it also ended in it
    started = [m for m in merged if m[2] and m[0] > window_start]
    faults = len(started)
    repairs = [b - a for a, b, _ in started if b < end]
    span = f"in the {lookback:g} s before the fork" + (" (cut short)" if cut else "")
    sources: dict[str, str] = {}
    mtbf = mttr = None
    if faults:
        mtbf = running / faults
        sources["mtbf"] = f"history: {faults} fault(s) in {running:.0f} s running {span}"
    if repairs:
        mttr = sum(repairs) / len(repairs)
        sources["mttr"] = f"history: {len(repairs)} repair(s) {span}"
    return mtbf, mttr, sources


def _health(store: Store, twin: str, at: float | None) -> float | None:
    if at is None:
        doc = store.get_document(ESTIMATE, twin)
        value = ((doc or {}).get("derived") or {}).get("health") if doc and \
            not doc.get("reset") else None
    else:
        points = store.telemetry_range(twin, "estimate.health", -math.inf,
                                       math.nextafter(at, math.inf), 100_000)
        value = points[-1].value if points else None
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return min(max(float(value), 1e-6), 1.0)  # health 0 (failed) stays a finite MTBF
    return None


def line_facts(store: Store, spec: Mapping[str, Any], at: float | None, now: float
               ) -> list[StationFacts]:
    """The facts of every station of a parsed line scenario, as of ``at`` (None: ``now``)."""
    facts: list[StationFacts] = []
    end = now if at is None else at
    for twin in station_order(store, spec):
        doc = _document(store, twin, at) or {}
        sources: dict[str, str] = {}
        rate = doc.get(spec["properties"]["rate"])
        cycle = None
        if isinstance(rate, int | float) and not isinstance(rate, bool) and math.isfinite(
                rate) and rate > 0:
            cycle = 60.0 / float(rate)
            sources["cycleTime"] = f"twin: {spec['properties']['rate']} {rate:g} parts/min"
        mtbf, mttr, found = _history_facts(store, twin, spec, end)
        sources.update(found)
        health = _health(store, twin, at)
        facts.append(StationFacts(twin, cycle, mtbf, mttr, health, sources))
    return facts
