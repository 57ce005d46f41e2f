"""Search over a scenario's overrides for the best outcome under constraints (pure core).

An optimization changes a few members of a scenario document (*knobs*, named by JSON
pointers, RFC 6901), evaluates each candidate document, and ranks them by one KPI (the
*objective*, a JSON pointer into the run's KPIs) among those that meet the *constraints*::

    {"knobs": [{"path": "/overrides/maintenance/0/start",
                "values": [0, 7200, 14400, 21600]},                  # a list of choices
               {"path": "/overrides/buffers/1", "low": 2, "high": 20,
                "integer": true}],                                   # or a range
     "objective": {"kpi": "/good/mean", "goal": "max"},
     "constraints": [{"kpi": "/oee/mean", "min": 0.6}],
     "method": "auto", "budget": 60, "top": 3, "seed": 1}

Methods: ``"grid"`` tries every combination (a continuous range in ``steps`` points, 5 by
default); ``"random"`` tries ``budget`` points of a Latin hypercube
(:class:`scipy.stats.qmc.LatinHypercube`); ``"differential-evolution"`` runs
:func:`scipy.optimize.differential_evolution` (discrete knobs as integer indices) for about
``budget`` evaluations, a generation at a time; ``"auto"`` is the grid when it has at most
``budget`` points, else differential evolution. A candidate that breaks a constraint ranks
after every one that keeps them all. Each distinct candidate is evaluated once.

Evaluation goes through a ``map`` (:mod:`holotwin.scenarios.tasks`), so candidates can run in
several processes or on Ray: ``evaluate`` and the documents must then be picklable. Give the
scenario a fixed ``seed``: every candidate then sees the same random numbers (common random
numbers), so they differ by the change, not by noise.

>>> def evaluate(doc):  # a made-up scenario: output peaks at a buffer of 7
...     return {"kpis": {"good": 100 - (doc["buffer"] - 7) ** 2}}
>>> search = parse_search({"knobs": [{"path": "/buffer", "low": 0, "high": 12,
...                                   "integer": True}],
...                        "objective": {"kpi": "/good", "goal": "max"}, "top": 2})
>>> result = optimize(evaluate, {"buffer": 3}, search)
>>> [(c.assignment, c.objective) for c in result.best], result.method, result.evaluated
([({'/buffer': 7}, 100.0), ({'/buffer': 6}, 99.0)], 'grid', 13)
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import differential_evolution
from scipy.stats import qmc

from holotwin.errors import InvalidInputError
from holotwin.scenarios.tasks import TaskMap, run_here

__all__ = [
    "METHODS",
    "Candidate",
    "Constraint",
    "Knob",
    "Objective",
    "OptimizationResult",
    "Search",
    "get_pointer",
    "optimize",
    "parse_search",
    "set_pointer",
]

METHODS = ("auto", "grid", "random", "differential-evolution")
_SEARCH_KEYS = {"knobs", "objective", "constraints", "method", "budget", "top", "seed"}
_MAX_BUDGET = 10_000
_INFEASIBLE = 1e15  # differential evolution minimizes: a broken constraint costs this more


# JSON pointers -------------------------------------------------------------------------------
def _tokens(pointer: str) -> list[str]:
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        raise InvalidInputError(f"{pointer!r} is not a JSON pointer (e.g. \"/overrides/"
                                "buffers/0\")")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str) -> int:
    if not token.isdigit() or int(token) >= len(container):
        raise InvalidInputError(f"{pointer}: {token!r} is not an index of a list of "
                                f"{len(container)}")
    return int(token)


def get_pointer(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` in ``document``; :class:`InvalidInputError` if there is none.

    >>> get_pointer({"a": [{"b": 1}]}, "/a/0/b")
    1
    """
    value = document
    for token in _tokens(pointer):
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list):
            value = value[_index(value, token, pointer)]
        else:
            raise InvalidInputError(f"{pointer}: there is no {token!r} here")
    return value


