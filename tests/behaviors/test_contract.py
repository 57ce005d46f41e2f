"""The contract every behavior keeps, run against every registered behavior (a new behavior is
tested by being added to ``BEHAVIORS`` and given a typical input here)."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import pkgutil
import re

import numpy as np
import pytest

import holotwin.behaviors
from holotwin.behaviors import BEHAVIORS, INTEGRATORS, Behavior, ContinuousBehavior
from holotwin.behaviors.fmu import FmuBehavior
from holotwin.errors import InvalidInputError

#: a typical operating input of each behavior, and a step (s) it is simulated with
TYPICAL: dict[str, tuple[list[float], float]] = {
    "battery-circuit": ([2.0], 1.0),
    "building-zone": ([2000.0, 278.15, 300.0, 200.0], 900.0),
    "centrifugal-pump": ([150.0, 8800.0], 1.0),
    "rotating-machine": ([50 * math.pi, 3000.0, 293.15], 10.0),
    "wind-turbine": ([12.0, 288.15], 60.0),
}
CLASSES = sorted(BEHAVIORS.values(), key=lambda cls: cls.name)
KEBAB = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def _typical(cls: type[Behavior], batch: int) -> tuple[np.ndarray, float]:
    u, dt = TYPICAL[cls.name]
    return np.tile(np.asarray(u, dtype=np.float64), (batch, 1)), dt


def test_every_behavior_in_the_package_is_registered_and_has_a_typical_input() -> None:
    for info in pkgutil.iter_modules(holotwin.behaviors.__path__):
        importlib.import_module(f"holotwin.behaviors.{info.name}")
    found: set[type[object]] = set()
    pending: list[type[object]] = [Behavior]
    while pending:
        subclasses: list[type[object]] = pending.pop().__subclasses__()
        for sub in subclasses:
            pending.append(sub)
            if sub.__module__.startswith("holotwin.behaviors") and not inspect.isabstract(sub):
                found.add(sub)
    # FmuBehavior is made per FMU file, so it is not a built-in: tests/behaviors/test_fmu.py
    # holds its contract, on FMUs built there
    # (and so are the classes it makes, one per FMU, once other tests have made some)
    assert {c for c in found if not issubclass(c, FmuBehavior)} == set(BEHAVIORS.values())
    assert set(TYPICAL) == set(BEHAVIORS)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_declarations(cls: type[Behavior]) -> None:
    assert KEBAB.fullmatch(cls.name), cls.name
    assert BEHAVIORS[cls.name] is cls
    for names in (cls.states, cls.inputs, cls.outputs, cls.events, cls.derived):
        assert isinstance(names, tuple) and len(set(names)) == len(names)
        assert all(isinstance(n, str) and n for n in names)
    assert cls.states and cls.outputs
    assert len(cls.initial) == len(cls.states)
    assert len(cls.default_process_noise) == len(cls.states)
    assert len(cls.default_measurement_noise) == len(cls.outputs)
    assert min(cls.default_process_noise) >= 0 and min(cls.default_measurement_noise) > 0
    assert cls.__doc__ and inspect.getmodule(cls).__doc__
    if issubclass(cls, ContinuousBehavior):
        assert cls.integrator in INTEGRATORS


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_every_parameter_has_a_unit_a_description_and_a_finite_default(
        cls: type[Behavior]) -> None:
    assert cls.parameters
    for key, spec in cls.parameters.items():
        assert spec.unit and spec.unit.strip() == spec.unit, key
        assert spec.description, key
        assert math.isfinite(spec.value), key


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_shapes(cls: type[Behavior]) -> None:
    model = cls()
    batch = 3
    x = model.initial_state(batch)
    u, dt = _typical(cls, batch)
    n_x, n_z, n_e = len(cls.states), len(cls.outputs), len(cls.events)
    assert x.shape == (batch, n_x)
    assert model.next_state(x, u, dt).shape == (batch, n_x)
    assert model.output(x).shape == (batch, n_z)
    events = model.event_state(x)
    assert events.shape == (batch, n_e) and np.all(np.isfinite(events))
    met = model.threshold_met(x)
    assert met.shape == (batch, n_e) and met.dtype == np.bool_
    derived = model.derive(x)
    assert derived.shape == (batch, len(cls.derived)) and np.all(np.isfinite(derived))
    assert model.process_noise.shape == (n_x,)
    assert model.measurement_noise.shape == (n_z,)
    assert model.simulate(x, u, dt, 4).shape == (5, batch, n_x)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_describe(cls: type[Behavior]) -> None:
    described = cls().describe()
    json.dumps(described)
    assert described["name"] == cls.name
    assert set(described["parameters"]) == set(cls.parameters)
    assert described["states"] == list(cls.states) and described["doc"]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_a_short_simulation_from_the_initial_state_stays_finite(cls: type[Behavior]) -> None:
    model = cls()
    u, dt = _typical(cls, 1)
    x = model.initial_state()
    for _ in range(50):
        x = model.next_state(x, u, dt)
        assert np.all(np.isfinite(x)) and np.all(np.isfinite(model.output(x)))
        assert np.all(np.isfinite(model.event_state(x))) and np.all(np.isfinite(model.derive(x)))


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_rows_with_their_own_parameters_match_row_by_row(cls: type[Behavior]) -> None:
    factors = np.array([1.0, 1.03, 0.97])
    batched = cls(**{k: s.value * factors for k, s in cls.parameters.items()})
    u, dt = _typical(cls, 3)
    x = batched.initial_state(3)
    rows = [batched.initial_state(1) for _ in factors]
    singles = [cls(**{k: s.value * f for k, s in cls.parameters.items()}) for f in factors]
    for _ in range(20):
        x = batched.next_state(x, u, dt)
        rows = [m.next_state(r, u[:1], dt) for m, r in zip(singles, rows, strict=True)]
    np.testing.assert_allclose(x, np.vstack(rows), rtol=1e-12, atol=0.0)
    np.testing.assert_allclose(batched.output(x),
                               np.vstack([m.output(r) for m, r in zip(singles, rows, strict=True)]),
                               rtol=1e-12, atol=0.0)
    for method in ("event_state", "derive"):
        np.testing.assert_allclose(
            getattr(batched, method)(x),
            np.vstack([getattr(m, method)(r) for m, r in zip(singles, rows, strict=True)]),
            rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_rows_with_their_own_steps_match_row_by_row(cls: type[Behavior]) -> None:
    model = cls()
    u, dt = _typical(cls, 3)
    steps = np.array([[0.5 * dt], [dt], [2.0 * dt]])
    x = model.next_state(model.next_state(model.initial_state(3), u, dt), u, steps)
    for row in range(3):
        alone = model.next_state(model.next_state(model.initial_state(), u[:1], dt), u[:1],
                                 float(steps[row, 0]))
        np.testing.assert_allclose(x[row], alone[0], rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.name)
def test_one_input_row_is_broadcast_to_every_state_row(cls: type[Behavior]) -> None:
    model = cls()
    u, dt = _typical(cls, 1)
    x = model.next_state(model.initial_state(), u, dt)
    batch = np.vstack([x, x])
    np.testing.assert_allclose(model.next_state(batch, u, dt), model.next_state(batch,
                               np.vstack([u, u]), dt), rtol=1e-15)


def test_parameters_reject_unknown_names() -> None:
    for cls in CLASSES:
        with pytest.raises(InvalidInputError, match="has no parameter"):
            cls(no_such_parameter=1.0)
