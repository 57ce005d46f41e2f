"""Optimizations over scenarios (mixed into :class:`~holotwin.service.TwinService`).

An optimization is stored as a document (kind ``optimization``)::

    {"name": "best maintenance slot this week",
     "scenario": {...} or "SCENARIO-ID",      # the scenario to vary (a document or a stored one)
     "knobs": [...], "objective": {...}, "constraints": [...],
     "method": "auto", "budget": 60, "top": 3, "seed": 1}

(the search members are those of :mod:`holotwin.scenarios.optimize`). Knobs change a
scenario's settings and overrides, not what it forks (``kind``, ``line``, ``stations``,
``relationship``, ``twins``, ``subgraph``, ``at``): running forks the live state ONCE and
evaluates every candidate on that same fork, with the same seed (a scenario without one gets
a random seed for the whole search), through the service's executor. The baseline (the
scenario as given) and the best candidates are then stored as ordinary scenarios with their
results, ready to compare; the optimization keeps every candidate's knob values and
objective.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from holotwin.clock import Clock, to_iso
from holotwin.compute import Executor
from holotwin.errors import InvalidInputError
from holotwin.scenarios.line_whatif import LineEvaluation, check_station_names
from holotwin.scenarios.optimize import Candidate, optimize, parse_search, set_pointer
from holotwin.scenarios.tasks import TaskMap
from holotwin.scenarios.whatif import ForkEvaluation
from holotwin.service.runs import RunDocuments
from holotwin.service.scenarios import SCENARIO_KEYS, parse_spec
from holotwin.store.base import Store

__all__ = ["OPTIMIZATION", "OptimizationMethods"]

OPTIMIZATION = "optimization"
#: members of a scenario that say what is forked: a knob may not change them
FORKED = ("kind", "line", "stations", "relationship", "twins", "subgraph", "at")


class _Service(Protocol):
    store: Store
    clock: Clock
    executor: Executor

    def get_scenario(self, scenario_id: str) -> dict[str, Any]: ...

    def _check_scenario(self, spec: Mapping[str, Any]) -> list[str]: ...

    @property
    def _scenario_docs(self) -> RunDocuments: ...

    @property
    def _optimization_docs(self) -> RunDocuments: ...

    def scenario_evaluation(self, spec: Mapping[str, Any], map: TaskMap | None = None
                            ) -> tuple[LineEvaluation | ForkEvaluation, dict[str, Any]]: ...

    def get_optimization(self, optimization_id: str) -> dict[str, Any]: ...

    def run_optimization(self, optimization_id: str,
                         progress: Callable[[float], None] | None = None
                         ) -> dict[str, Any]: ...

    def _store_candidate(self, doc: Mapping[str, Any], base: Mapping[str, Any], label: str,
                         candidate: Candidate, fork: Mapping[str, Any]) -> str: ...


class OptimizationMethods:
    """Search a scenario's overrides for the best outcome (mixed into TwinService)."""

    def create_optimization(self: _Service, raw: object) -> dict[str, Any]:
        """Check and store an optimization (not run yet); returns it with its ``id``."""
        if not isinstance(raw, dict):
            raise InvalidInputError("An optimization must be a JSON object")
        name = raw.get("name", "")
        if not isinstance(name, str):
            raise InvalidInputError("'name' must be a string")
        scenario = raw.get("scenario")
        if isinstance(scenario, str):
            stored = self.get_scenario(scenario)
            scenario = {k: v for k, v in stored.items() if k in SCENARIO_KEYS}
        if not isinstance(scenario, dict):
            raise InvalidInputError("'scenario' must be a scenario document or the id of a "
                                    "stored scenario")
        base = parse_spec(scenario)
        raw_search = {k: v for k, v in raw.items() if k not in ("name", "scenario")}
        search = parse_search(raw_search)
        stations = self._check_scenario(base)
        for knob in search.knobs:
            top = knob.path.split("/")[1]
            if top in FORKED:
                raise InvalidInputError(f"Knob {knob.path} changes what the scenario forks "
                                        f"('{top}'); knobs change its settings and overrides")
            for value in knob.extremes():  # every value must make a valid scenario; what
                # it forks is the base's, so only a line's station overrides need a look
                spec = parse_spec(set_pointer(base, knob.path, value))
                if spec["kind"] == "line":
                    check_station_names(spec, stations)
        doc = {"id": uuid.uuid4().hex[:12], "name": name, "scenario": base,
               "search": raw_search, "created": to_iso(self.clock.now()),
               "status": "created", "progress": 0.0}
        self._optimization_docs.save(doc)
        return doc

    @property
    def _optimization_docs(self: _Service) -> RunDocuments:
        return RunDocuments(self.store, self.clock, OPTIMIZATION)

    def get_optimization(self: _Service, optimization_id: str) -> dict[str, Any]:
        return self._optimization_docs.get(optimization_id)

    def list_optimizations(self: _Service) -> list[dict[str, Any]]:
        """Every optimization, without its candidates (with its best one)."""
        out = self._optimization_docs.list()
        for doc in out:
            if "results" in doc:
                doc["best"] = doc.pop("results")["best"][:1]
        return out

    def delete_optimization(self: _Service, optimization_id: str) -> None:
        """Delete an optimization (the scenarios it stored stay)."""
        self._optimization_docs.delete(optimization_id)

    def run_optimization(self: _Service, optimization_id: str,
                         progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """Fork once, evaluate the candidates, keep the best few as scenarios; the
        optimization's ``status`` and ``progress`` follow the run."""
        def work(doc: dict[str, Any], step: Callable[[float], None]) -> dict[str, Any]:
            search = parse_search(doc["search"])
            base = dict(doc["scenario"])
            evaluation, fork = self.scenario_evaluation(base)
            if base.get("seed") is None:  # one seed for every candidate: common random numbers
                base["seed"] = secrets.randbelow(2**31)
            result = optimize(evaluation, base, search, map=self.executor.map,
                              prepare=parse_spec, progress=step)
            stored = {"baseline": self._store_candidate(doc, base, "baseline", result.baseline,
                                                        fork),
                      "best": [self._store_candidate(doc, base, f"best {k}", c, fork)
                               for k, c in enumerate(result.best, start=1)]}
            return {"results": result.to_json(), "scenarios": stored, "seed": base["seed"],
                    "fork": fork}

        return self._optimization_docs.run(optimization_id, work, progress)

    def _store_candidate(self: _Service, doc: Mapping[str, Any], base: Mapping[str, Any],
                         label: str, candidate: Candidate, fork: Mapping[str, Any]) -> str:
        """Keep a candidate of the search from ``base`` as a stored scenario with its results
        (not run again)."""
        spec: Any = base
        for path, value in candidate.assignment.items():
            spec = set_pointer(spec, path, value)
        spec = parse_spec(spec)
        knobs = ", ".join(f"{p.rsplit('/', 1)[-1]}={v}" for p, v in
                          candidate.assignment.items())
        name = f"{doc.get('name') or doc['id']}: {label}" + (f" ({knobs})" if knobs else "")
        now = self.clock.now()
        scenario = {"id": uuid.uuid4().hex[:12], **spec, "name": name, "created": to_iso(now),
                    "status": "done", "progress": 1.0, "runs": 1, "ran": to_iso(now),
                    "results": candidate.outcome["results"],
                    "kpis": candidate.outcome["kpis"], "fork": dict(fork),
                    "optimization": doc["id"]}
        self._scenario_docs.save(scenario)
        return str(scenario["id"])

    def start_optimization(self: _Service, optimization_id: str) -> threading.Thread:
        """Run an optimization on a background thread; returns the thread."""
        return self._optimization_docs.start(optimization_id, self.run_optimization)

