"""How a twin model declares its behavior: :class:`BehaviorBinding`.

A binding is stored per DTDL model (``PUT /models/{id}/behavior``) and applies to the twins of
that model and of the models that extend it (the nearest binding wins). As JSON::

    {
      "behavior": "battery-circuit",                    # a name from holotwin.behaviors.BEHAVIORS
      "inputs": {"i": "current"},                       # behavior input  <- telemetry signal
      "outputs": {"t": "temperature", "v": "voltage"},  # behavior output <- telemetry signal
      "parameters": {"qMax": 7600},                     # overrides of the behavior's defaults
      "initial": {"qb": 7600}, "initialStd": {"qb": 200},   # the first estimate (default:
                                                        # the behavior's initial state)
      "estimator": "unscented",                         # unscented | kalman | particle
      "processNoise": {"qb": 0.01},                     # variances per second, per state
      "measurementNoise": {"v": 0.02},                  # variances, per output
      "prediction": {"every": 60, "horizon": 7200, "dt": 10, "method": "unscented",
                     "samples": 200}                    # the live time-to-event (optional)
    }

Inputs are held from one reading to the next; a measurement is the set of output signals
read at one source time (missing ones are left out of that correction).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from holotwin.behaviors import BEHAVIORS, Behavior, behavior_class
from holotwin.errors import InvalidInputError, NotFoundError

__all__ = ["ESTIMATORS", "PREDICTORS", "BehaviorBinding", "PredictionSettings"]

ESTIMATORS = ("unscented", "kalman", "particle")
PREDICTORS = ("unscented", "monte-carlo")
_KEYS = {"behavior", "inputs", "outputs", "parameters", "initial", "initialStd", "estimator",
         "processNoise", "measurementNoise", "prediction"}


def _number(value: object, where: str, *, positive: bool = False, minimum: float = -math.inf
            ) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{where} must be a finite number, got {value!r}")
    if (positive and value <= 0) or value < minimum:
        raise InvalidInputError(f"{where} must be {'positive' if positive else f'>= {minimum}'}, "
                                f"got {value!r}")
    return float(value)


def _names(raw: object, allowed: tuple[str, ...], where: str, *, signals: bool = False,
           minimum: float = -math.inf) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInputError(f"{where} must be an object, got {raw!r}")
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in allowed:
            raise InvalidInputError(f"{where}: {name!r} is not one of {', '.join(allowed)}")
        if signals:
            if not isinstance(value, str) or not value:
                raise InvalidInputError(f"{where}.{name} must name a telemetry signal")
            out[name] = value
        else:
            out[name] = _number(value, f"{where}.{name}", minimum=minimum)
    return out


@dataclass(frozen=True)
class PredictionSettings:
    """The live time-to-event: recomputed when ``every`` seconds of data have passed since the
    last one, simulating up to ``horizon`` s in steps of ``dt`` with the inputs held."""

    every: float = 60.0
    horizon: float = 86_400.0
    dt: float = 10.0
    method: str = "unscented"
    samples: int = 200

    @classmethod
    def parse(cls, raw: object) -> PredictionSettings:
        if not isinstance(raw, dict):
            raise InvalidInputError(f"prediction must be an object, got {raw!r}")
        unknown = set(raw) - {"every", "horizon", "dt", "method", "samples"}
        if unknown:
            raise InvalidInputError(f"prediction: unknown member {sorted(unknown)[0]!r}")
        method = raw.get("method", "unscented")
        if method not in PREDICTORS:
            raise InvalidInputError(f"prediction.method must be one of {', '.join(PREDICTORS)}")
        samples = raw.get("samples", 200)
        if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 10000:
            raise InvalidInputError("prediction.samples must be an integer from 1 to 10000")
        settings = cls(
            every=_number(raw.get("every", 60.0), "prediction.every", minimum=0.0),
            horizon=_number(raw.get("horizon", 86_400.0), "prediction.horizon", positive=True),
            dt=_number(raw.get("dt", 10.0), "prediction.dt", positive=True),
            method=method, samples=samples)
        if settings.horizon / settings.dt > 100_000:
            raise InvalidInputError("prediction: horizon / dt is over 100,000 steps")
        return settings


@dataclass(frozen=True)
class BehaviorBinding:
    """A model's behavior and how its twins' telemetry feeds it; see the module docs."""

    behavior: str
    inputs: dict[str, str]
    outputs: dict[str, str]
    parameters: dict[str, float] = field(default_factory=dict)
    initial: dict[str, float] = field(default_factory=dict)
    initial_std: dict[str, float] = field(default_factory=dict)
    estimator: str = "unscented"
    process_noise: dict[str, float] = field(default_factory=dict)
    measurement_noise: dict[str, float] = field(default_factory=dict)
    prediction: PredictionSettings | None = None

    @classmethod
    def parse(cls, raw: object) -> BehaviorBinding:
        """Check a binding document; an InvalidInputError names the member at fault."""
        if not isinstance(raw, dict):
            raise InvalidInputError("A behavior binding must be a JSON object")
        unknown = set(raw) - _KEYS
        if unknown:
            raise InvalidInputError(f"Unknown member {sorted(unknown)[0]!r} in the binding; "
                                    f"known: {', '.join(sorted(_KEYS))}")
        name = raw.get("behavior")
        if not isinstance(name, str):
            raise InvalidInputError("behavior must name a behavior, e.g. 'battery-circuit'")
        try:
            kind = behavior_class(name)
        except NotFoundError:
            raise InvalidInputError(f"Unknown behavior {name!r}; known: "
                                    f"{', '.join(sorted(BEHAVIORS))}") from None
        estimator = raw.get("estimator", "unscented")
        if estimator not in ESTIMATORS:
            raise InvalidInputError(f"estimator must be one of {', '.join(ESTIMATORS)}")
        binding = cls(
            behavior=name,
            inputs=_names(raw.get("inputs"), kind.inputs, "inputs", signals=True),
            outputs=_names(raw.get("outputs"), kind.outputs, "outputs", signals=True),
            parameters=_names(raw.get("parameters"), tuple(kind.parameters), "parameters"),
            initial=_names(raw.get("initial"), kind.states, "initial"),
            initial_std=_names(raw.get("initialStd"), kind.states, "initialStd", minimum=0.0),
            estimator=estimator,
            process_noise=_names(raw.get("processNoise"), kind.states, "processNoise",
                                 minimum=0.0),
            measurement_noise=_names(raw.get("measurementNoise"), kind.outputs,
                                     "measurementNoise", minimum=0.0),
            prediction=None if raw.get("prediction") is None
            else PredictionSettings.parse(raw["prediction"]),
        )
        if not binding.outputs:
            raise InvalidInputError("outputs must map at least one behavior output to a signal")
        missing = [i for i in kind.inputs if i not in binding.inputs]
        if missing:
            raise InvalidInputError(f"inputs must map every input of {name}: missing "
                                    f"{', '.join(missing)}")
        binding.make_behavior()  # parameters the behavior itself refuses
        return binding

    def make_behavior(self, parameters: dict[str, Any] | None = None) -> Behavior:
        """The behavior with this binding's parameters (and ``parameters``, e.g. one array per
        parameter for a batch of twins calibrated each to its own asset)."""
        return behavior_class(self.behavior)(**{**self.parameters, **(parameters or {})})

    @property
    def key(self) -> str:
        """What tells this binding's behavior apart from others': twins whose bindings share
        a key can be simulated in one batch (their behaviors differ by parameters only)."""
        return self.behavior

    def signals(self) -> set[str]:
        """Every telemetry signal the binding reads."""
        return set(self.inputs.values()) | set(self.outputs.values())

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"behavior": self.behavior, "inputs": self.inputs,
                               "outputs": self.outputs, "estimator": self.estimator}
        for key, value in (("parameters", self.parameters), ("initial", self.initial),
                           ("initialStd", self.initial_std), ("processNoise", self.process_noise),
                           ("measurementNoise", self.measurement_noise)):
            if value:
                doc[key] = value
        if self.prediction is not None:
            p = self.prediction
            doc["prediction"] = {"every": p.every, "horizon": p.horizon, "dt": p.dt,
                                 "method": p.method, "samples": p.samples}
        return doc
