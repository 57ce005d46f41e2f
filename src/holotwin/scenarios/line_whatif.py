"""What-if scenarios of a production line built from its twins (pure core).

A *line scenario* simulates the line twin's machines as a serial line
(:mod:`holotwin.scenarios.line`): the service reads what the twins know about each station
(:class:`StationFacts`: cycle time from the machine's rate, MTBF and MTTR from its status
history, health from its behavior estimate), and this module turns those facts, the
scenario's defaults and its overrides into a :class:`LinePlan`, runs it, and reports KPIs.

The scenario document (``kind: "line"``; every member but ``line`` optional)::

    {"kind": "line", "name": "bottleneck maintenance now",
     "line": "line-1",                      # the line twin
     "stations": ["machine-1-1", ...],      # in flow order; default: the line's related twins
     "relationship": "hasMachine",          # which relationships of the line (default: all)
     "at": null,                            # facts as of this time (default: now)
     "horizon": 28800, "warmup": 0, "replications": 5, "seed": 1,
     "lookback": 28800,                     # s of status history before "at" for MTBF / MTTR
     "properties": {"rate": "speed", "status": "status"},  # rate: parts per minute
     "faultStates": ["fault"],
     "defaults": {"cycleTime": 60, "cycleCv": 0, "mtbf": null, "mttr": 0, "yield": 1,
                  "buffer": 10, "healthExponent": 1},     # mtbf null: never fails
     "overrides": {
       "stations": {"machine-1-3": {"speed": 0.8, "cycleTime": 1.2, "mtbf": 3600,
                                    "mttr": 60, "mtbfNew": 14400, "cycleCv": 0.2,
                                    "yield": 0.99}},
       "buffers": [10, 10, 5],              # one per gap between stations
       "lineSpeed": 1.0,
       "maintenance": [{"station": "machine-1-3", "start": 0, "duration": 1800,
                        "restore": true}],  # restore: as new (mtbfNew) afterwards
       "stops": [{"start": 28800, "duration": 3600}]}}    # the whole line planned down

Where a figure comes from, in order: the station's override; for the MTBF, the twin's health
estimate (``mtbf_from_health(mtbfNew, health, healthExponent)``, ``mtbfNew`` defaulting to
``defaults.mtbf``), then its status history (running time / faults), then ``defaults``; each
station's ``sources`` in the results says which one was used. Times are seconds from the
fork; rates in parts per hour.

Runs with the same ``seed`` and ``replications`` share their random numbers (common random
numbers), so :func:`compare_line_runs` gives paired 95 % intervals of the differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from holotwin.errors import InvalidInputError
from holotwin.scenarios.line import (
    Buffer,
    LineModel,
    Maintenance,
    Station,
    mtbf_from_health,
    simulate_line,
)
from holotwin.scenarios.line_kpi import Estimate, LineResult
from holotwin.scenarios.tasks import TaskMap

__all__ = [
    "LINE_KEYS",
    "LineEvaluation",
    "LinePlan",
    "StationFacts",
    "check_station_names",
    "compare_line_runs",
    "line_kpis",
    "parse_line_spec",
    "plan_line",
    "run_line_plan",
]

LINE_KEYS = {"kind", "name", "line", "stations", "relationship", "at", "horizon", "warmup",
             "replications", "seed", "lookback", "properties", "faultStates", "defaults",
             "overrides"}
_DEFAULTS: dict[str, float | None] = {"cycleTime": 60.0, "cycleCv": 0.0, "mtbf": None,
                                      "mttr": 0.0, "yield": 1.0, "buffer": 10.0,
                                      "healthExponent": 1.0}
_STATION_KEYS = {"speed", "cycleTime", "mtbf", "mttr", "mtbfNew", "cycleCv", "yield"}
_OVERRIDE_KEYS = {"stations", "buffers", "lineSpeed", "maintenance", "stops"}
#: the line KPIs a run reports, with the per-replication figure they come from
KPI_FIGURES = ("throughput", "good", "scrap", "availability", "performance", "quality", "oee")


def _number(value: object, where: str, *, minimum: float = 0.0, strict: bool = False,
            infinite: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value) \
            or (math.isinf(value) and not infinite):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}")
    if value < minimum or (strict and value <= minimum):
        raise InvalidInputError(f"{where} must be {'>' if strict else '>='} {minimum:g}, got "
                                f"{value!r}")
    return float(value)


def _object(raw: object, where: str, keys: set[str]) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be an object")
    unknown = set(raw) - keys
    if unknown:
        raise InvalidInputError(f"{where}: unknown member {sorted(unknown)[0]!r} (known: "
                                f"{', '.join(sorted(keys))})")
    return raw


def _station_override(raw: object, where: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in _object(raw, where, _STATION_KEYS).items():
        if key == "yield":
            number = _number(value, f"{where}.yield", strict=True)
            if number > 1.0:
                raise InvalidInputError(f"{where}.yield must be in (0, 1], got {value!r}")
        elif key in ("cycleCv", "mttr"):
            number = _number(value, f"{where}.{key}")
        else:
            number = _number(value, f"{where}.{key}", strict=True,
                             infinite=key in ("mtbf", "mtbfNew"))
        out[key] = number
    return out


def _windows(raw: object, where: str, *, station: bool) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidInputError(f"{where} must be a list")
    keys = {"station", "start", "duration", "restore", "mtbfAfter"} if station \
        else {"start", "duration"}
    out = []
    for k, item in enumerate(raw):
        here = f"{where}[{k}]"
        entry = _object(item, here, keys)
        window: dict[str, Any] = {
            "start": _number(entry.get("start"), f"{here}.start"),
            "duration": _number(entry.get("duration"), f"{here}.duration", strict=True)}
        if station:
            name = entry.get("station")
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"{here}.station must name a station (a twin id)")
            restore = entry.get("restore", False)
            if not isinstance(restore, bool):
                raise InvalidInputError(f"{here}.restore must be true or false")
            window.update(station=name, restore=restore)
            if entry.get("mtbfAfter") is not None:
                window["mtbfAfter"] = _number(entry["mtbfAfter"], f"{here}.mtbfAfter",
                                              strict=True, infinite=True)
        out.append(window)
    return out


def parse_line_spec(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Check a line scenario document (see the module docs); return it normalized, with
    every default filled in. ``at`` must already be epoch seconds or None."""
    unknown = set(raw) - LINE_KEYS
    if unknown:
        raise InvalidInputError(f"Unknown member {sorted(unknown)[0]!r} of a line scenario; "
                                f"known: {', '.join(sorted(LINE_KEYS))}")
    line = raw.get("line")
    if not isinstance(line, str) or not line:
        raise InvalidInputError("A line scenario needs 'line': the id of the line twin")
    stations = raw.get("stations")
    if stations is not None and (not isinstance(stations, list) or not stations or not all(
            isinstance(s, str) and s for s in stations) or len(set(stations)) != len(stations)):
        raise InvalidInputError("'stations' must be a non-empty list of distinct twin ids, in "
                                "flow order")
    relationship = raw.get("relationship")
    if relationship is not None and (not isinstance(relationship, str) or not relationship):
        raise InvalidInputError("'relationship' must name a relationship of the line twin")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise InvalidInputError("'name' must be a string")
    horizon = _number(raw.get("horizon", 28_800.0), "'horizon'", strict=True)
    warmup = _number(raw.get("warmup", 0.0), "'warmup'")
    if warmup >= horizon:
        raise InvalidInputError(f"'warmup' ({warmup:g} s) must be less than 'horizon' "
                                f"({horizon:g} s)")
    if horizon > 366 * 86_400.0:
        raise InvalidInputError("'horizon' is over a year of simulated time")
    replications = raw.get("replications", 5)
    if isinstance(replications, bool) or not isinstance(replications, int) \
            or not 1 <= replications <= 1000:
        raise InvalidInputError("'replications' must be an integer from 1 to 1,000")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InvalidInputError("'seed' must be an integer >= 0 or null")
    properties = _object(raw.get("properties"), "'properties'", {"rate", "status"})
    if not all(isinstance(v, str) and v for v in properties.values()):
        raise InvalidInputError("'properties' must map rate and status to property names")
    faults = raw.get("faultStates", ["fault"])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise InvalidInputError("'faultStates' must be a list of status values")
    given = _object(raw.get("defaults"), "'defaults'", set(_DEFAULTS))
    defaults: dict[str, float | None] = dict(_DEFAULTS)
    for key, value in given.items():
        if key == "mtbf" and value is None:
            defaults[key] = None
            continue
        defaults[key] = _number(value, f"defaults.{key}",
                                strict=key in ("cycleTime", "mtbf", "yield", "healthExponent"),
                                infinite=key == "mtbf")
    if defaults["yield"] is not None and defaults["yield"] > 1.0:
        raise InvalidInputError("defaults.yield must be in (0, 1]")
    if defaults["buffer"] is not None and defaults["buffer"] != int(defaults["buffer"]):
        raise InvalidInputError("defaults.buffer must be a whole number of parts")
    overrides = _object(raw.get("overrides"), "'overrides'", _OVERRIDE_KEYS)
    stations_over = overrides.get("stations") or {}
    if not isinstance(stations_over, dict):
        raise InvalidInputError("overrides.stations must be an object of station: changes")
    buffers = overrides.get("buffers")
    if buffers is not None and (not isinstance(buffers, list) or not all(
            not isinstance(b, bool) and isinstance(b, int) and b >= 0 for b in buffers)):
        raise InvalidInputError("overrides.buffers must be a list of whole numbers >= 0, one "
                                "per gap between stations")
    normalized_overrides = {
        "stations": {str(k): _station_override(v, f"overrides.stations.{k}")
                     for k, v in stations_over.items()},
        "buffers": buffers,
        "lineSpeed": _number(overrides.get("lineSpeed", 1.0), "overrides.lineSpeed",
                             strict=True),
        "maintenance": _windows(overrides.get("maintenance"), "overrides.maintenance",
                                station=True),
        "stops": _windows(overrides.get("stops"), "overrides.stops", station=False),
    }
    return {"kind": "line", "name": name, "line": line, "stations": stations,
            "relationship": relationship, "at": raw.get("at"), "horizon": horizon,
            "warmup": warmup, "replications": replications, "seed": seed,
            "lookback": _number(raw.get("lookback", 28_800.0), "'lookback'"),
            "properties": {"rate": properties.get("rate", "speed"),
                           "status": properties.get("status", "status")},
            "faultStates": list(faults), "defaults": defaults,
            "overrides": normalized_overrides}


