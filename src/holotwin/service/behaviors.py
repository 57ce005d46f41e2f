"""Behaviors on twins (mixed into :class:`~holotwin.service.TwinService`): bindings per model,
estimates kept in step with telemetry, predictions and calibration per twin.

**Estimates.** :meth:`BehaviorMethods.update_estimates` reads each bound twin's readings newer
than its estimate (the output signals are the measurements; the input signals are held from
one reading to the next), runs the binding's estimator over them, batched across the twins of
a binding, and writes in ONE transaction the estimate document (``documents`` kind
``estimate``: time, mean, covariance, last inputs, derived quantities, time-to-event) and
telemetry signals on the twin at the estimate's time, so estimates show on the twin
(``$metadata.$telemetry``) and in its history:

- ``estimate.<state>`` and ``estimate.<state>.std`` for every state,
- ``estimate.<name>`` for every derived quantity (``estimate.soc``),
- ``timeToEvent.<event>`` (mean seconds from the estimate's time) and ``.p5`` / ``.p95``.
- ``residual.<output>`` at every measurement time: the measurement minus the estimator's
  prediction over the spread it expected (:class:`~holotwin.estimate.Innovation`), N(0, 1)
  while the behavior fits the asset; the ``residual`` anomaly detector watches it.

Readings older than a twin's estimate are not used (estimates move forward in time). Between
updates an estimate is kept as a Gaussian (mean and covariance): the particle filter starts
each update from particles drawn from it.

**Predictions.** :meth:`BehaviorMethods.predict_twins` simulates from the current estimates
of one twin or a fleet, with the inputs held at their last values or a piecewise load.

**Calibration.** :meth:`BehaviorMethods.fit_twin_behavior` fits parameters to a twin's own
history (least squares) and keeps them (``documents`` kind ``calibration``): from then on the
twin is estimated and predicted with its own parameters.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from holotwin.behaviors import BEHAVIORS, GaussianState, fit_parameters
from holotwin.clock import Clock
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.models import ModelRegistry
from holotwin.service.binding import BehaviorBinding
from holotwin.service.estimating import (
    BINDING,
    CALIBRATION,
    ESTIMATE,
    Update,
    behavior_for,
    history,
    load_of,
    prediction_json,
    predictor,
)
from holotwin.store.base import DeadLetter, Store, TelemetryPoint

__all__ = ["BehaviorMethods"]

class _Service(Protocol):
    store: Store
    registry: ModelRegistry
    clock: Clock
    fmu_dir: Path | None

    def write_telemetry(self, points: Sequence[TelemetryPoint], models: Mapping[str, str],
                        dead_letters: Sequence[DeadLetter] = (), *,
                        event_data: dict[str, Any] | None = None,
                        properties: Mapping[str, Mapping[str, tuple[Any, float]]] | None = None,
                        documents: Sequence[tuple[str, str, dict[str, Any]]] = ()) -> int: ...

    def binding_for(self, model_id: str) -> tuple[str, BehaviorBinding] | None: ...

    def _twin_bindings(self, twin_ids: Collection[str]
                       ) -> dict[str, tuple[str, BehaviorBinding, list[str]]]: ...


class BehaviorMethods:
    """Behavior bindings, estimates, predictions and calibration (mixed into TwinService)."""

    # bindings ------------------------------------------------------------------------------
    def list_behaviors(self) -> list[dict[str, Any]]:
        """The built-in behaviors, with their names, units and defaults."""
        return [cls().describe() for cls in BEHAVIORS.values()]

    def put_behavior_binding(self: _Service, model_id: str, raw: object) -> dict[str, Any]:
        """Bind a behavior to a model (see :mod:`holotwin.service.binding`); an FMU binding
        takes its file from the service's ``fmu_dir``."""
        self.registry.require(model_id)
        doc = BehaviorBinding.parse(raw, self.fmu_dir).to_json()
        with self.store.transaction() as tx:
            tx.put_document(BINDING, model_id, doc, self.clock.now())
        return doc

    def get_behavior_binding(self: _Service, model_id: str) -> dict[str, Any]:
        doc = self.store.get_document(BINDING, model_id)
        if doc is None:
            raise NotFoundError("behavior binding", model_id,
                                f"Model {model_id} has no behavior binding")
        return doc

    def delete_behavior_binding(self: _Service, model_id: str) -> None:
        if self.store.get_document(BINDING, model_id) is None:
            raise NotFoundError("behavior binding", model_id,
                                f"Model {model_id} has no behavior binding")
        with self.store.transaction() as tx:
            tx.put_document(BINDING, model_id, None, self.clock.now())

    def binding_for(self: _Service, model_id: str) -> tuple[str, BehaviorBinding] | None:
        """The binding of ``model_id`` or of its nearest base (breadth first), with the id of
        the model that holds it."""
        bindings = self.store.list_documents(BINDING)
        if not bindings:
            return None
        seen: set[str] = set()
        level = [model_id]
        while level:
            for m in level:
                if m in bindings:
                    return m, BehaviorBinding.parse(bindings[m], self.fmu_dir)
            seen.update(level)
            nxt: list[str] = []
            for m in level:
                iface = self.registry.get(m)
                nxt.extend(e for e in (iface.extends if iface else ()) if e not in seen)
            level = nxt
        return None

    def _twin_bindings(self: _Service, twin_ids: Collection[str]
                       ) -> dict[str, tuple[str, BehaviorBinding, list[str]]]:
        """Twins grouped by the binding that applies to them: holder model -> (holder,
        binding, twins)."""
        groups: dict[str, tuple[str, BehaviorBinding, list[str]]] = {}
        by_model: dict[str, tuple[str, BehaviorBinding] | None] = {}
        for twin_id, model_id in sorted(self.store.twin_models(twin_ids).items()):
            if model_id not in by_model:
                by_model[model_id] = self.binding_for(model_id)
            found = by_model[model_id]
            if found is not None:
                groups.setdefault(found[0], (found[0], found[1], []))[2].append(twin_id)
        return groups

    # estimates -----------------------------------------------------------------------------
    def get_estimate(self: _Service, twin_id: str) -> dict[str, Any]:
        """The current estimate of a twin (404 until its first measurement)."""
        doc = self.store.get_document(ESTIMATE, twin_id)
        if doc is None or doc.get("reset"):
            if self.store.get_twin(twin_id) is None:
                raise NotFoundError("twin", twin_id)
            raise NotFoundError("estimate", twin_id, f"Twin '{twin_id}' has no estimate yet "
                                "(no behavior binding, or no measurement so far)")
        return doc

    def reset_estimate(self: _Service, twin_id: str) -> None:
        """Forget the twin's estimate (its asset was replaced or repaired): the next
        measurement after the twin's latest reading starts a new one. Calibrated parameters
        are kept."""
        latest = [p.time for p in self.store.latest_telemetry(twin_id)
                  if not p.signal.startswith(("estimate.", "timeToEvent."))]
        marker: dict[str, Any] = {"reset": True, "after": max(latest) if latest else None}
        with self.store.transaction() as tx:
            tx.put_document(ESTIMATE, twin_id, marker, self.clock.now())

    def update_estimates(self: _Service, twin_ids: Collection[str]) -> int:
        """Bring the estimates of ``twin_ids`` up to their latest readings; return how many
        twins got a new estimate."""
        updated = 0
        for holder, binding, twins in self._twin_bindings(twin_ids).values():
            updated += Update(self, holder, binding, twins).run()
        return updated

    # predictions ---------------------------------------------------------------------------
    def predict_twins(self: _Service, twin_ids: Sequence[str], *, horizon: float,
                      dt: float = 10.0, method: str = "monte-carlo", samples: int = 200,
                      load: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Predict each twin from its current estimate: time of each event (seconds from the
        estimate's time) with percentiles, and output trajectories with bands. ``load``:
        ``{"times": [...], "values": [[...], ...]}`` (seconds from the estimate, one value
        per input in the behavior's order), default: the inputs held at their last values."""
        if method not in ("monte-carlo", "unscented"):
            raise InvalidInputError("method must be monte-carlo or unscented")
        if not 1 <= samples <= 10_000:
            raise InvalidInputError("samples must be from 1 to 10,000")
        out: dict[str, dict[str, Any]] = {}
        for _, binding, twins in self._twin_bindings(twin_ids).values():
            docs = {k: d for k, d in self.store.list_documents(ESTIMATE, twins).items()
                    if not d.get("reset")}
            missing = [t for t in twins if t not in docs]
            if missing:
                raise NotFoundError("estimate", missing[0],
                                    f"Twin '{missing[0]}' has no estimate to predict from")
            rows = [docs[t] for t in twins]
            calibrations = self.store.list_documents(CALIBRATION, twins)
            behavior = behavior_for(binding, [calibrations.get(t) for t in twins])
            state = GaussianState(np.array([d["mean"] for d in rows]),
                                  np.array([d["cov"] for d in rows]))
            held = np.array([[d.get("inputs", {}).get(i, 0.0) for i in behavior.inputs]
                             for d in rows])
            future = load_of(load, held, len(behavior.inputs))
            prediction = predictor(method, samples).predict(
                behavior, state, future, horizon=horizon, dt=dt,
                t0=np.array([d["t"] for d in rows]))
            for k, twin_id in enumerate(twins):
                out[twin_id] = prediction_json(prediction, behavior, k)
        unknown = [t for t in twin_ids if t not in out]
        if unknown:
            if self.store.get_twin(unknown[0]) is None:
                raise NotFoundError("twin", unknown[0])
            raise InvalidInputError(f"Twin '{unknown[0]}' has no behavior binding")
        return out

    # calibration ---------------------------------------------------------------------------
    def fit_twin_behavior(self: _Service, twin_id: str, names: Sequence[str], start: float,
                          end: float) -> dict[str, Any]:
        """Fit parameters ``names`` of the twin's behavior to its history in [start, end);
        keep them for the twin's estimates and predictions."""
        groups = self._twin_bindings([twin_id])
        if not groups:
            if self.store.get_twin(twin_id) is None:
                raise NotFoundError("twin", twin_id)
            raise InvalidInputError(f"Twin '{twin_id}' has no behavior binding")
        _, binding, _ = next(iter(groups.values()))
        times, inputs, outputs = history(self.store, twin_id, binding, start, end)
        if len(times) < 3:
            raise InvalidInputError(f"Twin '{twin_id}' has {len(times)} measurements in that "
                                    "range; at least 3 are needed to fit")
        behavior = binding.make_behavior()
        x0 = behavior.initial_state()[0]
        for i, s in enumerate(behavior.states):
            x0[i] = binding.initial.get(s, x0[i])
        result = fit_parameters(behavior, list(names), times, inputs, outputs, x0)
        calibration = self.store.get_document(CALIBRATION, twin_id) or {}
        params = dict(calibration.get("parameters", {}))
        params.update({n: float(v) for n, v in result.values.items()})
        with self.store.transaction() as tx:
            tx.put_document(CALIBRATION, twin_id, {"parameters": params, "behavior":
                                                   binding.behavior}, self.clock.now())
        return {"twinId": twin_id, "behavior": binding.behavior, "measurements": len(times),
                "parameters": {n: float(v) for n, v in result.values.items()},
                "standardErrors": {n: _finite(v) for n, v in result.stderr.items()},
                "residualRms": {n: _finite(v) for n, v in result.rms.items()},
                "success": bool(result.success), "message": str(result.message)}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
