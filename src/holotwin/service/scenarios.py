"""What-if scenarios on twins (mixed into :class:`~holotwin.service.TwinService`).

A scenario is stored as a document (kind ``scenario``)::

    {"name": "pack 1 on the heavy duty cycle",
     "twins": ["battery-1"],            # and/or "subgraph": {"root": "line-1", "depth": 2}
     "at": null,                        # fork time (epoch s or ISO); null: the latest estimates
     "horizon": 3600, "dt": 5, "samples": 200, "seed": 1,
     "overrides": {"battery-1": {"load": {"times": [], "values": [[3.0]]}}}}

Running it forks the twins (reads their estimates, calibrations and bindings; writes nothing
to them), applies the overrides and simulates the ensemble
(:func:`holotwin.scenarios.whatif.simulate_forks`); the run's status, progress, results and
KPIs are kept with the scenario. Runs can be repeated (a new fork of the then-live state) and
compared side by side.
"""

from __future__ import annotations

import math
import secrets
import threading
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from holotwin.clock import Clock, from_iso, to_iso
from holotwin.compute import Executor
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.models import ModelRegistry
from holotwin.scenarios.line_whatif import (
    LINE_KEYS,
    LineEvaluation,
    check_station_names,
    compare_line_runs,
    parse_line_spec,
)
from holotwin.scenarios.tasks import TaskMap
from holotwin.scenarios.whatif import Fork, ForkEvaluation, Override, compare_runs
from holotwin.service.binding import BehaviorBinding
from holotwin.service.estimating import CALIBRATION, ESTIMATE, behavior_for
from holotwin.service.line_facts import line_facts, station_order
from holotwin.service.runs import RunDocuments
from holotwin.store.base import Store

__all__ = ["KINDS", "SCENARIO", "SCENARIO_KEYS", "ScenarioMethods", "parse_spec"]

SCENARIO = "scenario"
KINDS = ("forks", "line")
_KEYS = {"kind", "name", "twins", "subgraph", "at", "horizon", "dt", "samples", "seed",
         "overrides"}
#: the members of a scenario document of either kind (the rest of a stored one is its run)
SCENARIO_KEYS = frozenset(_KEYS | LINE_KEYS)


class _Service(Protocol):
    store: Store
    clock: Clock
    registry: ModelRegistry
    executor: Executor

    def _twin_bindings(self, twin_ids: Collection[str]
                       ) -> dict[str, tuple[str, BehaviorBinding, list[str]]]: ...

    def list_relationships(self, source_id: str, name: str | None = None
                           ) -> list[dict[str, Any]]: ...

    def list_incoming(self, target_id: str) -> list[dict[str, Any]]: ...

    def get_scenario(self, scenario_id: str) -> dict[str, Any]: ...

    def fork_twins(self, twin_ids: Sequence[str], at: float | None = None) -> list[Fork]: ...

    def _scenario_twins(self, spec: Mapping[str, Any]) -> list[str]: ...

    def _check_scenario(self, spec: Mapping[str, Any]) -> list[str]: ...

    @property
    def _scenario_docs(self) -> RunDocuments: ...

    def run_scenario(self, scenario_id: str,
                     progress: Callable[[float], None] | None = None) -> dict[str, Any]: ...

    def scenario_evaluation(self, spec: Mapping[str, Any], map: TaskMap | None = None,
                            twins: Sequence[str] | None = None
                            ) -> tuple[LineEvaluation | ForkEvaluation, dict[str, Any]]: ...


def _positive(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0 \
            or not math.isfinite(value):
        raise InvalidInputError(f"'{key}' must be a positive number, got {value!r}")
    return float(value)


def _time(value: object) -> float | None:
    if isinstance(value, str):
        return from_iso(value)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                              or not math.isfinite(value)):
        raise InvalidInputError("'at' must be a time (ISO 8601 or epoch seconds) or null")
    return None if value is None else float(value)


