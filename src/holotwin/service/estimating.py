"""The machinery behind :mod:`holotwin.service.behaviors`: aligning readings into
measurements, choosing estimators and predictors, and one estimate update (:class:`Update`).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from holotwin.behaviors import Behavior, GaussianState
from holotwin.clock import Clock
from holotwin.errors import InvalidInputError
from holotwin.estimate import KalmanFilter, ParticleFilter, UnscentedKalmanFilter
from holotwin.estimate.base import Estimator
from holotwin.predict import (
    Load,
    MonteCarloPredictor,
    PiecewiseLoad,
    Prediction,
    Predictor,
    UnscentedTransformPredictor,
)
from holotwin.service.binding import BehaviorBinding
from holotwin.store.base import Store, TelemetryPoint


class _Service(Protocol):
    """What an update needs of the service."""

    store: Store
    clock: Clock

    def write_telemetry(self, points: Sequence[TelemetryPoint], models: Mapping[str, str],
                        dead_letters: Sequence[Any] = (), *,
                        documents: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> int: ...

__all__ = ["BINDING", "CALIBRATION", "ESTIMATE", "Update", "align", "behavior_for", "estimator_for", "history",
           "load_of", "prediction_json", "predictor"]

BINDING = "behavior-binding"
ESTIMATE = "estimate"
CALIBRATION = "calibration"
MAX_READINGS = 10_000  # per signal and twin in one update


def behavior_for(binding: BehaviorBinding, docs: Sequence[Mapping[str, Any] | None]) -> Behavior:
    """The binding's behavior, with per-twin parameter arrays where twins were calibrated
    (``docs``: each twin's calibration document, or None)."""
    calibrated = [d.get("parameters", {}) if d else {} for d in docs]
    names = sorted({k for c in calibrated for k in c})
    if not names:
        return binding.make_behavior()
    base = binding.make_behavior()
    arrays = {n: np.array([float(c.get(n, base.p[n][0])) for c in calibrated]) for n in names}
    return binding.make_behavior(arrays)


def estimator_for(binding: BehaviorBinding, behavior: Behavior, x0: GaussianState,
               t0: np.ndarray) -> Estimator:
    q = np.array([binding.process_noise.get(s, behavior.process_noise[i])
                  for i, s in enumerate(behavior.states)])
    r = np.array([binding.measurement_noise.get(o, behavior.measurement_noise[i])
                  for i, o in enumerate(behavior.outputs)])
    kinds: dict[str, type[Estimator]] = {"unscented": UnscentedKalmanFilter,
                                         "kalman": KalmanFilter, "particle": ParticleFilter}
    return kinds[binding.estimator](behavior, x0, t0, process_noise=q, measurement_noise=r)


def predictor(method: str, samples: int) -> Predictor:
    if method == "monte-carlo":
        return MonteCarloPredictor(samples=samples)
    return UnscentedTransformPredictor()



def load_of(raw: Mapping[str, Any] | None, held: np.ndarray, n_inputs: int
          ) -> PiecewiseLoad | Load:
    if raw is None:
        return lambda t, x: np.repeat(held, x.shape[0] // held.shape[0], axis=0)
    if not isinstance(raw, Mapping):
        raise InvalidInputError("load must be an object with times and values")
    values = raw.get("values")
    if not isinstance(values, list) or any(not isinstance(v, list) or len(v) != n_inputs
                                           for v in values):
        raise InvalidInputError(f"load.values must be a list of [{n_inputs} input value(s)]")
    return PiecewiseLoad(raw.get("times", []), values)


def history(store: Store, twin_id: str, binding: BehaviorBinding, start: float, end: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    behavior = binding.make_behavior()
    series = {s: store.telemetry_range(twin_id, s, start, end, MAX_READINGS)
              for s in binding.signals()}
    return align(behavior, binding, series, {})


def align(behavior: Behavior, binding: BehaviorBinding,
           series: Mapping[str, Sequence[TelemetryPoint]], held: Mapping[str, float]
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Measurement times, the inputs held at each, and the outputs (NaN: not measured)."""
    outputs = {o: {p.time: p.value for p in series[s] if p.value is not None}
               for o, s in binding.outputs.items()}
    times = np.array(sorted({t for values in outputs.values() for t in values}))
    z = np.array([[outputs.get(o, {}).get(t, math.nan) for o in behavior.outputs]
                  for t in times]).reshape(len(times), len(behavior.outputs))
    u = np.zeros((len(times), len(behavior.inputs)))
    for j, name in enumerate(behavior.inputs):
        points = [p for p in series[binding.inputs[name]] if p.value is not None]
        at = np.array([p.time for p in points])
        values = np.array([p.value for p in points], dtype=np.float64)
        k = np.searchsorted(at, times, side="right") - 1
        u[:, j] = np.where(k >= 0, values[np.maximum(k, 0)] if len(values) else 0.0,
                           held.get(name, 0.0))
    return times, u, z


def prediction_json(p: Prediction, behavior: Behavior, k: int) -> dict[str, Any]:
    events = {}
    for name, toe in p.time_of_event.items():
        pct = toe.percentile(list(p.bands))[k]
        events[name] = {"mean": _num(toe.mean[k]), "reached": float(toe.reached[k]),
                        "percentiles": {f"p{int(b)}": _num(v) for b, v in zip(p.bands, pct,
                                                                                strict=True)}}
    return {"behavior": behavior.behavior_name, "t0": float(p.t0[k]),
            "samples": p.samples, "timeOfEvent": events,
            "times": p.times.tolist(),
            "outputs": {o: {"mean": p.output_mean[:, k, j].tolist(),
                            "bands": {f"p{int(b)}": p.output_bands[:, k, j, i].tolist()
                                      for i, b in enumerate(p.bands)}}
                        for j, o in enumerate(behavior.outputs)}}


def _num(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


class Update:
    """One estimate update of the ``twins`` that ``binding`` (held by model ``holder``)
    applies to; see :meth:`holotwin.service.TwinService.update_estimates`."""

    def __init__(self, service: _Service, holder: str, binding: BehaviorBinding,
                 twins: Collection[str]) -> None:
        self.service = service
        self.holder = holder
        self.binding = binding
        self.twins = sorted(twins)
        self._calibrations: dict[str, dict[str, Any]] = {}
        self._read: dict[str, dict[str, Any]] = {}

    def run(self) -> int:
        store, binding = self.service.store, self.binding
        docs = store.list_documents(ESTIMATE, self.twins)
        self._read = docs
        calibrations = store.list_documents(CALIBRATION, self.twins)
        probe = binding.make_behavior()
        work: list[tuple[str, dict[str, Any] | None, np.ndarray, np.ndarray, np.ndarray]] = []
        for twin in self.twins:
            doc = docs.get(twin)
            if doc is not None and doc.get("reset"):  # start afresh after the reset point
                after = doc.get("after")
                since = -math.inf if after is None else float(np.nextafter(after, math.inf))
                doc = None
            else:
                since = float(np.nextafter(doc["t"], math.inf)) if doc else -math.inf
            series = {s: store.telemetry_range(twin, s, since, math.inf, MAX_READINGS)
                      for s in binding.signals()}
            times, u, z = align(probe, binding, series, doc.get("inputs", {}) if doc else {})
            if len(times):
                work.append((twin, doc, times, u, z))
        if not work:
            return 0
        behavior = behavior_for(binding, [calibrations.get(w[0]) for w in work])
        self._calibrations = calibrations
        estimator = estimator_for(binding, behavior, self._start(behavior, work),
                                  np.array([w[1]["t"] if w[1] else w[2][0] for w in work]))
        residuals: list[TelemetryPoint] = []
        for k in range(max(len(w[2]) for w in work)):
            mask = np.array([len(w[2]) > k for w in work])
            pick = [min(k, len(w[2]) - 1) for w in work]
            at = np.array([w[2][i] for w, i in zip(work, pick, strict=True)])
            estimator.estimate(at, np.array([w[3][i] for w, i in zip(work, pick, strict=True)]),
                               np.array([w[4][i] for w, i in zip(work, pick, strict=True)]),
                               mask)
            if estimator.innovation is not None:
                normalized = estimator.innovation.normalized
                for row, col in zip(*np.nonzero(np.isfinite(normalized)), strict=True):
                    residuals.append(TelemetryPoint(
                        work[row][0], f"residual.{behavior.outputs[col]}", float(at[row]),
                        float(normalized[row, col])))
        state = estimator.state
        return self._write(behavior, work, np.asarray(state.mean), np.asarray(state.cov),
                           estimator.t, residuals)

    def _start(self, behavior: Behavior, work: Sequence[tuple[str, Any, Any, Any, Any]]
               ) -> GaussianState:
        binding = self.binding
        x0 = behavior.initial_state()[0] if behavior.initial else np.zeros(len(behavior.states))
        std = np.maximum(np.abs(x0) * 0.01, np.sqrt(behavior.process_noise) + 1e-6)
        for i, s in enumerate(behavior.states):
            x0[i] = binding.initial.get(s, x0[i])
            std[i] = binding.initial_std.get(s, std[i])
        means, covs = [], []
        for _, doc, *_ in work:
            if doc:
                means.append(doc["mean"])
                covs.append(doc["cov"])
            else:
                means.append(x0.tolist())
                covs.append(np.diag(std**2).tolist())
        return GaussianState(np.array(means), np.array(covs))

    def _write(self, behavior: Behavior, work: Sequence[tuple[str, Any, Any, Any, Any]],
               mean: np.ndarray, cov: np.ndarray, t: np.ndarray,
               residuals: list[TelemetryPoint]) -> int:
        binding = self.binding
        derived = behavior.derive(mean)
        std = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
        tte = self._time_to_event(behavior, work, mean, cov, t)
        points: list[TelemetryPoint] = residuals
        documents = []
        now = self.service.clock.now()
        for k, (twin, doc, times, u, _) in enumerate(work):
            at = float(t[k])
            for j, s in enumerate(behavior.states):
                points.append(TelemetryPoint(twin, f"estimate.{s}", at, float(mean[k, j])))
                points.append(TelemetryPoint(twin, f"estimate.{s}.std", at, float(std[k, j])))
            for j, name in enumerate(behavior.derived):
                points.append(TelemetryPoint(twin, f"estimate.{name}", at, float(derived[k, j])))
            events = (doc or {}).get("timeToEvent", {})
            if k in tte:
                events = tte[k]
                for name, e in events.items():
                    for key, suffix in (("mean", ""), ("p5", ".p5"), ("p95", ".p95")):
                        if e[key] is not None:
                            points.append(TelemetryPoint(twin, f"timeToEvent.{name}{suffix}",
                                                         at, float(e[key])))
            documents.append((ESTIMATE, twin, {
                "twinId": twin, "behavior": binding.behavior, "model": self.holder, "t": at,
                "states": list(behavior.states), "mean": mean[k].tolist(),
                "cov": cov[k].tolist(), "std": std[k].tolist(),
                "derived": {n: float(derived[k, j]) for j, n in enumerate(behavior.derived)},
                "inputs": {n: float(u[-1, j]) for j, n in enumerate(behavior.inputs)},
                "parameters": self._calibrations.get(twin, {}).get("parameters", {}),
                "timeToEvent": events, "measurements": int((doc or {}).get("measurements", 0))
                + len(times), "updated": now}))
        # an estimate reset (or written by another replica) while this update ran wins: that
        # twin's result is dropped (a short race remains between this read and the write)
        now_docs = self.service.store.list_documents(ESTIMATE, [w[0] for w in work])
        changed = {w[0] for w in work if now_docs.get(w[0]) != self._read.get(w[0])}
        if changed:
            points = [p for p in points if p.twin_id not in changed]
            documents = [d for d in documents if d[1] not in changed]
        models = self.service.store.twin_models([w[0] for w in work])
        self.service.write_telemetry(points, models, documents=documents)
        return len(work) - len(changed)

    def _time_to_event(self, behavior: Behavior, work: Sequence[tuple[str, Any, Any, Any, Any]],
                       mean: np.ndarray, cov: np.ndarray, t: np.ndarray
                       ) -> dict[int, dict[str, dict[str, Any]]]:
        settings = self.binding.prediction
        if settings is None or not behavior.events:
            return {}
        def last(doc: Mapping[str, Any] | None) -> float:
            events = (doc or {}).get("timeToEvent") or {}
            return max((float(e["at"]) for e in events.values()), default=-math.inf)

        due = [k for k, (_, doc, *_) in enumerate(work) if t[k] - last(doc) >= settings.every]
        if not due:
            return {}
        sub = behavior_for(self.binding, [self._calibrations.get(work[k][0]) for k in due])
        held = np.array([work[k][3][-1] for k in due]).reshape(len(due), len(sub.inputs))
        prediction = predictor(settings.method, settings.samples).predict(
            sub, GaussianState(mean[due], cov[due]), load_of(None, held, len(sub.inputs)),
            horizon=settings.horizon, dt=settings.dt, t0=t[due])
        out: dict[int, dict[str, dict[str, Any]]] = {}
        for row, k in enumerate(due):
            out[k] = {}
            for name, toe in prediction.time_of_event.items():
                p5, p95 = toe.percentile([5.0, 95.0])[row]
                out[k][name] = {"mean": _num(toe.mean[row]), "p5": _num(p5), "p95": _num(p95),
                                "reached": float(toe.reached[row]), "at": float(t[k])}
        return out