def set_pointer(document: Any, pointer: str, value: Any) -> Any:
    """A copy of ``document`` with ``value`` at ``pointer``; missing objects on the way are
    created, list items must exist.

    >>> set_pointer({"overrides": {}}, "/overrides/stations/m1/speed", 0.5)
    {'overrides': {'stations': {'m1': {'speed': 0.5}}}}
    """
    result = copy.deepcopy(document)
    tokens = _tokens(pointer)
    here = result
    for depth, token in enumerate(tokens):
        last = depth == len(tokens) - 1
        if isinstance(here, list):
            k = _index(here, token, pointer)
            if last:
                here[k] = value
            else:
                here = here[k]
        elif isinstance(here, dict):
            if last:
                here[token] = value
            else:
                if here.get(token) is None:
                    here[token] = {}
                here = here[token]
        else:
            raise InvalidInputError(f"{pointer}: {token!r} is inside a "
                                    f"{type(here).__name__}, not an object or a list")
    return result


# the search ----------------------------------------------------------------------------------
def _finite(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Knob:
    """One member the search changes: a list of ``values``, or a range ``low``..``high``
    (whole numbers if ``integer``; ``steps`` points on a grid)."""

    path: str
    values: tuple[Any, ...] | None = None
    low: float = 0.0
    high: float = 0.0
    integer: bool = False
    steps: int = 5

    @classmethod
    def parse(cls, raw: object, where: str) -> Knob:
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{where} must be an object")
        unknown = set(raw) - {"path", "values", "low", "high", "integer", "steps"}
        if unknown:
            raise InvalidInputError(f"{where}: unknown member {sorted(unknown)[0]!r} (known: "
                                    "path, values, low, high, integer, steps)")
        path = raw.get("path")
        _tokens(path)  # type: ignore[arg-type]
        if "values" in raw:
            values = raw["values"]
            if not isinstance(values, list) or not values:
                raise InvalidInputError(f"{where}.values must be a non-empty list")
            if set(raw) & {"low", "high", "integer", "steps"}:
                raise InvalidInputError(f"{where}: give either values or low and high")
            return cls(str(path), values=tuple(values))
        low = _finite(raw.get("low"), f"{where}.low")
        high = _finite(raw.get("high"), f"{where}.high")
        if high < low:
            raise InvalidInputError(f"{where}: high ({high:g}) is below low ({low:g})")
        integer = raw.get("integer", False)
        if not isinstance(integer, bool):
            raise InvalidInputError(f"{where}.integer must be true or false")
        if integer and (low != int(low) or high != int(high)):
            raise InvalidInputError(f"{where}: an integer knob needs whole low and high")
        steps = raw.get("steps", 5)
        if isinstance(steps, bool) or not isinstance(steps, int) or not 2 <= steps <= 1000:
            raise InvalidInputError(f"{where}.steps must be an integer from 2 to 1,000")
        return cls(str(path), None, low, high, integer, steps)

    def grid(self) -> list[Any]:
        """The values a grid search tries."""
        if self.values is not None:
            return list(self.values)
        if self.integer:
            return list(range(int(self.low), int(self.high) + 1))
        return [float(v) for v in np.linspace(self.low, self.high, self.steps)]

    def extremes(self) -> list[Any]:
        """The values that show whether every value of the knob makes a valid scenario."""
        if self.values is not None:
            return list(self.values)
        return [self.value(0.0), self.value(1.0)]

    @property
    def bounds(self) -> tuple[float, float]:
        """The knob as a number line (a list: its indices)."""
        if self.values is not None:
            return 0.0, float(len(self.values) - 1)
        return self.low, self.high

    @property
    def discrete(self) -> bool:
        return self.values is not None or self.integer

    def value(self, u: float) -> Any:
        """The knob's value at ``u`` in [0, 1] of its number line."""
        low, high = self.bounds
        x = low + min(max(u, 0.0), 1.0) * (high - low)
        return self.at(x)

    def at(self, x: float) -> Any:
        """The knob's value at ``x`` on its number line (rounded for discrete knobs)."""
        low, high = self.bounds
        x = min(max(float(x), low), high)
        if self.values is not None:
            return self.values[round(x)]
        return round(x) if self.integer else x


@dataclass(frozen=True)
class Objective:
    """The KPI (a JSON pointer into the KPIs of a run) to make as large (``"max"``) or as
    small (``"min"``) as possible."""

    kpi: str
    goal: str = "max"


@dataclass(frozen=True)
class Constraint:
    """A KPI that must stay within ``minimum``..``maximum`` (either may be None)."""

    kpi: str
    minimum: float | None = None
    maximum: float | None = None

    def violation(self, value: float | None) -> float:
        """How far ``value`` is outside the bounds (0 inside; ``inf`` when it is missing)."""
        if value is None:
            return math.inf
        below = (self.minimum - value) if self.minimum is not None else 0.0
        above = (value - self.maximum) if self.maximum is not None else 0.0
        return max(below, above, 0.0)


@dataclass(frozen=True)
class Search:
    """A parsed search: knobs, objective, constraints, method, budget (the most candidates
    evaluated), top (how many best ones are kept) and seed (of the search itself)."""

    knobs: tuple[Knob, ...]
    objective: Objective
    constraints: tuple[Constraint, ...] = ()
    method: str = "auto"
    budget: int = 100
    top: int = 3
    seed: int | None = None

    def grid_size(self) -> int:
        return math.prod(len(k.grid()) for k in self.knobs)


def parse_search(raw: object) -> Search:
    """Check a search document (see the module docs)."""
    if not isinstance(raw, dict):
        raise InvalidInputError("A search must be a JSON object")
    unknown = set(raw) - _SEARCH_KEYS
    if unknown:
        raise InvalidInputError(f"Unknown member {sorted(unknown)[0]!r} of the search; known: "
                                f"{', '.join(sorted(_SEARCH_KEYS))}")
    knobs_raw = raw.get("knobs")
    if not isinstance(knobs_raw, list) or not knobs_raw:
        raise InvalidInputError("'knobs' must be a non-empty list of {\"path\": POINTER, "
                                "\"values\": [...]} or {\"path\", \"low\", \"high\"}")
    knobs = tuple(Knob.parse(k, f"knobs[{i}]") for i, k in enumerate(knobs_raw))
    paths = [k.path for k in knobs]
    if len(set(paths)) != len(paths):
        raise InvalidInputError("Two knobs change the same member")
    objective_raw = raw.get("objective")
    if not isinstance(objective_raw, dict) or set(objective_raw) - {"kpi", "goal"}:
        raise InvalidInputError("'objective' must be {\"kpi\": POINTER, \"goal\": \"max\" or "
                                "\"min\"}")
    goal = objective_raw.get("goal", "max")
    if goal not in ("max", "min"):
        raise InvalidInputError(f"objective.goal must be 'max' or 'min', got {goal!r}")
    kpi = objective_raw.get("kpi")
    _tokens(kpi)  # type: ignore[arg-type]
    constraints = []
    for i, c in enumerate(raw.get("constraints") or []):
        where = f"constraints[{i}]"
        if not isinstance(c, dict) or set(c) - {"kpi", "min", "max"} or "kpi" not in c:
            raise InvalidInputError(f"{where} must be {{\"kpi\": POINTER, \"min\": ..., "
                                    "\"max\": ...}")
        _tokens(c["kpi"])
        low = None if c.get("min") is None else _finite(c["min"], f"{where}.min")
        high = None if c.get("max") is None else _finite(c["max"], f"{where}.max")
        if low is None and high is None:
            raise InvalidInputError(f"{where} needs min or max")
        constraints.append(Constraint(c["kpi"], low, high))
    method = raw.get("method", "auto")
    if method not in METHODS:
        raise InvalidInputError(f"'method' must be one of {', '.join(METHODS)}, got "
                                f"{method!r}")
    budget, top, seed = raw.get("budget", 100), raw.get("top", 3), raw.get("seed")
    for name, value, low, high in (("budget", budget, 1, _MAX_BUDGET), ("top", top, 1, 100)):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise InvalidInputError(f"'{name}' must be an integer from {low} to {high:,}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise InvalidInputError("'seed' must be an integer >= 0 or null")
    search = Search(knobs, Objective(str(kpi), goal), tuple(constraints), method, budget, top,
                    seed)
    if method == "grid" and search.grid_size() > budget:
        raise InvalidInputError(f"The grid has {search.grid_size():,} points, over the budget "
                                f"of {budget:,}; raise 'budget' or use method 'random' or "
                                "'differential-evolution'")
    return search


# evaluation ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One evaluated candidate: the knob values, its KPIs, the objective's value (None when
    the KPI is missing), and each constraint's violation (all 0: ``feasible``)."""

    assignment: Mapping[str, Any]
    kpis: Mapping[str, Any]
    objective: float | None
    violations: tuple[float, ...] = ()
    outcome: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def feasible(self) -> bool:
        return all(v == 0.0 for v in self.violations) and self.objective is not None

    def to_json(self) -> dict[str, Any]:
        return {"assignment": dict(self.assignment), "objective": self.objective,
                "feasible": self.feasible, "violations": [v if math.isfinite(v) else None
                                                          for v in self.violations],
                "kpis": self.kpis}


@dataclass(frozen=True)
class OptimizationResult:
    """The ``baseline`` (the scenario as given), the ``best`` candidates (up to ``top``, best
    first), every candidate evaluated (``candidates``, in the order tried) and the method."""

    method: str
    baseline: Candidate
    best: tuple[Candidate, ...]
    candidates: tuple[Candidate, ...]

    @property
    def evaluated(self) -> int:
        return len(self.candidates)

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "evaluated": self.evaluated,
                "baseline": self.baseline.to_json(),
                "best": [c.to_json() for c in self.best],
                "candidates": [{"assignment": dict(c.assignment), "objective": c.objective,
                                "feasible": c.feasible} for c in self.candidates]}


