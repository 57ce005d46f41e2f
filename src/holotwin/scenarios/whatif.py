"""What-if simulation of forked twins (pure core): overrides, ensembles, KPIs, comparison.

A *fork* is a copy of what a twin's behavior knows at one time: the behavior with the twin's
parameters, its uncertain state and the inputs it last saw (:class:`Fork`). A scenario applies
:class:`Override` s to forks (parameters, state values, a load profile, the asset switched
off) and simulates them together, as an ensemble of samples of each uncertain state
(:func:`simulate_forks`). Nothing here reads or writes a store: forks are values, so a
scenario cannot touch a live twin.

KPIs of a run (:func:`scenario_kpis`): per event, how many twins reach it within the horizon
and the earliest median time; :func:`compare_runs` puts runs side by side against the first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from holotwin.behaviors import Behavior, GaussianState
from holotwin.errors import InvalidInputError
from holotwin.predict import BANDS, MonteCarloPredictor, PiecewiseLoad, Prediction

__all__ = ["Fork", "ForkEvaluation", "Override", "compare_runs", "scenario_kpis",
           "simulate_forks"]


@dataclass(frozen=True)
class Fork:
    """One twin's behavior at time ``t`` (epoch s): ``behavior`` (with the twin's parameters,
    one row), ``mean`` ``(n,)`` and ``cov`` ``(n, n)`` of its state, ``inputs`` ``(n_u,)``
    held from its last readings, and the name of the binding's behavior (forks with the same
    ``group`` are simulated in one batch)."""

    twin_id: str
    group: str
    behavior: Behavior
    t: float
    mean: np.ndarray
    cov: np.ndarray
    inputs: np.ndarray
    parameters: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Override:
    """A change to one fork: ``parameters`` (name -> value), ``state`` (state name -> value,
    the uncertainty kept), ``load`` (a piecewise load, seconds after the fork), ``off`` (the
    asset is switched off: its inputs are zero for the whole horizon)."""

    parameters: Mapping[str, float] = field(default_factory=dict)
    state: Mapping[str, float] = field(default_factory=dict)
    load: PiecewiseLoad | None = None
    off: bool = False

    @classmethod
    def parse(cls, raw: object, where: str) -> Override:
        if not isinstance(raw, dict):
            raise InvalidInputError(f"{where} must be an object")
        unknown = set(raw) - {"parameters", "state", "load", "off"}
        if unknown:
            raise InvalidInputError(f"{where}: unknown member {sorted(unknown)[0]!r} (known: "
                                    "parameters, state, load, off)")
        load = raw.get("load")
        if load is not None:
            if not isinstance(load, dict) or not isinstance(load.get("values"), list):
                raise InvalidInputError(f"{where}.load must be {{\"times\": [...], "
                                        "\"values\": [[...], ...]}}")
            load = PiecewiseLoad(list(load.get("times", [])), load["values"])
        off = raw.get("off", False)
        if not isinstance(off, bool):
            raise InvalidInputError(f"{where}.off must be true or false")
        return cls(_numbers(raw.get("parameters"), f"{where}.parameters"),
                   _numbers(raw.get("state"), f"{where}.state"), load, off)


def _numbers(raw: object, where: str) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be an object of name: number")
    out = {}
    for key, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) \
                or not math.isfinite(value):
            raise InvalidInputError(f"{where}.{key} must be a finite number, got {value!r}")
        out[str(key)] = float(value)
    return out


def _apply(fork: Fork, override: Override | None) -> tuple[Fork, PiecewiseLoad | None, bool]:
    if override is None:
        return fork, None, False
    behavior = fork.behavior
    unknown = [p for p in override.parameters if p not in behavior.parameters]
    if unknown:
        raise InvalidInputError(f"Twin '{fork.twin_id}': {behavior.behavior_name} has no "
                                f"parameter {unknown[0]!r}")
    params = {**fork.parameters, **override.parameters}
    mean = fork.mean.copy()
    for name, value in override.state.items():
        if name not in behavior.states:
            raise InvalidInputError(f"Twin '{fork.twin_id}': {behavior.behavior_name} has no "
                                    f"state {name!r}")
        mean[behavior.states.index(name)] = value
    if override.load is not None and any(len(v) != len(behavior.inputs)
                                         for v in override.load.values):
        raise InvalidInputError(f"Twin '{fork.twin_id}': a load needs {len(behavior.inputs)} "
                                f"value(s) per step ({', '.join(behavior.inputs)})")
    changed = replace(fork, behavior=type(behavior)(**params) if override.parameters
                      else behavior, mean=mean, parameters=params)
    return changed, override.load, override.off


class _RowLoads:
    """The inputs of every simulated row: each fork's load (or held inputs, or zeros when
    off), repeated for its samples (rows are fork-major)."""

    def __init__(self, held: np.ndarray, loads: Sequence[PiecewiseLoad | None],
                 off: Sequence[bool]) -> None:
        self.held, self.loads, self.off = held, loads, off

    def __call__(self, t: float, x: np.ndarray) -> np.ndarray:
        per = x.shape[0] // self.held.shape[0]
        rows = []
        for k, load in enumerate(self.loads):
            value = np.zeros(self.held.shape[1]) if self.off[k] else (
                self.held[k] if load is None else load(t, x))
            rows.append(value)
        return np.repeat(np.asarray(rows, dtype=np.float64), per, axis=0)


def simulate_forks(
    forks: Sequence[Fork],
    overrides: Mapping[str, Override],
    *,
    horizon: float,
    dt: float,
    samples: int,
    seed: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Simulate every fork (with its override) as an ensemble of ``samples`` draws of its
    state; forks of one group run as one batch. Returns per twin: the time of each event
    (seconds after the fork: mean, share reached, percentiles) and output trajectories with
    bands."""
    if not horizon > 0 or not dt > 0 or horizon / dt > 100_000:
        raise InvalidInputError("horizon and dt must be positive, with at most 100,000 steps")
    groups: dict[str, list[tuple[Fork, PiecewiseLoad | None, bool]]] = {}
    for fork in forks:
        groups.setdefault(fork.group, []).append(_apply(fork, overrides.get(fork.twin_id)))
    results: dict[str, dict[str, Any]] = {}
    rng = np.random.default_rng(seed)
    for done, members in enumerate(groups.values()):
        behavior = _batch_behavior([m[0] for m in members])
        state = GaussianState(np.array([m[0].mean for m in members]),
                              np.array([m[0].cov for m in members]))
        loads = _RowLoads(np.array([m[0].inputs for m in members]),
                          [m[1] for m in members], [m[2] for m in members])
        prediction = MonteCarloPredictor(samples=samples, rng=rng).predict(
            behavior, state, loads, horizon=horizon, dt=dt,
            t0=np.array([m[0].t for m in members]))
        for k, (fork, _, off) in enumerate(members):
            results[fork.twin_id] = _result(prediction, behavior, k, fork, off)
        if progress is not None:
            progress((done + 1) / len(groups))
    return results


