"""Key performance indicators of an asset from its history, and of a group of assets (pure).

The service reads a twin's history (status spells, counter and power readings) and hands it to
these functions; times are float epoch seconds, the window is ``[start, end)``.

**Status** (:func:`status_times`; states as in the line scenarios: run states ``running``, fault
states ``fault``, planned-stop states none unless configured). Time without a status (before
the twin existed) is not observed. With ``observed`` the time with a status:

- planned time ``= observed - planned stops``; down time ``=`` time in a fault state;
- run time ``= planned - down``: every state but a fault or a planned stop, so a machine that
  is idle (starved of parts, blocked) is running slow, a performance loss, not an
  availability loss (as in :mod:`holotwin.scenarios.line_kpi`);
- availability ``= run time / planned time`` (the OEE availability, ISO 22400-2);
- failures: entries into a fault state in the window (adjacent fault states are one fault);
  repairs: fault spells that ended in the window, each as long as the whole fault (the
  service looks back for when a fault going on at ``start`` began);
- MTBF ``= running time / failures`` (time in a run state, as in the line scenarios); MTTR
  ``= repair time / repairs``; each None without failures or repairs.

**Counters** (:func:`counter_increase`): a part counter only grows, so a drop is a reset to 0
and the reading after it counts from 0 (as Prometheus' ``increase()`` does). Between readings
the counter is taken as linear, so a step across an edge of the window counts in proportion;
such a step longer than ``max_gap`` is left out (when the parts were made is not known).

**Performance and quality** (:func:`twin_figures`): the ideal count is what the run time
makes at the ideal rate (:func:`ideal_count`: the rate property in parts per minute, held
between its changes, or a fixed ideal cycle time); performance ``= total / ideal``, capped at
1 (the uncapped value is kept as ``performanceUncapped``); quality ``= good / total`` (1 when
there is no good or reject counter). The loss times of the OEE standard make them add up
over machines: net run time ``= performance * run time``, fully productive time ``= quality
* net run time``, OEE ``= fully productive / planned = availability * performance *
quality``.

**Energy** (:func:`integrate`): power readings integrated by the trapezoid rule, linear
between readings and cut at the window's edges; a gap between readings longer than
``max_gap`` is not bridged (it adds nothing, and ``covered`` says how much of the window the
readings cover). A power held as a property is integrated as held (:func:`integrate_held`).
Energy per part ``= energy / total``; efficiency ``= output energy / input energy``.

**Groups** (:func:`rollup`, a line of machines, a plant of lines): times, counts and energies
add up; availability ``= Σ run time / Σ planned time`` (weighted by planned time); MTBF ``=
Σ running time / Σ failures``, MTTR ``= Σ repair time / Σ repairs``; OEE is weighted by
production time: ``Σ fully productive time / Σ planned time`` over the twins that have an
OEE, with performance ``= Σ net run time / Σ run time`` and quality ``= Σ fully productive /
Σ net run time`` over the same twins, so OEE = A·P·Q holds for the group too (Vorne, "OEE
for multiple machines", oee.com: sum the time losses, do not average the percentages). For a
serial line this counts the work of every machine; the line scenarios' line OEE is measured
at the line's output and bottleneck instead. Energy per part of a group is its energy per
machine operation (``Σ energy / Σ total`` of the twins with both).

Units: times in s; counts in parts; ``energy`` and ``outputEnergy`` in kWh; ``energyPerPart``
in kWh per part; ratios as fractions.

>>> spells = [(0.0, 600.0, "running"), (600.0, 660.0, "fault"), (660.0, 3600.0, "running")]
>>> t = status_times(spells, 0.0, 3600.0)
>>> t.availability, t.failures, t.mtbf, t.mttr
(0.9833333333333333, 1, 3540.0, 60.0)
>>> f, notes = twin_figures(t, total=2832.0, ideal=3540.0)
>>> round(f["performance"], 3), f["quality"], round(f["oee"], 3), notes
(0.8, 1.0, 0.787, [])
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from holotwin.errors import InvalidInputError

__all__ = [
    "FAULT_STATES",
    "FIGURES",
    "POWER_UNITS",
    "RUN_STATES",
    "CounterIncrease",
    "Integral",
    "StatusTimes",
    "counter_increase",
    "ideal_count",
    "integrate",
    "integrate_held",
    "parse_kpi_config",
    "rollup",
    "status_times",
    "twin_figures",
]

Spell = tuple[float, float, Any]

RUN_STATES = ("running",)
FAULT_STATES = ("fault",)

POWER_UNITS: Mapping[str, float] = MappingProxyType({
    "milliwatt": 1e-6, "watt": 1e-3, "kilowatt": 1.0, "megawatt": 1e3, "gigawatt": 1e6,
    "horsepower": 0.745699872,
})
"""DTDL power units a power signal may be in, as kilowatts per unit."""

FIGURES = (
    "observedTime", "plannedTime", "plannedStopTime", "runTime", "runningTime", "downTime",
    "failures", "repairs", "repairTime", "availability", "mtbf", "mttr",
    "total", "good", "scrap", "idealCount", "netRunTime", "fullyProductiveTime",
    "performance", "performanceUncapped", "quality", "oee",
    "energy", "outputEnergy", "energyPerPart", "efficiency",
)
"""The members of a twin's figures (:func:`twin_figures`); a group adds ``twins``."""


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _clip(spells: Iterable[Spell], start: float, end: float) -> list[Spell]:
    out = []
    for a, b, v in spells:
        a, b = max(a, start), min(b, end)
        if b > a:
            out.append((a, b, v))
    return out