def check_station_names(spec: Mapping[str, Any], names: Sequence[str]) -> None:
    """Refuse overrides and maintenance of stations the line does not have."""
    overrides = spec["overrides"]
    unknown = [s for s in overrides["stations"] if s not in names]
    unknown += [m["station"] for m in overrides["maintenance"] if m["station"] not in names]
    if unknown:
        raise InvalidInputError(f"Line '{spec['line']}' has no station {unknown[0]!r} "
                                f"(stations: {', '.join(names)})")
    buffers = overrides["buffers"]
    if buffers is not None and len(buffers) != len(names) - 1:
        raise InvalidInputError(f"overrides.buffers: a line of {len(names)} stations has "
                                f"{len(names) - 1} buffer(s), got {len(buffers)}")


@dataclass(frozen=True)
class StationFacts:
    """What a station's twin says, each figure None when it says nothing: ``cycle_time``
    (s per part, from its rate), ``mtbf`` and ``mttr`` (s, from its status history) and
    ``health`` (in (0, 1], from its behavior estimate); ``sources`` describes each one."""

    name: str
    cycle_time: float | None = None
    mtbf: float | None = None
    mttr: float | None = None
    health: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LinePlan:
    """A line scenario ready to simulate: the model, maintenance windows (station ones and
    line stops), line speed, run settings, and per station the figures used and their
    sources."""

    model: LineModel
    maintenance: tuple[Maintenance, ...]
    line_speed: float
    horizon: float
    warmup: float
    replications: int
    seed: int
    stations: tuple[dict[str, Any], ...]


