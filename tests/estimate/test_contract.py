"""The contract every estimator keeps, run against each estimator on each test behavior."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

import holotwin.estimate
from holotwin.behaviors import BatteryCircuit, Behavior, GaussianState, SampledState
from holotwin.errors import InvalidInputError
from holotwin.estimate import ParticleFilter
from holotwin.estimate.base import Estimator

from .models import ESTIMATORS, ConstantVelocity, inputs, make, prior

BEHAVIORS = [BatteryCircuit, ConstantVelocity]

contract = pytest.mark.parametrize(
    ("cls", "behavior_type"),
    [(c, b) for c in ESTIMATORS for b in BEHAVIORS],
    ids=lambda v: v.__name__)


def _snapshot(estimator: Estimator) -> list[np.ndarray]:
    state = estimator.state
    if isinstance(state, SampledState):
        assert state.weights is not None
        return [state.samples, state.weights, estimator.t.copy()]
    return [state.mean, state.cov, estimator.t.copy()]


def _measure(behavior: Behavior, estimator: Estimator, offset: float = 0.01) -> np.ndarray:
    """Outputs a little away from those of the current mean."""
    return np.asarray(behavior.output(estimator.state.mean) * (1.0 + offset))


@contract
def test_state_shapes(cls: type[Estimator], behavior_type: type[Behavior]) -> None:
    behavior = behavior_type()
    n = len(behavior.states)
    estimator = make(cls, behavior, prior(behavior, 3), t0=[0.0, 1.0, 2.0])
    for _ in range(2):
        state = estimator.state
        assert state.batch == 3 and state.mean.shape == (3, n) and state.cov.shape == (3, n, n)
        if cls is ParticleFilter:
            assert isinstance(state, SampledState) and state.samples.shape == (3, 300, n)
            assert state.weights is not None and state.weights.shape == (3, 300)
            np.testing.assert_allclose(state.weights.sum(axis=1), 1.0, rtol=1e-12)
        else:
            assert isinstance(state, GaussianState)
        assert estimator.t.shape == (3,)
        estimator.estimate(3.0, inputs(behavior, 3), _measure(behavior, estimator))
    assert estimator.t.tolist() == [3.0, 3.0, 3.0]
    # the state handed out is a copy: changing it does not change the estimator
    before = _snapshot(estimator)
    after = estimator.state
    if isinstance(after, SampledState):
        after.samples[:] = 0.0
    else:
        after.mean[:] = 0.0
    for old, new in zip(before, _snapshot(estimator), strict=True):
        np.testing.assert_array_equal(old, new)


@contract
def test_mask_leaves_other_rows_alone(cls: type[Estimator],
                                      behavior_type: type[Behavior]) -> None:
    behavior = behavior_type()
    estimator = make(cls, behavior, prior(behavior, 4))
    before = _snapshot(estimator)
    mask = np.array([True, False, True, False])
    z = _measure(behavior, estimator)
    z[~mask] = np.inf  # rows outside the mask are not read at all
    estimator.estimate([2.0, -5.0, 2.0, np.nan], inputs(behavior, 4), z, mask=mask)
    after = _snapshot(estimator)
    for old, new in zip(before, after, strict=True):
        np.testing.assert_array_equal(old[~mask], new[~mask])
    # the selected rows moved (weights of a resampled row may be equal again)
    assert not np.array_equal(before[0][mask], after[0][mask])
    assert estimator.t.tolist() == [2.0, 0.0, 2.0, 0.0]
    estimator.estimate(1.0, inputs(behavior, 4), _measure(behavior, estimator),
                       mask=np.zeros(4, dtype=bool))
    for old, new in zip(after, _snapshot(estimator), strict=True):
        np.testing.assert_array_equal(old, new)


@contract
def test_a_nan_output_counts_as_not_measured(cls: type[Estimator],
                                             behavior_type: type[Behavior]) -> None:
    """An output that is NaN in a row is as if measured with an infinite variance."""
    behavior = behavior_type()
    m = len(behavior.outputs)
    reference = make(cls, behavior, prior(behavior, 2))
    z = _measure(behavior, reference, offset=0.03)
    for missing in [[0], [1], [0, 1]]:
        with_nan = make(cls, behavior, prior(behavior, 2))
        vague = np.array(behavior.measurement_noise)
        vague[missing] = 1e300
        without = make(cls, behavior, prior(behavior, 2), measurement_noise=vague)
        partial = z.copy()
        partial[:, missing] = np.nan
        for step in (1.0, 2.0):
            with_nan.estimate(step, inputs(behavior, 2), partial)
            without.estimate(step, inputs(behavior, 2), z)
        for a, b in zip(_snapshot(with_nan), _snapshot(without), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
        measured = make(cls, behavior, prior(behavior, 2))
        measured.estimate(1.0, inputs(behavior, 2), z)
        assert not np.allclose(measured.state.mean, with_nan.state.mean, rtol=1e-12,
                               atol=0.0), "the measurement of the other output was used"
    assert m == 2


@contract
def test_measurements_must_come_in_time_order(cls: type[Estimator],
                                              behavior_type: type[Behavior]) -> None:
    behavior = behavior_type()
    estimator = make(cls, behavior, prior(behavior, 3), t0=10.0)
    u = inputs(behavior, 3)
    estimator.estimate(12.0, u, _measure(behavior, estimator))
    before = _snapshot(estimator)
    with pytest.raises(InvalidInputError, match="older than the estimate"):
        estimator.estimate(11.0, u, _measure(behavior, estimator))
    with pytest.raises(InvalidInputError, match="older than the estimate"):
        estimator.estimate([13.0, 11.9, 13.0], u, _measure(behavior, estimator))
    for old, new in zip(before, _snapshot(estimator), strict=True):
        np.testing.assert_array_equal(old, new)  # a refused call changes nothing
    estimator.estimate(12.0, u, _measure(behavior, estimator))  # same time: fine
    # the bad row is only checked when selected
    estimator.estimate([13.0, 5.0, 13.0], u, _measure(behavior, estimator),
                       mask=np.array([True, False, True]))
    assert estimator.t.tolist() == [13.0, 12.0, 13.0]


@contract
def test_times_are_kept_as_given(cls: type[Estimator], behavior_type: type[Behavior]) -> None:
    """(t - t0) + t0 is not always t in floating point; the estimate's time is t."""
    behavior = behavior_type()
    estimator = make(cls, behavior, prior(behavior, 2), t0=4.590813805482185)
    estimator.estimate(3837.7214032068173, inputs(behavior, 2), _measure(behavior, estimator))
    assert estimator.t.tolist() == [3837.7214032068173] * 2