# status ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StatusTimes:
    """Where a twin's time went in a window (s), its failures and repairs."""

    observed: float
    running: float
    down: float
    planned_stop: float
    failures: int
    repairs: int
    repair_time: float

    @property
    def planned(self) -> float:
        return max(self.observed - self.planned_stop, 0.0)

    @property
    def run_time(self) -> float:
        return max(self.planned - self.down, 0.0)

    @property
    def availability(self) -> float | None:
        return self.run_time / self.planned if self.planned > 0 else None

    @property
    def mtbf(self) -> float | None:
        return self.running / self.failures if self.failures else None

    @property
    def mttr(self) -> float | None:
        return self.repair_time / self.repairs if self.repairs else None


def status_times(spells: Iterable[Spell], start: float, end: float, *,
                 run_states: Collection[Any] = RUN_STATES,
                 fault_states: Collection[Any] = FAULT_STATES,
                 planned_states: Collection[Any] = (),
                 fault_since: float | None = None) -> StatusTimes:
    """Times, failures and repairs from status spells ``(from, to, value)`` (see the module
    docs). ``fault_since``: when the fault going on at ``start`` began (None: at ``start``),
    for the length of its repair if it ends in the window.

    >>> s = [(0.0, 50.0, "fault"), (50.0, 80.0, "running"), (80.0, 90.0, "idle"),
    ...      (90.0, 95.0, "fault"), (95.0, 100.0, "running")]
    >>> t = status_times(s, 0.0, 100.0, fault_since=-30.0)
    >>> t.running, t.down, t.run_time, t.failures, t.repairs, t.repair_time
    (35.0, 55.0, 45.0, 1, 2, 85.0)
    """
    run, fault, planned = tuple(run_states), tuple(fault_states), tuple(planned_states)
    clipped = _clip(spells, start, end)
    observed = running = down = stopped = 0.0
    merged: list[list[Any]] = []  # [from, to, in a fault state], adjacent ones joined
    for a, b, v in clipped:
        if v is None:
            faulty = False
        else:
            observed += b - a
            faulty = v in fault
            running += (b - a) if v in run else 0.0
            down += (b - a) if faulty else 0.0
            stopped += (b - a) if v in planned else 0.0
        if merged and merged[-1][2] == faulty and merged[-1][1] == a:
            merged[-1][1] = b
        else:
            merged.append([a, b, faulty])
    failures = sum(1 for a, _, f in merged if f and a > start)
    repairs = [b - (a if a > start or fault_since is None else min(fault_since, a))
               for a, b, f in merged if f and b < end]
    return StatusTimes(observed, running, down, stopped, failures, len(repairs),
                       float(sum(repairs)))


