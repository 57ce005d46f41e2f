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
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.scenarios.line_whatif import LineEvaluation, check_station_names
from holotwin.scenarios.optimize import Candidate, optimize, parse_search, set_pointer
from holotwin.scenarios.tasks import TaskMap
from holotwin.scenarios.whatif import ForkEvaluation
from holotwin.service.line_facts import station_order
from holotwin.service.scenarios import SCENARIO, SCENARIO_KEYS, parse_spec
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

    def _scenario_twins(self, spec: Mapping[str, Any]) -> list[str]: ...

    def scenario_evaluation(self, spec: Mapping[str, Any], map: TaskMap | None = None
                            ) -> tuple[LineEvaluation | ForkEvaluation, dict[str, Any]]: ...

    def get_optimization(self, optimization_id: str) -> dict[str, Any]: ...

    def run_optimization(self, optimization_id: str,
                         progress: Callable[[float], None] | None = None
                         ) -> dict[str, Any]: ...

    def _save_optimization(self, doc: dict[str, Any]) -> None: ...

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
        _check(self, base)
        for knob in search.knobs:
            top = knob.path.split("/")[1]
            if top in FORKED:
                raise InvalidInputError(f"Knob {knob.path} changes what the scenario forks "
                                        f"('{top}'); knobs change its settings and overrides")
            for value in knob.extremes():  # every value must make a valid scenario
                _check(self, parse_spec(set_pointer(base, knob.path, value)))
        doc = {"id": uuid.uuid4().hex[:12], "name": name, "scenario": base,
               "search": raw_search, "created": to_iso(self.clock.now()),
               "status": "created", "progress": 0.0}
        self._save_optimization(doc)
        return doc

    def _save_optimization(self: _Service, doc: dict[str, Any]) -> None:
        with self.store.transaction() as tx:
            tx.put_document(OPTIMIZATION, doc["id"], doc, self.clock.now())

    def get_optimization(self: _Service, optimization_id: str) -> dict[str, Any]:
        doc = self.store.get_document(OPTIMIZATION, optimization_id)
        if doc is None:
            raise NotFoundError("optimization", optimization_id)
        return doc

    def list_optimizations(self: _Service) -> list[dict[str, Any]]:
        """Every optimization, without its candidates."""
        out = []
        for doc in self.store.list_documents(OPTIMIZATION).values():
            summary = {k: v for k, v in doc.items() if k != "results"}
            if "results" in doc:
                summary["best"] = doc["results"]["best"][:1]
            out.append(summary)
        return out

    def delete_optimization(self: _Service, optimization_id: str) -> None:
        """Delete an optimization (the scenarios it stored stay)."""
        self.get_optimization(optimization_id)
        with self.store.transaction() as tx:
            tx.put_document(OPTIMIZATION, optimization_id, None, self.clock.now())

    def run_optimization(self: _Service, optimization_id: str,
                         progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """Fork once, evaluate the candidates, keep the best few as scenarios; the
        optimization's ``status`` and ``progress`` follow the run."""
        doc = self.get_optimization(optimization_id)
        doc.update(status="running", progress=0.0, error=None)
        self._save_optimization(doc)

        def step(done: float) -> None:
            doc["progress"] = round(done, 3)
            self._save_optimization(doc)
            if progress is not None:
                progress(done)

        try:
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
        except Exception as exc:
            reason = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            doc.update(status="failed", error=reason)
            self._save_optimization(doc)
            raise
        doc.update(status="done", progress=1.0, results=result.to_json(), scenarios=stored,
                   seed=base["seed"], ran=to_iso(self.clock.now()), fork=fork)
        self._save_optimization(doc)
        return doc

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
        with self.store.transaction() as tx:
            tx.put_document(SCENARIO, scenario["id"], scenario, now)
        return str(scenario["id"])

    def start_optimization(self: _Service, optimization_id: str) -> threading.Thread:
        """Run an optimization on a background thread; returns the thread."""
        self.get_optimization(optimization_id)

        def run() -> None:
            try:
                self.run_optimization(optimization_id)
            except Exception:  # noqa: BLE001 - recorded on the optimization as "failed"
                pass

        thread = threading.Thread(target=run, name=f"holotwin-optimize-{optimization_id}",
                                  daemon=True)
        thread.start()
        return thread


def _check(service: _Service, spec: Mapping[str, Any]) -> None:
    """What creating the scenario would refuse (unknown twins or stations)."""
    if spec["kind"] == "line":
        check_station_names(spec, station_order(service.store, spec))
    else:
        service._scenario_twins(spec)
