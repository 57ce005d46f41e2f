"""KPIs of twins from their history, rolled up the twin graph (mixed into
:class:`~holotwin.service.TwinService`; the definitions are in :mod:`holotwin.analytics.kpi`).

:meth:`KpiMethods.twin_kpis` reads, for a twin and the twins below it (the targets of its
outgoing relationships, to ``depth`` levels), over a window ``[start, end)``:

- the status history (a reported property) for times, availability, failures, MTBF, MTTR;
- a part counter and optionally a good-part or reject counter for performance, quality, OEE,
  with the ideal rate from a property (parts per minute, held between changes) or a fixed
  ideal cycle time;
- a power signal (and optionally an output power signal) for energy, energy per part and
  efficiency.

A counter or power signal is read from the twin's telemetry, or from its property history
where its model declares a property of that name (the demo machine reports
``partsProduced`` as a property and ``power`` as telemetry). A signal the model does not
declare is left out: the defaults name signals of the demo machine, and a configuration is
refused if it names one its model does not have.

What to read comes from the KPI configuration of the twin's model (``documents`` kind
``kpi-config``, see :func:`~holotwin.analytics.kpi.parse_kpi_config`) or of its nearest base
(breadth first), else the defaults, which fit the demo plant.

The result (JSON-ready)::

    {"twinId": "line-1", "model": "dtmi:...", "start": ISO, "end": ISO,
     "kpis": {...},       # the twin and every twin below it (rollup), or the twin alone
     "own": {...},        # the twin alone (only when it has children here)
     "children": [{"twinId", "model", "kpis", "children", "notes", ...}, ...],
     "notes": ["..."]}

A twin reached twice (two parents, a cycle) is counted once, at its first place. The window
ends no later than now (the clock's time): history after now is not known yet.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from holotwin.analytics.kpi import (
    POWER_UNITS,
    StatusTimes,
    counter_increase,
    ideal_count,
    integrate,
    integrate_held,
    parse_kpi_config,
    rollup,
    status_times,
    twin_figures,
)
from holotwin.clock import Clock, to_iso
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.models import Interface, ModelRegistry
from holotwin.service.history import Spell, held_since, property_spells
from holotwin.store.base import Store, TelemetryPoint, TwinRecord

__all__ = ["DEFAULT_DEPTH", "KPI_CONFIG", "MAX_DEPTH", "MAX_TWINS", "KpiMethods"]

KPI_CONFIG = "kpi-config"
DEFAULT_DEPTH = 2  # plant -> line -> machine
MAX_DEPTH = 10
MAX_TWINS = 1000
_MAX_READINGS = 1_000_000  # per signal and twin
_PAGE = 10_000
_LOOKBACK = 1000  # changes looked back for the start of a fault going on at the start
_HOUR = 3600.0
_DIGITS = re.compile(r"(\d+)")


def _natural(text: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in _DIGITS.split(text)]


class _Service(Protocol):
    store: Store
    registry: ModelRegistry
    clock: Clock

    def kpi_config_for(self, model_id: str) -> tuple[str | None, dict[str, Any]]: ...


class _TwinReader:
    """What one call reads, for one twin: the window, its configuration and its model."""

    def __init__(self, store: Store, record: TwinRecord, iface: Interface | None,
                 config: Mapping[str, Any], start: float, end: float) -> None:
        self.store, self.twin, self.iface = store, record.id, iface
        self.config = config
        self.start, self.end = start, end
        self.notes: list[str] = []
        self.properties = set(iface.properties) if iface else set()
        self.telemetry = set(iface.telemetry) if iface else set()
        self.spells: dict[str, list[Spell]] = {}

    def read_properties(self, names: Sequence[str]) -> None:
        wanted = [n for n in dict.fromkeys(names) if n in self.properties]
        if not wanted:
            return
        self.spells, cut = property_spells(self.store, self.twin, wanted, self.start, self.end)
        if cut:
            last = max(s[-1][1] for s in self.spells.values() if s)
            self.notes.append(f"History cut short: figures from properties end at "
                              f"{to_iso(last)}")

    def declared(self, name: str) -> bool:
        return name in self.properties or name in self.telemetry

    def readings(self, signal: str, margin: float) -> tuple[list[float], list[float | None]]:
        """The readings of ``[start, end)``, and the nearest one on each side within
        ``margin`` s, for the steps across the edges."""
        store, twin = self.store, self.twin
        before = store.telemetry_range(twin, signal, self.start - margin, self.start, _PAGE)
        points: list[TelemetryPoint] = before[-1:]
        if len(before) == _PAGE:  # more than a page in the margin: take the newest
            cursor = before[-1].time
            while True:
                page = store.telemetry_range(twin, signal, math.nextafter(cursor, math.inf),
                                             self.start, _PAGE)
                if not page:
                    break
                points, cursor = page[-1:], page[-1].time
        cursor, count = self.start, 0
        while True:
            page = store.telemetry_range(twin, signal, cursor, self.end, _PAGE)
            points.extend(page)
            count += len(page)
            if len(page) < _PAGE:
                break
            if count >= _MAX_READINGS:
                self.notes.append(f"More than {_MAX_READINGS:,} '{signal}' readings: only "
                                  f"those up to {to_iso(page[-1].time)} are used")
                return [p.time for p in points], [p.value for p in points]
            cursor = math.nextafter(page[-1].time, math.inf)
        points.extend(store.telemetry_range(twin, signal, self.end, self.end + margin, 1))
        return [p.time for p in points], [p.value for p in points]

    def counter(self, name: str) -> float | None:
        if not self.declared(name):
            return None
        if name in self.properties:
            spells = self.spells.get(name, [])
            if all(v is None for _, _, v in spells):
                return None  # the twin does not report it
            increase = counter_increase([a for a, _, _ in spells], [v for _, _, v in spells],
                                        self.start, self.end)
        else:
            gap = self.config["energy"]["maxGap"]
            times, values = self.readings(name, gap)
            if not times:
                self.notes.append(f"No '{name}' readings in the window: no count")
                return None
            increase = counter_increase(times, values, self.start, self.end, max_gap=gap)
            if increase.unbridged:
                self.notes.append(f"'{name}': {increase.unbridged} step(s) across the window's "
                                  f"edges longer than {gap:g} s left out")
        if increase.resets:
            self.notes.append(f"'{name}' was reset {increase.resets} time(s): counted from 0 "
                              "after each drop")
        return increase.count

    def energy(self, name: str, span: float) -> float | None:
        """kWh over the window, None when not known; ``span``: the time (s) readings should
        cover (the time the twin had a status, else the window)."""
        if not self.declared(name):
            return None
        unit = self.config["energy"]["unit"]
        if unit is None and self.iface is not None:
            element = self.iface.properties.get(name) or self.iface.telemetry.get(name)
            unit = element.unit if element is not None else None
        unit = unit or "kilowatt"
        if unit not in POWER_UNITS:
            self.notes.append(f"'{name}' is in {unit}, not a power unit: no energy (set "
                              "energy.unit)")
            return None
        gap = self.config["energy"]["maxGap"]
        if name in self.properties:
            integral = integrate_held(self.spells.get(name, []), self.start, self.end)
        else:
            times, values = self.readings(name, gap)
            integral = integrate(times, values, self.start, self.end, max_gap=gap)
        if integral.covered <= 0:
            self.notes.append(f"No '{name}' readings cover the window: no energy")
            return None
        if integral.gaps or integral.covered < span * 0.99:
            self.notes.append(f"'{name}' readings cover {integral.covered:,.0f} s of "
                              f"{span:,.0f} s (gaps over {gap:g} s are not bridged)")
        return integral.value * POWER_UNITS[unit] / _HOUR

    def figures(self) -> dict[str, Any]:
        c = self.config
        status, rate = c["properties"]["status"], c["properties"]["rate"]
        counters, energy = c["counters"], c["energy"]
        self.read_properties([status, rate, *(v for v in counters.values() if v),
                              *(energy[k] for k in ("power", "output") if energy[k])])
        times: StatusTimes | None = None
        if status in self.properties:
            spells = self.spells.get(status, [])
            since = None
            if spells and spells[0][2] in c["faultStates"]:
                since, deep = held_since(self.store, self.twin, status, c["faultStates"],
                                         self.start, _LOOKBACK)
                if deep:
                    self.notes.append(f"The fault going on at the start began before "
                                      f"{to_iso(since or self.start)} (looked back "
                                      f"{_LOOKBACK:,} changes): its repair time counts from "
                                      "there")
            times = status_times(spells, self.start, self.end, run_states=c["runStates"],
                                 fault_states=c["faultStates"],
                                 planned_states=c["plannedStates"], fault_since=since)
            if times.observed == 0:
                self.notes.append(f"'{status}' has no value in the window")
        total = good = ideal = None
        if counters["total"]:
            total = self.counter(counters["total"])
        if total is not None:
            if counters["good"]:
                good = self.counter(counters["good"])
            elif counters["reject"]:
                rejects = self.counter(counters["reject"])
                good = None if rejects is None else max(total - rejects, 0.0)
            if good is None and total > 0:
                self.notes.append("Quality taken as 1: no good or reject counter "
                                  "(counters.good, counters.reject)")
            ideal = self._ideal(times)
        span = times.observed if times is not None and times.observed > 0 \
            else self.end - self.start
        power = self.energy(energy["power"], span) if energy["power"] else None
        output = self.energy(energy["output"], span) if energy["output"] else None
        figures, notes = twin_figures(times, total=total, good=good, ideal=ideal,
                                      energy=power, output_energy=output)
        self.notes.extend(notes)
        return figures

    def _ideal(self, times: StatusTimes | None) -> float | None:
        c = self.config
        if times is None:
            return None
        status, rate = c["properties"]["status"], c["properties"]["rate"]
        cycle = c["idealCycleTime"]
        if cycle is None and rate not in self.properties:
            self.notes.append(f"No ideal rate: the model has no property '{rate}' "
                              "(properties.rate) and no idealCycleTime is set")
            return None
        ideal, unknown = ideal_count(self.spells.get(status, []), self.spells.get(rate, []),
                                     self.start, self.end, fault_states=c["faultStates"],
                                     planned_states=c["plannedStates"],
                                     ideal_cycle_time=cycle)
        if unknown > 0:
            self.notes.append(f"'{rate}' has no value for {unknown:,.0f} s of run time: no "
                              "performance")
            return None
        return ideal


class KpiMethods:
    """KPI configuration per model and KPIs of twins (mixed into TwinService)."""

    def put_kpi_config(self: _Service, model_id: str, raw: object) -> dict[str, Any]:
        """Set the KPI configuration of a model (and of the models extending it that have
        none of their own); missing members take their defaults. The properties, signals
        and relationships it names must be the model's."""
        iface = self.registry.require(model_id)
        config = parse_kpi_config(raw)
        _check_names(iface, raw, config)
        with self.store.transaction() as tx:
            tx.put_document(KPI_CONFIG, model_id, config, self.clock.now())
        return {"model": model_id, "definedBy": model_id, "config": config}

    def get_kpi_config(self: _Service, model_id: str) -> dict[str, Any]:
        """The KPI configuration that applies to twins of a model, and the model that
        defines it (``definedBy``: the model, a base, or None for the defaults)."""
        self.registry.require(model_id)
        holder, config = self.kpi_config_for(model_id)
        return {"model": model_id, "definedBy": holder, "config": config}

    def delete_kpi_config(self: _Service, model_id: str) -> None:
        if self.store.get_document(KPI_CONFIG, model_id) is None:
            raise NotFoundError("KPI configuration", model_id,
                                f"Model {model_id} has no KPI configuration of its own")
        with self.store.transaction() as tx:
            tx.put_document(KPI_CONFIG, model_id, None, self.clock.now())

    def kpi_config_for(self: _Service, model_id: str) -> tuple[str | None, dict[str, Any]]:
        """The configuration of ``model_id`` or of its nearest base (breadth first), with the
        id of the model that holds it; (None, the defaults) if none has one."""
        configs = self.store.list_documents(KPI_CONFIG)
        seen: set[str] = set()
        level = [model_id]
        while level and configs:
            for m in level:
                if m in configs:
                    return m, parse_kpi_config(configs[m])
            seen.update(level)
            nxt: list[str] = []
            for m in level:
                iface = self.registry.get(m)
                nxt.extend(e for e in (iface.extends if iface else ()) if e not in seen)
            level = nxt
        return None, parse_kpi_config({})

    def twin_kpis(self: _Service, twin_id: str, start: float | None = None,
                  end: float | None = None, *, depth: int = DEFAULT_DEPTH) -> dict[str, Any]:
        """KPIs of a twin and of the twins below it over ``[start, end)`` (epoch seconds;
        default: the hour up to now), rolled up ``depth`` levels (0: the twin alone); see the
        module docs for the result."""
        if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_DEPTH:
            raise InvalidInputError(f"depth must be an integer from 0 to {MAX_DEPTH}, got "
                                    f"{depth!r}")
        now = self.clock.now()
        end = now if end is None else end
        start = end - _HOUR if start is None else start
        for name, value in (("start", start), ("end", end)):
            if not math.isfinite(value):
                raise InvalidInputError(f"'{name}' must be a finite time, got {value!r}")
        if end <= start:
            raise InvalidInputError(f"'end' ({to_iso(end)}) must be after 'start' "
                                    f"({to_iso(start)})")
        notes: list[str] = []
        if end > now:
            if start >= now:
                raise InvalidInputError(f"The window from {to_iso(start)} is in the future "
                                        f"(now is {to_iso(now)})")
            notes.append(f"The window ends now ({to_iso(now)}), not at {to_iso(end)}: later "
                         "history is not known yet")
            end = now
        root = self.store.get_twin(twin_id)
        if root is None:
            raise NotFoundError("twin", twin_id)
        configs: dict[str, tuple[str | None, dict[str, Any]]] = {}
        seen = {twin_id}

        def visit(record: TwinRecord, level: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
            if record.model_id not in configs:
                configs[record.model_id] = self.kpi_config_for(record.model_id)
            config = configs[record.model_id][1]
            window = _TwinReader(self.store, record, self.registry.get(record.model_id), config,
                                 start, end)
            own = window.figures()
            node: dict[str, Any] = {"twinId": record.id, "model": record.model_id}
            children: list[dict[str, Any]] = []
            rows = [own]
            if level < depth:
                for target in _children(self.store, record.id, config["relationships"]):
                    if target in seen:
                        window.notes.append(f"'{target}' is counted once, where it was "
                                            "reached first")
                        continue
                    child = self.store.get_twin(target)
                    if child is None:
                        continue
                    seen.add(target)
                    if len(seen) > MAX_TWINS:
                        raise InvalidInputError(f"More than {MAX_TWINS:,} twins below "
                                                f"'{twin_id}'; ask for a smaller depth")
                    sub, sub_rows = visit(child, level + 1)
                    children.append(sub)
                    rows.extend(sub_rows)
            if children:
                node["kpis"], node["own"] = rollup(rows), own
            else:
                node["kpis"] = own
            node["children"] = children
            node["notes"] = window.notes
            return node, rows

        result, _ = visit(root, 0)
        return {"twinId": result.pop("twinId"), "model": result.pop("model"),
                "start": to_iso(start), "end": to_iso(end), **result,
                "notes": notes + result["notes"]}


def _check_names(iface: Interface, raw: object, config: Mapping[str, Any]) -> None:
    """Refuse a configuration that names what the model does not have (only what it names
    itself: a default the model lacks is left out when KPIs are computed)."""
    given: Mapping[str, Any] = raw if isinstance(raw, dict) else {}
    signals = set(iface.properties) | set(iface.telemetry)
    for section, key, known, kind in (
            ("properties", "status", iface.properties, "a property"),
            ("properties", "rate", iface.properties, "a property"),
            ("counters", "total", signals, "a property or telemetry"),
            ("counters", "good", signals, "a property or telemetry"),
            ("counters", "reject", signals, "a property or telemetry"),
            ("energy", "power", signals, "a property or telemetry"),
            ("energy", "output", signals, "a property or telemetry")):
        name = config[section][key]
        if key in (given.get(section) or {}) and name is not None and name not in known:
            raise InvalidInputError(f"{section}.{key} {name!r} is not {kind} of {iface.id}")
    for name in config["relationships"] or ():
        if name not in iface.relationships:
            raise InvalidInputError(f"relationships: {name!r} is not a relationship of "
                                    f"{iface.id}")


def _children(store: Store, twin_id: str, names: Sequence[str] | None) -> list[str]:
    """Targets of the twin's outgoing relationships (those named ``names``, or all), ordered
    by the relationship property ``position`` where they have one, then by twin id."""
    relationships = [r for r in store.list_relationships(twin_id)
                     if names is None or r["$relationshipName"] in names]

    def key(r: Mapping[str, Any]) -> tuple[float, list[Any]]:
        position = r.get("position")
        number = float(position) if isinstance(position, int | float) \
            and not isinstance(position, bool) else math.inf
        return number, _natural(r["$targetId"])

    return list(dict.fromkeys(r["$targetId"] for r in sorted(relationships, key=key)))