# counters ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CounterIncrease:
    """What a counter counted in a window: ``count`` (may be fractional at the edges), the
    ``resets`` seen, the ``readings`` in the window, and how many steps across an edge were
    left out for being longer than the largest gap (``unbridged``)."""

    count: float
    resets: int
    readings: int
    unbridged: int


def counter_increase(times: Sequence[float], values: Sequence[float | None], start: float,
                     end: float, *, max_gap: float = math.inf) -> CounterIncrease:
    """How much a counter read at ``times`` (ascending) went up in ``[start, end)``; a drop
    is a reset to 0 (see the module docs). Readings just outside the window (within
    ``max_gap``) count the steps across its edges in proportion.

    >>> counter_increase([0.0, 10.0, 20.0, 30.0], [100, 130, 5, 25], 0.0, 40.0)
    CounterIncrease(count=55.0, resets=1, readings=4, unbridged=0)
    >>> counter_increase([-10.0, 10.0], [0, 20], 0.0, 100.0).count  # half of the step
    10.0
    """
    points = [(t, v) for t, v in ((t, _number(v)) for t, v in zip(times, values, strict=True))
              if v is not None]
    count, resets, unbridged = 0.0, 0, 0
    for (t0, v0), (t1, v1) in pairwise(points):
        inside = min(t1, end) - max(t0, start)
        if t1 <= t0:  # two readings at one time: the step happens then
            share = 1.0 if start <= t1 < end else 0.0
        elif inside <= 0:
            continue
        else:
            share = inside / (t1 - t0)
            if share < 1.0 and t1 - t0 > max_gap:
                unbridged += 1
                continue
        if share <= 0:
            continue
        dropped = v1 < v0
        resets += dropped
        count += share * (v1 if dropped else v1 - v0)
    readings = sum(1 for t, _ in points if start <= t < end)
    return CounterIncrease(count, resets, readings, unbridged)


def ideal_count(status: Iterable[Spell], rates: Iterable[Spell], start: float, end: float, *,
                fault_states: Collection[Any] = FAULT_STATES,
                planned_states: Collection[Any] = (),
                ideal_cycle_time: float | None = None) -> tuple[float, float]:
    """The parts the run time (see :func:`status_times`) would make at the ideal rate, and
    the run time (s) with no rate known. The rate is the value of the ``rates`` spells in
    parts per minute (a setpoint: 0 or less makes nothing), or ``60 / ideal_cycle_time``.

    >>> ideal_count([(0.0, 60.0, "running"), (60.0, 90.0, "fault"), (90.0, 120.0, "idle")],
    ...             [(0.0, 30.0, 60.0), (30.0, 120.0, 120.0)], 0.0, 120.0)
    (150.0, 0.0)
    """
    fault, planned = tuple(fault_states), tuple(planned_states)
    runs = [(a, b) for a, b, v in _clip(status, start, end)
            if v is not None and v not in fault and v not in planned]
    if ideal_cycle_time is not None:
        return sum(b - a for a, b in runs) / ideal_cycle_time, 0.0
    known = _clip(rates, start, end)
    ideal = unknown = 0.0
    i = 0
    for a, b in runs:  # both ascending and without overlaps: one sweep
        covered = 0.0
        while i < len(known) and known[i][1] <= a:
            i += 1
        j = i
        while j < len(known) and known[j][0] < b:
            lo, hi = max(a, known[j][0]), min(b, known[j][1])
            rate = _number(known[j][2])
            if rate is None:
                unknown += hi - lo
            else:
                ideal += max(rate, 0.0) / 60.0 * (hi - lo)
            covered += hi - lo
            j += 1
        unknown += (b - a) - covered
    return ideal, unknown