@contract
def test_bad_shapes_are_refused(cls: type[Estimator], behavior_type: type[Behavior]) -> None:
    behavior = behavior_type()
    n, n_u, n_z = len(behavior.states), len(behavior.inputs), len(behavior.outputs)
    estimator = make(cls, behavior, prior(behavior, 3))
    u, z = inputs(behavior, 3), _measure(behavior, estimator)
    cases = [
        ("u must have shape", dict(u=np.zeros((3, n_u + 1)))),
        ("u must have shape", dict(u=np.zeros((2, n_u)))),
        ("u must be finite", dict(u=np.full((3, n_u), np.nan))),
        ("z must have shape", dict(z=z[:2])),
        ("z must have shape", dict(z=z[0])),
        ("z must have shape", dict(z=np.zeros((3, n_z + 1)))),
        ("z must be finite or NaN", dict(z=np.where(np.eye(3, n_z) > 0, np.inf, z))),
        ("mask must be 3 booleans", dict(mask=np.array([True, False]))),
        ("mask must be 3 booleans", dict(mask=np.array([0, 1, 2]))),
        ("t must be a finite number or 3", dict(t=[1.0, 2.0])),
        ("t must be a finite number or 3", dict(t=np.nan)),
        ("t must be a finite number or 3", dict(t="soon")),
        ("u must be an array of numbers", dict(u=[[1.0], [2.0, 3.0], []])),
    ]
    for message, change in cases:
        call = {"t": 1.0, "u": u, "z": z, "mask": None, **change}
        with pytest.raises(InvalidInputError, match=message):
            estimator.estimate(call["t"], call["u"], call["z"], mask=call["mask"])
    assert estimator.t.tolist() == [0.0, 0.0, 0.0]
    estimator.estimate(1.0, u[0], z)  # one row of inputs is broadcast to all rows
    with pytest.raises(InvalidInputError, match=f"has {n + 1} states per row"):
        make(cls, behavior, GaussianState(np.zeros((2, n + 1)), np.tile(np.eye(n + 1), (2, 1, 1))))
    with pytest.raises(InvalidInputError, match="process_noise must be"):
        make(cls, behavior, prior(behavior, 2), process_noise=np.ones(n + 1))
    with pytest.raises(InvalidInputError, match="measurement_noise must be"):
        make(cls, behavior, prior(behavior, 2), measurement_noise=[-1.0] * n_z)
    with pytest.raises(InvalidInputError, match="t0 must be"):
        make(cls, behavior, prior(behavior, 2), t0=[0.0, 1.0, 2.0])