def parse_spec(raw: object) -> dict[str, Any]:
    """Check a scenario document (``kind`` ``"forks"``, the default, or ``"line"``, see
    :mod:`holotwin.scenarios.line_whatif`); return it normalized."""
    if not isinstance(raw, dict):
        raise InvalidInputError("A scenario must be a JSON object")
    kind = raw.get("kind", "forks")
    if kind not in KINDS:
        raise InvalidInputError(f"'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "line":
        return parse_line_spec({**raw, "at": _time(raw.get("at"))})
    unknown = set(raw) - _KEYS
    if unknown:
        raise InvalidInputError(f"Unknown member {sorted(unknown)[0]!r}; known: "
                                f"{', '.join(sorted(_KEYS))}")
    twins = raw.get("twins", [])
    if not isinstance(twins, list) or not all(isinstance(t, str) and t for t in twins):
        raise InvalidInputError("'twins' must be a list of twin ids")
    subgraph = raw.get("subgraph")
    if subgraph is not None:
        depth = subgraph.get("depth", 1) if isinstance(subgraph, dict) else None
        if not isinstance(subgraph, dict) or not isinstance(subgraph.get("root"), str) \
                or isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= 10:
            raise InvalidInputError("'subgraph' must be {\"root\": TWIN, \"depth\": 0..10}")
    if not twins and subgraph is None:
        raise InvalidInputError("A scenario needs 'twins' or a 'subgraph'")
    at = _time(raw.get("at"))
    samples = raw.get("samples", 200)
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10_000:
        raise InvalidInputError("'samples' must be an integer from 1 to 10,000")
    seed = raw.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise InvalidInputError("'seed' must be an integer or null")
    overrides = raw.get("overrides", {})
    if not isinstance(overrides, dict):
        raise InvalidInputError("'overrides' must be an object of twin id: override")
    for twin, override in overrides.items():
        Override.parse(override, f"overrides.{twin}")
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise InvalidInputError("'name' must be a string")
    horizon, dt = _positive(raw, "horizon", 3600.0), _positive(raw, "dt", 10.0)
    if horizon / dt > 100_000:
        raise InvalidInputError("horizon / dt is over 100,000 steps")
    return {"kind": "forks", "name": name, "twins": twins, "subgraph": subgraph, "at": at,
            "horizon": horizon,
            "dt": dt, "samples": samples, "seed": seed, "overrides": overrides}


class ScenarioMethods:
    """Forks, what-if runs, stored scenarios and comparisons (mixed into TwinService)."""

    # forks ---------------------------------------------------------------------------------
    def fork_twins(self: _Service, twin_ids: Sequence[str], at: float | None = None
                   ) -> list[Fork]:
        """What the behaviors of ``twin_ids`` know at time ``at`` (None: now, from the
        current estimates with their full covariance; a past time: from the estimate history
        on the twin, ``estimate.<state>`` and ``.std``). Twins without a behavior binding or
        without an estimate at that time are left out. Reads only."""
        forks: list[Fork] = []
        for _, binding, twins in self._twin_bindings(twin_ids).values():
            docs = self.store.list_documents(ESTIMATE, twins)
            calibrations = self.store.list_documents(CALIBRATION, twins)
            for twin in twins:
                doc = docs.get(twin)
                calibration = calibrations.get(twin)
                behavior = behavior_for(binding, [calibration])
                params = {**binding.parameters, **(calibration or {}).get("parameters", {})}
                if doc and not doc.get("reset") and (at is None or doc["t"] <= at):
                    forks.append(Fork(twin, binding.key, behavior, float(doc["t"]),
                                      np.array(doc["mean"]), np.array(doc["cov"]),
                                      np.array([doc["inputs"].get(i, 0.0)
                                                for i in behavior.inputs]), params))
                elif at is not None:
                    past = _past(self.store, twin, binding, behavior, at, params)
                    if past is not None:
                        forks.append(past)
        return forks

    def _scenario_twins(self: _Service, spec: Mapping[str, Any]) -> list[str]:
        twins = list(spec["twins"])
        subgraph = spec.get("subgraph")
        if subgraph:
            if self.store.get_twin(subgraph["root"]) is None:
                raise NotFoundError("twin", subgraph["root"])
            level, seen = [subgraph["root"]], {subgraph["root"]}
            for _ in range(subgraph.get("depth", 1)):
                nxt: list[str] = []
                for twin in level:
                    near = [r["$targetId"] for r in self.list_relationships(twin)] + \
                        [r["$sourceId"] for r in self.list_incoming(twin)]
                    nxt.extend(t for t in near if t not in seen)
                    seen.update(near)
                level = nxt
            twins.extend(sorted(seen))
        missing = [t for t in twins if self.store.get_twin(t) is None]
        if missing:
            raise NotFoundError("twin", missing[0])
        return list(dict.fromkeys(twins))

    # stored scenarios ----------------------------------------------------------------------
    def create_scenario(self: _Service, raw: object) -> dict[str, Any]:
        """Store a scenario (not run yet); returns it with its ``id``."""
        spec = parse_spec(raw)
        self._check_scenario(spec)
        doc = {"id": uuid.uuid4().hex[:12], **spec, "created": to_iso(self.clock.now()),
               "status": "created", "progress": 0.0, "runs": 0}
        self._scenario_docs.save(doc)
        return doc

    def _check_scenario(self: _Service, spec: Mapping[str, Any]) -> list[str]:
        """Refuse now, not at run time, a parsed scenario's unknown twins (and, for a line,
        unknown stations); returns its twins (a line's stations)."""
        if spec["kind"] == "line":
            stations = station_order(self.store, spec)
            check_station_names(spec, stations)
            return stations
        return self._scenario_twins(spec)

    @property
    def _scenario_docs(self: _Service) -> RunDocuments:
        return RunDocuments(self.store, self.clock, SCENARIO)

    def get_scenario(self: _Service, scenario_id: str) -> dict[str, Any]:
        return self._scenario_docs.get(scenario_id)

    def list_scenarios(self: _Service) -> list[dict[str, Any]]:
        """Every scenario, without its results."""
        return self._scenario_docs.list(leave_out=("results", "fork"))

    def delete_scenario(self: _Service, scenario_id: str) -> None:
        self._scenario_docs.delete(scenario_id)

    def run_scenario(self: _Service, scenario_id: str,
                     progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        """Fork the scenario's twins now (or at its ``at``), simulate, keep and return the
        results; the scenario's ``status`` and ``progress`` follow the run."""
        def work(doc: dict[str, Any], step: Callable[[float], None]) -> dict[str, Any]:
            if doc.get("kind") == "line":  # its replications go to the executor
                evaluation, fork = self.scenario_evaluation(doc, map=self.executor.map)
                return {**evaluation(doc, step), "fork": fork,
                        "runs": int(doc.get("runs", 0)) + 1}
            twins = self._scenario_twins(doc)
            evaluation, fork = self.scenario_evaluation(doc, twins=twins)
            outcome = evaluation(doc, step)
            return {**outcome, "fork": fork, "runs": int(doc.get("runs", 0)) + 1,
                    "notSimulated": [t for t in twins if t not in outcome["results"]]}

        return self._scenario_docs.run(scenario_id, work, progress)

    def scenario_evaluation(self: _Service, spec: Mapping[str, Any],
                            map: TaskMap | None = None, twins: Sequence[str] | None = None
                            ) -> tuple[LineEvaluation | ForkEvaluation, dict[str, Any]]:
        """Fork what a parsed scenario needs (the line's facts, or the behaviors of its
        ``twins``, found from the scenario when not given) and return the evaluation that
        runs it, or variants of it, on that fork (reads only), with a description of the
        fork. A line scenario without a seed gets a random one."""
        if spec.get("kind") == "line":
            now = self.clock.now()
            facts = line_facts(self.store, spec, spec.get("at"), now)
            return (LineEvaluation(tuple(facts), secrets.randbelow(2**31), map),
                    {"t": now if spec.get("at") is None else spec["at"],
                     "stations": [f.name for f in facts]})
        forks = self.fork_twins(self._scenario_twins(spec) if twins is None else twins,
                                spec.get("at"))
        return ForkEvaluation(tuple(forks)), {f.twin_id: {"t": f.t, "behavior": f.group}
                                              for f in forks}

    def start_scenario(self: _Service, scenario_id: str) -> threading.Thread:
        """Run a scenario on a background thread (its status and progress show on the
        scenario); returns the thread."""
        return self._scenario_docs.start(scenario_id, self.run_scenario)

    def compare_scenarios(self: _Service, scenario_ids: Sequence[str]) -> dict[str, Any]:
        """Runs side by side, the first as the baseline (each must have run)."""
        runs = []
        for sid in scenario_ids:
            doc = self.get_scenario(sid)
            if doc.get("status") != "done":
                raise InvalidInputError(f"Scenario {sid} has no results (status "
                                        f"{doc.get('status')}); run it first")
            runs.append((doc.get("name") or sid, doc))
        kinds = {doc.get("kind", "forks") for _, doc in runs}
        if len(kinds) > 1:
            raise InvalidInputError("Scenarios of different kinds (forks, line) cannot be "
                                    "compared")
        return compare_line_runs(runs) if kinds == {"line"} else compare_runs(runs)


def _past(store: Store, twin: str, binding: BehaviorBinding, behavior: Any, at: float,
          params: Mapping[str, float]) -> Fork | None:
    """A fork from the estimate history on the twin (diagonal covariance)."""
    mean, std = [], []
    t = -math.inf
    for state in behavior.states:
        points = store.telemetry_range(twin, f"estimate.{state}", -math.inf,
                                       float(np.nextafter(at, math.inf)), 100_000)
        spread = store.telemetry_range(twin, f"estimate.{state}.std", -math.inf,
                                       float(np.nextafter(at, math.inf)), 100_000)
        if not points or not spread:
            return None
        mean.append(float(points[-1].value or 0.0))
        std.append(float(spread[-1].value or 0.0))
        t = max(t, points[-1].time)
    inputs = []
    for name in behavior.inputs:
        seen = store.telemetry_range(twin, binding.inputs[name], -math.inf,
                                     float(np.nextafter(t, math.inf)), 100_000)
        inputs.append(float(seen[-1].value or 0.0) if seen else 0.0)
    return Fork(twin, binding.key, behavior, t, np.array(mean),
                np.diag(np.array(std) ** 2), np.array(inputs), dict(params))