# energy ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Integral:
    """The integral of a signal over a window (signal unit x s), the time its readings
    cover (s), and the gaps longer than the largest gap that were not bridged."""

    value: float
    covered: float
    gaps: int


def integrate(times: Sequence[float], values: Sequence[float | None], start: float,
              end: float, *, max_gap: float) -> Integral:
    """The trapezoid-rule integral of readings over ``[start, end)`` (see the module docs).

    >>> integrate([0.0, 10.0, 20.0, 1000.0, 1010.0], [1.0, 3.0, 3.0, 5.0, 5.0],
    ...           5.0, 2000.0, max_gap=60.0)
    Integral(value=92.5, covered=25.0, gaps=1)
    """
    points = [(t, v) for t, v in ((t, _number(v)) for t, v in zip(times, values, strict=True))
              if v is not None]
    area = covered = 0.0
    gaps = 0
    for (t0, v0), (t1, v1) in pairwise(points):
        lo, hi = max(t0, start), min(t1, end)
        if hi <= lo:
            continue
        if t1 - t0 > max_gap:
            gaps += 1
            continue
        slope = (v1 - v0) / (t1 - t0)
        area += (v0 + slope * (lo - t0) + v0 + slope * (hi - t0)) / 2.0 * (hi - lo)
        covered += hi - lo
    return Integral(area, covered, gaps)


def integrate_held(spells: Iterable[Spell], start: float, end: float) -> Integral:
    """The integral of a value held over spells (a reported property), numbers only.

    >>> integrate_held([(0.0, 10.0, 2.0), (10.0, 20.0, None), (20.0, 30.0, 4.0)], 5.0, 30.0)
    Integral(value=50.0, covered=15.0, gaps=0)
    """
    area = covered = 0.0
    for a, b, v in _clip(spells, start, end):
        x = _number(v)
        if x is not None:
            area += x * (b - a)
            covered += b - a
    return Integral(area, covered, 0)


# figures -----------------------------------------------------------------------------------
def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b is not None and b > 0 else None


def twin_figures(times: StatusTimes | None, *, total: float | None = None,
                 good: float | None = None, ideal: float | None = None,
                 energy: float | None = None, output_energy: float | None = None
                 ) -> tuple[dict[str, Any], list[str]]:
    """One twin's figures (the members of :data:`FIGURES`, None where unknown) and notes.

    ``times``: from :func:`status_times` (None: the twin has no status); ``total`` and
    ``good``: parts counted (``good`` None: no quality signal, quality 1); ``ideal``: parts
    at the ideal rate in the run time (None: not known); energies in kWh.

    >>> t = status_times([(0.0, 100.0, "running")], 0.0, 100.0)
    >>> f, notes = twin_figures(t, total=110.0, good=99.0, ideal=100.0)
    >>> f["performance"], f["performanceUncapped"], f["quality"], f["oee"]
    (1.0, 1.1, 0.9, 0.9)
    >>> notes
    ['performance 1.100 is over 1 (more parts than the ideal rate makes): capped at 1']
    """
    notes: list[str] = []
    f: dict[str, Any] = dict.fromkeys(FIGURES)
    if times is not None:
        f.update(observedTime=times.observed, plannedTime=times.planned,
                 plannedStopTime=times.planned_stop, runTime=times.run_time,
                 runningTime=times.running, downTime=times.down, failures=times.failures,
                 repairs=times.repairs, repairTime=times.repair_time,
                 availability=times.availability, mtbf=times.mtbf, mttr=times.mttr)
    if total is not None:
        f["total"] = total
        if good is not None:
            if good > total:
                notes.append(f"{good:g} good parts of {total:g} counted: taken as {total:g}")
            good = min(max(good, 0.0), total)
            f["good"], f["scrap"] = good, total - good
        f["quality"] = (1.0 if good is None else good / total) if total > 0 else None
        f["idealCount"] = ideal
    if times is not None and total is not None:
        run = times.run_time
        net: float | None = None
        if run <= 0:
            net = 0.0
        elif ideal is not None and ideal > 0:
            raw = total / ideal
            if raw > 1.0:
                f["performanceUncapped"] = raw
                notes.append(f"performance {raw:.3f} is over 1 (more parts than the ideal "
                             "rate makes): capped at 1")
            f["performance"] = min(raw, 1.0)
            net = f["performance"] * run
        if net is not None:
            f["netRunTime"] = net
            f["fullyProductiveTime"] = net * (f["quality"] if f["quality"] is not None else 0.0)
            f["oee"] = _ratio(f["fullyProductiveTime"], times.planned)
    f["energy"], f["outputEnergy"] = energy, output_energy
    if energy is not None and total:
        f["energyPerPart"] = energy / total
    if output_energy is not None:
        f["efficiency"] = _ratio(output_energy, energy)
    return f, notes