def _number_at(kpis: Mapping[str, Any], pointer: str) -> float | None:
    try:
        value = get_pointer(kpis, pointer)
    except InvalidInputError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _rank(search: Search, candidate: Candidate) -> tuple[int, float, float]:
    """Sort key: feasible first, then by the objective (best first), then by violation."""
    value = candidate.objective
    score = -math.inf if value is None else (value if search.objective.goal == "max"
                                             else -value)
    return (0 if candidate.feasible else 1, -score, sum(candidate.violations))


class _Evaluations:
    """Candidates evaluated so far, each distinct assignment once, through ``map``."""

    def __init__(self, evaluate: Callable[[dict[str, Any]], Mapping[str, Any]],
                 base: Mapping[str, Any], search: Search, prepare: Callable[[Any], Any],
                 map: TaskMap, progress: Callable[[float], None] | None, total: int) -> None:
        self.evaluate, self.base, self.search = evaluate, base, search
        self.prepare, self.map, self.progress = prepare, map, progress
        self.total, self.done = max(total, 1), 0
        self.seen: dict[str, Candidate] = {}
        self.order: list[Candidate] = []

    def document(self, assignment: Mapping[str, Any]) -> Any:
        doc: Any = self.base
        for path, value in assignment.items():
            doc = set_pointer(doc, path, value)
        return self.prepare(doc)

    def candidate(self, assignment: Mapping[str, Any], outcome: Mapping[str, Any]
                  ) -> Candidate:
        kpis = outcome.get("kpis", {})
        return Candidate(dict(assignment), kpis,
                         _number_at(kpis, self.search.objective.kpi),
                         tuple(c.violation(_number_at(kpis, c.kpi))
                               for c in self.search.constraints), outcome)

    def run(self, assignments: Sequence[Mapping[str, Any]], *, record: bool = True
            ) -> list[Candidate]:
        """Evaluate the assignments not seen yet (in one map); all of them, in order."""
        keys = [_key(a) for a in assignments]
        fresh = {k: a for k, a in zip(keys, assignments, strict=True) if k not in self.seen}
        docs = [self.document(a) for a in fresh.values()]
        start = self.done

        def step(fraction: float) -> None:
            if self.progress is not None:
                self.progress(min(1.0, (start + fraction * len(docs)) / self.total))

        outcomes = self.map(self.evaluate, docs, progress=step) if docs else []
        self.done += len(docs)
        for key, assignment, outcome in zip(fresh, fresh.values(), outcomes, strict=True):
            made = self.candidate(assignment, outcome)
            self.seen[key] = made
            if record:
                self.order.append(made)
        return [self.seen[k] for k in keys]