def _batch_behavior(forks: Sequence[Fork]) -> Behavior:
    """One behavior for a batch of forks: parameters that differ become per-row arrays."""
    first = forks[0].behavior
    names = sorted({p for f in forks for p in f.parameters})
    if not names:
        return first
    values = {n: np.array([float(f.behavior.p[n][0]) for f in forks]) for n in names}
    return type(first)(**values)


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _result(p: Prediction, behavior: Behavior, k: int, fork: Fork, off: bool
            ) -> dict[str, Any]:
    events = {}
    for name, toe in p.time_of_event.items():
        pct = toe.percentile(list(BANDS))[k]
        events[name] = {"mean": _num(toe.mean[k]), "reached": float(toe.reached[k]),
                        "percentiles": {f"p{int(b)}": _num(v) for b, v in zip(BANDS, pct,
                                                                                strict=True)}}
    return {"behavior": behavior.behavior_name, "t0": fork.t, "off": off,
            "parameters": dict(fork.parameters), "timeOfEvent": events,
            "times": p.times.tolist(),
            "outputs": {o: {"mean": p.output_mean[:, k, j].tolist(),
                            "p5": p.output_bands[:, k, j, 0].tolist(),
                            "p95": p.output_bands[:, k, j, -1].tolist()}
                        for j, o in enumerate(behavior.outputs)}}


def scenario_kpis(results: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Per event: twins that reach it within the horizon (expected count: the sum of the
    reached shares), and the earliest median time among them, with its twin."""
    kpis: dict[str, Any] = {"twins": len(results)}
    events: dict[str, dict[str, Any]] = {}
    for twin, result in results.items():
        for name, toe in result["timeOfEvent"].items():
            entry = events.setdefault(name, {"expected": 0.0, "earliest": None,
                                             "earliestTwin": None})
            entry["expected"] += toe["reached"]
            median = toe["percentiles"].get("p50")
            if median is not None and (entry["earliest"] is None or median < entry["earliest"]):
                entry["earliest"], entry["earliestTwin"] = median, twin
    kpis["events"] = events
    return kpis


def compare_runs(runs: Sequence[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Side by side: each run's KPIs and per-twin mean event times, with the difference to
    the first run (the baseline)."""
    if not runs:
        raise InvalidInputError("Nothing to compare")
    base_name, base = runs[0]
    table = []
    for name, run in runs:
        row: dict[str, Any] = {"scenario": name, "kpis": run["kpis"], "twins": {}}
        for twin, result in run["results"].items():
            row["twins"][twin] = {}
            for event, toe in result["timeOfEvent"].items():
                before = base["results"].get(twin, {}).get("timeOfEvent", {}).get(event, {})
                delta = None
                if toe.get("mean") is not None and before.get("mean") is not None:
                    delta = toe["mean"] - before["mean"]
                row["twins"][twin][event] = {"mean": toe.get("mean"),
                                             "reached": toe.get("reached"),
                                             "vsBaseline": delta}
        table.append(row)
    return {"baseline": base_name, "scenarios": table}


@dataclass(frozen=True)
class ForkEvaluation:
    """Runs a parsed scenario of forks on forks made once (a value that can go to another
    process): ``evaluate(spec)`` gives ``{"results": ..., "kpis": ...}``."""

    forks: tuple[Fork, ...]

    def __call__(self, spec: Mapping[str, Any],
                 progress: Callable[[float], None] | None = None) -> dict[str, Any]:
        overrides = {t: Override.parse(o, f"overrides.{t}")
                     for t, o in spec.get("overrides", {}).items()}
        results = simulate_forks(self.forks, overrides, horizon=spec["horizon"], dt=spec["dt"],
                                 samples=spec["samples"], seed=spec.get("seed"),
                                 progress=progress) if self.forks else {}
        return {"results": results, "kpis": scenario_kpis(results)}