def _sum(rows: Sequence[Mapping[str, Any]], key: str) -> Any:
    values = [r[key] for r in rows if r.get(key) is not None]
    return sum(values) if values else None


def rollup(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The figures of a group from the figures of each of its twins (see the module docs).

    >>> a, _ = twin_figures(status_times([(0.0, 100.0, "running")], 0.0, 100.0),
    ...                     total=50.0, ideal=100.0)
    >>> b, _ = twin_figures(status_times([(0.0, 50.0, "running"), (50.0, 100.0, "fault")],
    ...                                  0.0, 100.0), total=50.0, ideal=50.0)
    >>> g = rollup([a, b])
    >>> g["availability"], g["performance"], g["oee"], g["mtbf"], g["twins"]
    (0.75, 0.6666666666666666, 0.5, 150.0, 2)
    """
    g: dict[str, Any] = dict.fromkeys(FIGURES)
    for key in ("observedTime", "plannedTime", "plannedStopTime", "runTime", "runningTime",
                "downTime", "failures", "repairs", "repairTime", "total", "good", "scrap",
                "idealCount", "energy", "outputEnergy"):
        g[key] = _sum(rows, key)
    g["availability"] = _ratio(g["runTime"], g["plannedTime"])
    g["mtbf"] = _ratio(g["runningTime"], g["failures"])
    g["mttr"] = _ratio(g["repairTime"], g["repairs"])
    rated = [r for r in rows if r.get("oee") is not None]
    if rated:
        net, fpt = _sum(rated, "netRunTime"), _sum(rated, "fullyProductiveTime")
        g["netRunTime"], g["fullyProductiveTime"] = net, fpt
        g["performance"] = _ratio(net, _sum(rated, "runTime"))
        g["quality"] = _ratio(fpt, net)
        g["oee"] = _ratio(fpt, _sum(rated, "plannedTime"))
    counted = [r for r in rows if r.get("energy") is not None and r.get("total")]
    if counted:
        g["energyPerPart"] = _ratio(_sum(counted, "energy"), _sum(counted, "total"))
    paired = [r for r in rows if r.get("energy") is not None
              and r.get("outputEnergy") is not None]
    if paired:
        g["efficiency"] = _ratio(_sum(paired, "outputEnergy"), _sum(paired, "energy"))
    g["twins"] = len(rows)
    return g


# configuration -----------------------------------------------------------------------------
_CONFIG_KEYS = ("properties", "runStates", "faultStates", "plannedStates", "idealCycleTime",
                "counters", "energy", "relationships")


def _members(raw: object, label: str, known: Sequence[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{label} must be a JSON object, got {raw!r}")
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise InvalidInputError(f"Unknown member {unknown[0]!r} of {label}; known: "
                                f"{', '.join(known)}")
    return raw


def _name(value: object, label: str, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        more = " or null" if optional else ""
        raise InvalidInputError(f"{label} must be a non-empty name{more}, got {value!r}")
    return value


def _names(value: object, label: str, non_empty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) \
            or (non_empty and not value):
        which = "a non-empty list" if non_empty else "a list"
        raise InvalidInputError(f"{label} must be {which} of non-empty strings, got {value!r}")
    return list(dict.fromkeys(value))


def _positive(value: object, label: str) -> float:
    x = _number(value)
    if x is None or x <= 0:
        raise InvalidInputError(f"{label} must be a positive number of seconds, got {value!r}")
    return x


def parse_kpi_config(raw: object) -> dict[str, Any]:
    """Check a model's KPI configuration; return it with every default filled in.

    Every member is optional; the defaults match the demo machine::

        {"properties": {"status": "status", "rate": "speed"},  # rate: parts per minute
         "runStates": ["running"], "faultStates": ["fault"], "plannedStates": [],
         "idealCycleTime": null,           # s per part, instead of properties.rate
         "counters": {"total": "partsProduced", "good": null, "reject": null},
         "energy": {"power": "power", "output": null, "unit": null, "maxGap": 300},
         "relationships": null}            # which relationships lead to children (null: all)

    Counters and power signals are telemetry, or reported properties where the model declares
    a property of that name; ``energy.unit`` is a DTDL power unit (null: the unit the model
    declares for the signal, else ``kilowatt``); ``maxGap`` in s.

    >>> c = parse_kpi_config({"faultStates": ["fault", "estop"], "counters": {"good": "ok"}})
    >>> c["faultStates"], c["counters"]
    (['fault', 'estop'], {'total': 'partsProduced', 'good': 'ok', 'reject': None})
    >>> parse_kpi_config({"runStates": ["running"], "faultStates": ["running"]})
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: State 'running' is in both runStates and faultStates
    """
    given = _members(raw if raw is not None else {}, "a KPI configuration", _CONFIG_KEYS)
    props = _members(given.get("properties"), "'properties'", ("status", "rate"))
    counters = _members(given.get("counters"), "'counters'", ("total", "good", "reject"))
    energy = _members(given.get("energy"), "'energy'", ("power", "output", "unit", "maxGap"))
    states = {key: _names(default if given.get(key) is None else given[key], f"'{key}'",
                          non_empty=key == "runStates")
              for key, default in (("runStates", list(RUN_STATES)),
                                   ("faultStates", list(FAULT_STATES)), ("plannedStates", []))}
    keys = list(states)
    for i, first in enumerate(keys):
        for second in keys[i + 1:]:
            both = [s for s in states[first] if s in states[second]]
            if both:
                raise InvalidInputError(f"State {both[0]!r} is in both {first} and {second}")
    cycle = given.get("idealCycleTime")
    config: dict[str, Any] = {
        "properties": {"status": _name(props.get("status", "status"), "properties.status"),
                       "rate": _name(props.get("rate", "speed"), "properties.rate")},
        **states,
        "idealCycleTime": None if cycle is None else _positive(cycle, "'idealCycleTime'"),
        "counters": {
            "total": _name(counters.get("total", "partsProduced"), "counters.total", True),
            "good": _name(counters.get("good"), "counters.good", True),
            "reject": _name(counters.get("reject"), "counters.reject", True)},
        "energy": {"power": _name(energy.get("power", "power"), "energy.power", True),
                   "output": _name(energy.get("output"), "energy.output", True),
                   "unit": _name(energy.get("unit"), "energy.unit", True),
                   "maxGap": _positive(energy.get("maxGap", 300.0), "energy.maxGap")},
        "relationships": None if given.get("relationships") is None
        else _names(given["relationships"], "'relationships'"),
    }
    c, e = config["counters"], config["energy"]
    if c["good"] is not None and c["reject"] is not None:
        raise InvalidInputError("Set counters.good or counters.reject, not both")
    if c["total"] is None and (c["good"] or c["reject"]):
        raise InvalidInputError("counters.good and counters.reject need counters.total")
    if e["unit"] is not None and e["unit"] not in POWER_UNITS:
        raise InvalidInputError(f"energy.unit {e['unit']!r} is not a power unit; use one of "
                                f"{', '.join(POWER_UNITS)}")
    if e["output"] is not None and e["power"] is None:
        raise InvalidInputError("energy.output needs energy.power (the input it is "
                                "compared with)")
    return config