def optimize(
    evaluate: Callable[[dict[str, Any]], Mapping[str, Any]],
    base: Mapping[str, Any],
    search: Search,
    *,
    map: TaskMap = run_here,
    prepare: Callable[[Any], Any] | None = None,
    progress: Callable[[float], None] | None = None,
) -> OptimizationResult:
    """Search ``base`` (a scenario document) as ``search`` says (see the module docs).

    ``evaluate(document)`` runs one candidate document and returns at least ``{"kpis":
    {...}}``; ``prepare`` (optional) checks and normalizes each candidate document before it
    is evaluated (a bad one raises there, before any run); ``progress`` gets the fraction of
    the planned evaluations done."""
    check = prepare or (lambda doc: doc)
    for knob in search.knobs:  # every value of every knob must make a valid scenario
        for value in knob.extremes():
            check(set_pointer(base, knob.path, value))
    method = search.method
    if method == "auto":
        method = "grid" if search.grid_size() <= search.budget else "differential-evolution"
    planned = 1 + (search.grid_size() if method == "grid" else search.budget)
    runs = _Evaluations(evaluate, base, search, check, map, progress, planned)
    (baseline,) = runs.run([{}], record=False)
    if baseline.objective is None:
        found = ", ".join(sorted(baseline.kpis)) or "none"
        raise InvalidInputError(f"objective.kpi {search.objective.kpi} is not a number in the "
                                f"KPIs of this scenario (its KPIs: {found})")
    if method == "grid":
        runs.run([dict(zip([k.path for k in search.knobs], values, strict=True))
                  for values in itertools.product(*(k.grid() for k in search.knobs))])
    elif method == "random":
        sampler = qmc.LatinHypercube(d=len(search.knobs), seed=search.seed)
        points = sampler.random(search.budget)
        runs.run([{k.path: k.value(u) for k, u in zip(search.knobs, row, strict=True)}
                  for row in points])
    else:
        _evolve(runs, search)
    ranked = sorted(runs.order, key=lambda c: _rank(search, c))
    if progress is not None:
        progress(1.0)
    return OptimizationResult(method, baseline, tuple(ranked[:search.top]), tuple(runs.order))


