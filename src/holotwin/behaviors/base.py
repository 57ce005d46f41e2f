"""The behavior model API: a model is data (names, parameters with units) plus pure maths.

A :class:`Behavior` names its ``states``, ``inputs``, ``outputs`` and ``events`` and declares
its ``parameters`` (default value, SI unit, meaning). Its maths is written once, vectorized over
a leading batch axis: ``x`` is an array of shape ``(B, len(states))``, ``u`` of shape
``(B, len(inputs))``, and an output ``z`` of shape ``(B, len(outputs))``. ``B`` counts whatever
is being computed at once: many twins, many samples of one twin's uncertain state, or both
(flattened). A parameter is a scalar, or an array of shape ``(B,)`` when each row has its own
value (a fleet of twins each calibrated to its own asset).

- :meth:`Behavior.next_state` advances the state by ``dt`` seconds. A continuous-time model
  (:class:`ContinuousBehavior`) writes only the derivative :meth:`ContinuousBehavior.dx` and is
  integrated (forward Euler by default, the convention of NASA's ProgPy, or classic RK4).
- :meth:`Behavior.output` gives what sensors see; :meth:`Behavior.event_state` how far each
  event is from happening (1: far, 0: it happens) and :meth:`Behavior.threshold_met` whether it
  has happened, so a predictor can compute time-to-event (remaining useful life).
- :meth:`Behavior.derive` computes the ``derived`` quantities people ask for from a state
  (state of charge from the charge in a cell, health from wear).
- ``process_noise`` and ``measurement_noise`` are variances per state and per output (per
  ``dt`` of 1 s for the process), the defaults an estimator starts from.

Example, a first-order cooling law (Newton), integrated by Euler:

>>> import numpy as np
>>> class Cooling(ContinuousBehavior):
...     states = ("temperature",)
...     inputs = ("ambient",)
...     outputs = ("temperature",)
...     parameters = {"tau": Parameter(100.0, "s", "time constant")}
...     def dx(self, x, u):
...         return (u - x) / self.p["tau"][:, None]
...     def output(self, x):
...         return x
>>> m = Cooling()
>>> x = m.next_state(np.array([[80.0], [20.0]]), np.array([[20.0], [20.0]]), dt=10.0)
>>> x.round(3).tolist()
[[74.0], [20.0]]
>>> Cooling(tau=np.array([10.0, 20.0])).next_state(np.array([[80.0], [80.0]]),
...                                                np.array([[20.0]]), dt=1.0).tolist()
[[74.0], [77.0]]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.errors import InvalidInputError

__all__ = ["INTEGRATORS", "Array", "Behavior", "ContinuousBehavior", "Parameter"]

Array = NDArray[np.float64]
INTEGRATORS = ("euler", "rk4")


@dataclass(frozen=True)
class Parameter:
    """A parameter's default ``value``, its SI ``unit`` (DTDL unit names where one exists,
    ``"1"`` for a ratio) and what it means."""

    value: float
    unit: str = "1"
    description: str = ""


class Behavior(ABC):
    """A behavior model; see the module docs. Subclasses set the class attributes and write
    :meth:`next_state` and :meth:`output` (or :class:`ContinuousBehavior` and ``dx``)."""

    #: the name a twin model's binding uses (``"battery-circuit"``); default: the class name
    name: ClassVar[str] = ""
    states: ClassVar[tuple[str, ...]] = ()
    inputs: ClassVar[tuple[str, ...]] = ()
    outputs: ClassVar[tuple[str, ...]] = ()
    events: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[Mapping[str, Parameter]] = {}
    #: quantities computed from the state that people ask for (state of charge, health...)
    derived: ClassVar[tuple[str, ...]] = ()
    #: default initial state, one value per state
    initial: ClassVar[tuple[float, ...]] = ()
    #: default variances: per state (per second of process), per output
    default_process_noise: ClassVar[tuple[float, ...]] = ()
    default_measurement_noise: ClassVar[tuple[float, ...]] = ()

    def __init__(self, **parameters: ArrayLike) -> None:
        """Override parameter defaults by name: a number, or an array of shape ``(B,)``."""
        unknown = sorted(set(parameters) - set(self.parameters))
        if unknown:
            raise InvalidInputError(
                f"{self.behavior_name} has no parameter {unknown[0]!r}; its parameters: "
                f"{', '.join(self.parameters) or 'none'}")
        self.p: dict[str, Array] = {}
        for key, spec in self.parameters.items():
            raw = parameters.get(key, spec.value)
            value = np.atleast_1d(np.asarray(raw, dtype=np.float64))
            if value.ndim != 1 or not np.all(np.isfinite(value)):
                raise InvalidInputError(
                    f"Parameter {key!r} of {self.behavior_name} must be a finite number or a "
                    f"1-D array of them, got {raw!r}")
            self.p[key] = value
        self.process_noise = self._noise(self.default_process_noise, self.states, "process")
        self.measurement_noise = self._noise(self.default_measurement_noise, self.outputs,
                                             "measurement")

    def _noise(self, values: tuple[float, ...], names: tuple[str, ...], kind: str) -> Array:
        if not values:
            return np.zeros(len(names))
        if len(values) != len(names):
            raise TypeError(f"{type(self).__name__}: default {kind} noise needs one variance "
                            f"per {'state' if kind == 'process' else 'output'}")
        return np.asarray(values, dtype=np.float64)

    @property
    def behavior_name(self) -> str:
        return self.name or type(self).__name__

    # the maths ---------------------------------------------------------------------------
    @abstractmethod
    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        """The state ``dt`` seconds after ``x`` under inputs ``u`` (held over the step).
        ``dt`` is a number, or an array of shape ``(B, 1)`` when rows step by different
        times (twins whose last measurements came at different times)."""

    @abstractmethod
    def output(self, x: Array) -> Array:
        """What the sensors measure in state ``x``: shape ``(B, len(outputs))``."""

    def event_state(self, x: Array) -> Array:
        """How far each event is: 1 far, 0 reached; shape ``(B, len(events))``."""
        return np.ones((x.shape[0], len(self.events)))

    def threshold_met(self, x: Array) -> NDArray[np.bool_]:
        """Whether each event has happened in state ``x``: shape ``(B, len(events))``."""
        return self.event_state(x) <= 0.0

    def derive(self, x: Array) -> Array:
        """The ``derived`` quantities of state ``x``: shape ``(B, len(derived))``."""
        return np.zeros((x.shape[0], 0))

    def initial_state(self, batch: int = 1) -> Array:
        """The default initial state repeated ``batch`` times."""
        if not self.initial:
            raise InvalidInputError(f"{self.behavior_name} has no default initial state")
        return np.tile(np.asarray(self.initial, dtype=np.float64), (batch, 1))

    # helpers for callers -----------------------------------------------------------------
    def as_batch(self, value: ArrayLike, names: tuple[str, ...], what: str) -> Array:
        """``value`` as a ``(B, len(names))`` array: a row is broadcast to one batch row."""
        array = np.asarray(value, dtype=np.float64)
        if array.ndim == 1:
            array = array[None, :]
        if array.ndim != 2 or array.shape[1] != len(names):
            raise InvalidInputError(
                f"{what} of {self.behavior_name} must have {len(names)} columns "
                f"({', '.join(names)}), got shape {array.shape}")
        return array

    def simulate(self, x0: ArrayLike, u: ArrayLike, dt: float, steps: int) -> Array:
        """States after each of ``steps`` steps of ``dt`` under constant inputs ``u``:
        shape ``(steps + 1, B, len(states))``, the first being ``x0``."""
        if not dt > 0 or steps < 0:
            raise InvalidInputError(f"dt must be > 0 and steps >= 0, got {dt}, {steps}")
        x = self.as_batch(x0, self.states, "The state")
        inputs = self.as_batch(u, self.inputs, "The input") if self.inputs else \
            np.zeros((x.shape[0], 0))
        out = np.empty((steps + 1, *x.shape))
        out[0] = x
        for k in range(steps):
            x = self.next_state(x, inputs, dt)
            out[k + 1] = x
        return out

    def describe(self) -> dict[str, Any]:
        """Names, parameters with units, defaults: what the API shows of a behavior."""
        return {
            "name": self.behavior_name,
            "states": list(self.states),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "events": list(self.events),
            "derived": list(self.derived),
            "parameters": {k: {"value": float(self.p[k][0]) if self.p[k].size == 1
                               else self.p[k].tolist(), "unit": s.unit,
                               "description": s.description}
                           for k, s in self.parameters.items()},
            "doc": (type(self).__doc__ or "").strip().split("\n\n")[0],
        }


class ContinuousBehavior(Behavior):
    """A continuous-time model: write :meth:`dx`; ``next_state`` integrates it over ``dt``
    with ``integrator`` ("euler": one forward Euler step, ProgPy's default, so results can
    be compared with it; "rk4": the classic fourth-order Runge-Kutta step)."""

    integrator: ClassVar[str] = "euler"
    #: the longest stable integration step, seconds (None: any): a longer ``dt`` is taken in
    #: equal sub-steps no longer than it, so data every 10 s can drive a model whose fastest
    #: time constant is a second
    max_step: ClassVar[float | None] = None

    @abstractmethod
    def dx(self, x: Array, u: Array) -> Array:
        """The time derivative of the state (units of each state per second)."""

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        if self.integrator not in INTEGRATORS:
            raise InvalidInputError(f"{self.behavior_name}: unknown integrator "
                                    f"{self.integrator!r}; use one of {', '.join(INTEGRATORS)}")
        if self.max_step is not None and x.shape[0]:
            span = np.asarray(dt, dtype=np.float64)
            # each row in as many equal sub-steps as it would take alone, so a batch gives
            # the same numbers as its rows one by one
            steps = np.maximum(np.ceil(span / self.max_step - 1e-9), 1.0)
            most = int(np.max(steps))
            if most > 1:
                h = span / steps
                if span.ndim == 0:
                    for _ in range(most):
                        x = self._step(x, u, h)
                    return x
                for k in range(most):
                    moved = self._step(x, u, h)
                    x = np.where(steps > k, moved, x)
                return x
        return self._step(x, u, dt)

    def _step(self, x: Array, u: Array, dt: float | Array) -> Array:
        if self.integrator == "rk4":
            k1 = self.dx(x, u)
            k2 = self.dx(x + 0.5 * dt * k1, u)
            k3 = self.dx(x + 0.5 * dt * k2, u)
            k4 = self.dx(x + dt * k3, u)
            return x + dt / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
        return x + dt * self.dx(x, u)