def plan_line(spec: Mapping[str, Any], facts: Sequence[StationFacts], seed: int) -> LinePlan:
    """The :class:`LinePlan` of a parsed line scenario (:func:`parse_line_spec`) on these
    stations' facts (in flow order); ``seed`` is used when the scenario has none."""
    if not facts:
        raise InvalidInputError(f"Line '{spec['line']}' has no stations to simulate")
    names = [f.name for f in facts]
    check_station_names(spec, names)
    defaults, overrides = spec["defaults"], spec["overrides"]
    stations, info, as_new = [], [], {}
    for fact in facts:
        change = overrides["stations"].get(fact.name, {})
        sources = dict(fact.sources)
        mtbf_new = change.get("mtbfNew", defaults["mtbf"])
        as_new[fact.name] = math.inf if mtbf_new is None else mtbf_new
        cycle, sources["cycleTime"] = _pick(change.get("cycleTime"), fact.cycle_time,
                                            defaults["cycleTime"], sources.get("cycleTime"))
        if change.get("mtbf") is not None:
            mtbf, sources["mtbf"] = change["mtbf"], "override"
        elif fact.health is not None:
            mtbf = mtbf_from_health(as_new[fact.name], fact.health,
                                    exponent=float(defaults["healthExponent"] or 1.0))
            sources["mtbf"] = (f"health {fact.health:.3g} x MTBF as new "
                               f"{as_new[fact.name]:g} s")
        elif fact.mtbf is not None:
            mtbf, sources["mtbf"] = fact.mtbf, sources.get("mtbf", "history")
        else:
            mtbf = math.inf if defaults["mtbf"] is None else defaults["mtbf"]
            sources["mtbf"] = "defaults"
        mttr, sources["mttr"] = _pick(change.get("mttr"), fact.mttr, defaults["mttr"],
                                      sources.get("mttr"))
        station = Station(fact.name, cycle_time=cycle,
                          cycle_cv=change.get("cycleCv", defaults["cycleCv"]),
                          mtbf=mtbf, mttr=mttr, yield_=change.get("yield", defaults["yield"]),
                          speed=change.get("speed", 1.0))
        stations.append(station)
        info.append({"name": fact.name, "cycleTime": cycle, "speed": station.speed,
                     "mtbf": _finite(mtbf), "mttr": mttr, "health": fact.health,
                     "cycleCv": station.cycle_cv, "yield": station.yield_,
                     "sources": sources})
    capacities = overrides["buffers"]
    if capacities is None:
        capacities = [int(defaults["buffer"] or 0)] * (len(stations) - 1)
    windows = [Maintenance(m["station"], m["start"], m["duration"],
                           m.get("mtbfAfter", as_new[m["station"]] if m["restore"] else None))
               for m in overrides["maintenance"]]
    windows += [Maintenance(name, stop["start"], stop["duration"])
                for stop in overrides["stops"] for name in names]
    return LinePlan(LineModel(stations, [Buffer(c) for c in capacities]), tuple(windows),
                    overrides["lineSpeed"], spec["horizon"], spec["warmup"],
                    spec["replications"], spec["seed"] if spec["seed"] is not None else seed,
                    tuple(info))