@contract
def test_broadcast_input_equals_repeated_rows(cls: type[Estimator],
                                              behavior_type: type[Behavior]) -> None:
    behavior = behavior_type()
    one, many = (make(cls, behavior, prior(behavior, 3)) for _ in range(2))
    u = inputs(behavior, 1)[0]
    z = _measure(behavior, one)
    one.estimate(1.0, u, z)
    many.estimate(1.0, np.tile(u, (3, 1)), z)
    for a, b in zip(_snapshot(one), _snapshot(many), strict=True):
        np.testing.assert_array_equal(a, b)


def test_per_twin_parameters_must_match_the_batch() -> None:
    cell = BatteryCircuit(qMax=[7856.0, 7800.0, 7700.0])
    for cls in ESTIMATORS:
        with pytest.raises(InvalidInputError, match="'qMax' of battery-circuit has 3 values"):
            make(cls, cell, prior(cell, 2))


@pytest.mark.parametrize("module", ["base", "kalman", "unscented", "particle", "_step"])
def test_doctests_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"holotwin.estimate.{module}"))
    assert result.failed == 0
    assert result.attempted > 0 or module in ("base", "_step")


def test_public_api() -> None:
    assert holotwin.estimate.__all__ == ["Estimator", "Innovation", "KalmanFilter",
                                         "ParticleFilter", "UnscentedKalmanFilter"]
    assert all(issubclass(getattr(holotwin.estimate, name), Estimator)
               for name in holotwin.estimate.__all__ if name != "Innovation")


class _Counting(ConstantVelocity):
    """Records the shapes of every ``next_state`` and ``output`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []

    def next_state(self, x: np.ndarray, u: np.ndarray, dt: float | np.ndarray) -> np.ndarray:
        self.calls.append(("next_state", x.shape, np.shape(dt)))
        return super().next_state(x, u, dt)

    def output(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(("output", x.shape, ()))
        return super().output(x)


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_one_model_call_per_estimate_for_all_rows(cls: type[Estimator]) -> None:
    behavior = _Counting()
    estimator = make(cls, behavior, prior(behavior, 5))
    points = 300 if cls is ParticleFilter else 2 * 2 + 1  # particles, or 2n + 1
    mask = np.array([True, True, False, True, False])
    z = np.ones((5, 2))
    estimator.estimate([1.0, 2.0, 3.0, 4.0, 5.0], inputs(behavior, 5), z, mask=mask)
    assert behavior.calls == [("next_state", (3 * points, 2), (3 * points, 1)),
                              ("output", (3 * points, 2), ())]


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_innovations_are_standard_normal_while_the_model_fits(cls: type[Estimator]) -> None:
    """Measurement minus prediction over its expected spread is N(0, 1) for data the model
    made itself (what the residual anomaly detector relies on), and grows with a fault."""
    behavior = ConstantVelocity()
    rng = np.random.default_rng(7)
    batch, steps = 40, 150
    truth = behavior.initial_state(batch)
    estimator = make(cls, behavior, GaussianState(truth.copy(), np.tile(np.diag([0.01, 0.01]),
                                                                       (batch, 1, 1))))
    assert estimator.innovation is None
    u = np.full((batch, 1), 0.1)
    q, r = np.array(behavior.process_noise), np.array(behavior.measurement_noise)
    normalized = []
    for k in range(1, steps + 1):
        truth = behavior.next_state(truth, u, 1.0) + rng.standard_normal(truth.shape) * np.sqrt(q)
        z = behavior.output(truth) + rng.standard_normal(truth.shape) * np.sqrt(r)
        if k == steps:
            z[:, 0] += 10 * np.sqrt(r[0])  # a fault: the position is 10 sigma off
        estimator.estimate(float(k), u, z)
        assert estimator.innovation is not None
        normalized.append(estimator.innovation.normalized)
    values = np.array(normalized[20:-1])  # after the filter settled, before the fault
    assert values.shape == (steps - 21, batch, 2)
    assert 0.8 < float(np.mean(values**2)) < 1.25
    assert abs(float(np.mean(values))) < 0.1
    assert float(np.median(np.abs(normalized[-1][:, 0]))) > 5.0


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_innovation_is_nan_where_nothing_was_measured(cls: type[Estimator]) -> None:
    behavior = ConstantVelocity()
    estimator = make(cls, behavior, prior(behavior, 3))
    z = _measure(behavior, estimator)
    z[2, 1] = np.nan
    estimator.estimate(1.0, inputs(behavior, 3), z, mask=np.array([True, False, True]))
    innovation = estimator.innovation
    assert innovation is not None
    finite = np.isfinite(innovation.normalized)
    assert finite.tolist() == [[True, True], [False, False], [True, False]]
    assert np.all(innovation.std[finite] > 0)
