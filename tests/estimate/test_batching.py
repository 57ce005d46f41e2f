"""A batch of twins in one filter gives what one filter per twin gives."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import BatteryCircuit, GaussianState
from holotwin.estimate import KalmanFilter, UnscentedKalmanFilter
from holotwin.estimate.base import Estimator

TWINS = 50


@pytest.mark.parametrize("cls", [KalmanFilter, UnscentedKalmanFilter], ids=lambda c: c.__name__)
def test_a_batch_equals_separate_filters(cls: type[Estimator]) -> None:
    """50 cells, each with its own charge, load, capacity, clock and measurement gaps."""
    rng = np.random.default_rng(8)
    capacity = rng.uniform(7000.0, 7856.0, TWINS)  # a per-twin parameter
    fleet = BatteryCircuit(qMax=capacity, CMax=capacity - 79.0)
    truth = fleet.initial_state(TWINS)
    truth[:, 1] = capacity * rng.uniform(0.7, 1.0, TWINS)
    load = rng.uniform(0.5, 3.0, (TWINS, 1))
    start = GaussianState(truth * [1.0, 0.92, 1.0, 1.0],
                          np.tile(np.diag([1.0, 600.0**2, 0.5, 0.5]), (TWINS, 1, 1)))
    t0 = rng.uniform(0.0, 5.0, TWINS)
    batched = cls(fleet, start, t0)
    alone = [cls(BatteryCircuit(qMax=capacity[i], CMax=capacity[i] - 79.0),
                 GaussianState(start.mean[i:i + 1], start.cov[i:i + 1]), t0[i])
             for i in range(TWINS)]
    for _ in range(15):
        t = batched.t + rng.uniform(0.5, 2.0, TWINS)
        truth = fleet.next_state(truth, load, (t - batched.t)[:, None])
        z = fleet.output(truth) + rng.normal(0.0, np.sqrt(fleet.measurement_noise), (TWINS, 2))
        z[rng.random((TWINS, 2)) < 0.2] = np.nan
        mask = rng.random(TWINS) < 0.8
        batched.estimate(t, load, z, mask=mask)
        for i in np.flatnonzero(mask):
            alone[i].estimate(t[i], load[i], z[i:i + 1])
    mean = np.concatenate([f.state.mean for f in alone])
    cov = np.concatenate([f.state.cov for f in alone])
    np.testing.assert_allclose(batched.state.mean, mean, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(batched.state.cov, cov, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(batched.t, np.array([f.t[0] for f in alone]))