def _pick(override: float | None, fact: float | None, default: float | None,
          fact_source: str | None) -> tuple[float, str]:
    if override is not None:
        return override, "override"
    if fact is not None:
        return fact, fact_source or "twin"
    return float(default or 0.0), "defaults"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _estimate(e: Estimate) -> dict[str, float | None]:
    return {"mean": _finite(e.mean), "low": _finite(e.low), "high": _finite(e.high)}


def run_line_plan(plan: LinePlan, *, map: TaskMap | None = None,
                  progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Simulate a plan; the results as JSON: settings, per station its figures (with their
    sources) and simulated shares, buffers, and per replication the line's KPIs."""
    result = simulate_line(plan.model, plan.horizon, seed=plan.seed, warmup_s=plan.warmup,
                           replications=plan.replications, speed=plan.line_speed,
                           maintenance=plan.maintenance, progress=progress, map=map)
    return line_result_json(plan, result)


def line_result_json(plan: LinePlan, result: LineResult) -> dict[str, Any]:
    stations = []
    for info in plan.stations:
        summary = result.stations[info["name"]]
        stations.append({**info, "results": {
            "busy": _estimate(summary.busy), "blocked": _estimate(summary.blocked),
            "starved": _estimate(summary.starved), "down": _estimate(summary.down),
            "idle": _estimate(summary.idle), "good": _estimate(summary.good),
            "failures": _estimate(summary.failures), "oee": _estimate(summary.oee),
            "bottleneckSole": _estimate(summary.bottleneck_sole),
            "bottleneckShifting": _estimate(summary.bottleneck_shifting)}})
    return {
        "kind": "line", "horizon": plan.horizon, "warmup": plan.warmup,
        "replications": plan.replications, "seed": plan.seed, "lineSpeed": plan.line_speed,
        "stations": stations,
        "buffers": [{"capacity": b.capacity, "meanLevel": _estimate(b.mean_level)}
                    for b in result.buffers],
        "maintenance": [{"station": m.station, "start": m.start, "duration": m.duration,
                         "mtbfAfter": None if m.mtbf_after is None else _finite(m.mtbf_after)}
                        for m in plan.maintenance],
        "bottleneck": result.bottleneck,
        "runs": {k: [float(getattr(r, k)) for r in result.runs] for k in KPI_FIGURES},
    }


def line_kpis(results: Mapping[str, Any]) -> dict[str, Any]:
    """The KPIs of a line run: each figure's mean and 95 % interval across replications
    (throughput in good parts per hour over the observed span), and the bottleneck."""
    kpis: dict[str, Any] = {k: _estimate(Estimate.of(results["runs"][k])) for k in KPI_FIGURES}
    kpis["bottleneck"] = results["bottleneck"]
    return kpis


def compare_line_runs(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Line runs side by side, the first the baseline: each KPI with its difference to the
    baseline; when both runs have the same seed and replications (common random numbers) the
    difference is paired, with a 95 % interval."""
    if not runs:
        raise InvalidInputError("Nothing to compare")
    base_name, base = runs[0]
    table = []
    for name, run in runs:
        paired = (run["results"]["seed"] == base["results"]["seed"]
                  and run["results"]["replications"] == base["results"]["replications"])
        row: dict[str, Any] = {"scenario": name, "kpis": run["kpis"], "paired": paired,
                               "vsBaseline": {}}
        for figure in KPI_FIGURES:
            ours, theirs = run["results"]["runs"][figure], base["results"]["runs"][figure]
            if paired:
                delta = _estimate(Estimate.of([a - b for a, b in zip(ours, theirs,
                                                                      strict=True)]))
            else:
                delta = {"mean": sum(ours) / len(ours) - sum(theirs) / len(theirs),
                         "low": None, "high": None}
            row["vsBaseline"][figure] = delta
        table.append(row)
    return {"baseline": base_name, "kind": "line", "scenarios": table}


@dataclass(frozen=True)
class LineEvaluation:
    """Runs a parsed line scenario on facts gathered once (a value that can go to another
    process): ``evaluate(spec)`` gives ``{"results": ..., "kpis": ...}``. ``seed`` is used
    for a scenario without one. ``map`` (not sent along) runs the replications."""

    facts: tuple[StationFacts, ...]
    seed: int = 0
    map: TaskMap | None = field(default=None, compare=False)

    def __call__(self, spec: Mapping[str, Any],
                 progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        plan = plan_line(spec, self.facts, seed=self.seed)
        results = run_line_plan(plan, map=self.map, progress=progress)
        return {"results": results, "kpis": line_kpis(results)}

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return LineEvaluation, (self.facts, self.seed)  # a map stays where it was made