def _evolve(runs: _Evaluations, search: Search) -> None:
    """Differential evolution over the knobs' number lines, a generation per map."""
    knobs = search.knobs
    dims = len(knobs)
    population = max(6, min(search.budget // 8, 5 * dims))  # individuals per generation
    popsize = max(1, math.ceil(population / dims))
    generations = max(0, search.budget // (popsize * dims) - 1)
    goal = 1.0 if search.objective.goal == "min" else -1.0

    def energy(candidate: Candidate) -> float:
        if candidate.objective is None:
            return _INFEASIBLE * 2
        value = goal * candidate.objective
        broken = sum(v if math.isfinite(v) else 1e6 for v in candidate.violations)
        return value + (_INFEASIBLE * (1.0 + broken) if broken > 0 else 0.0)

    def generation(_: Callable[[Any], float], xs: Any) -> list[float]:
        # SciPy hands a whole generation to ``workers``; its function is not needed: each
        # candidate is evaluated through ``runs`` (in one map), which keeps their KPIs
        rows = [np.asarray(x, dtype=np.float64) for x in xs]
        if runs.done >= search.budget + 1:  # over the budget: answer from what is known
            return [energy(runs.seen[key]) if (key := _key(_assignment(knobs, row)))
                    in runs.seen else _INFEASIBLE * 2 for row in rows]
        evaluated = runs.run([_assignment(knobs, row) for row in rows])
        return [energy(c) for c in evaluated]

    differential_evolution(
        _unused, [k.bounds if k.bounds[1] > k.bounds[0] else (k.bounds[0], k.bounds[0] + 1e-9)
                  for k in knobs],
        integrality=[k.discrete for k in knobs], popsize=popsize, maxiter=generations,
        seed=search.seed, workers=generation, updating="deferred", polish=False,
        init="latinhypercube", tol=0.0, atol=0.0)


def _assignment(knobs: Sequence[Knob], row: Any) -> dict[str, Any]:
    """The knob values at a point of their number lines."""
    return {k.path: k.at(v) for k, v in zip(knobs, row, strict=True)}


def _key(assignment: Mapping[str, Any]) -> str:
    """What tells one candidate from another (each is evaluated once)."""
    return repr(sorted(assignment.items()))


def _unused(x: Any) -> float:  # pragma: no cover - SciPy needs a function; see _evolve
    raise AssertionError("evaluated through workers")
