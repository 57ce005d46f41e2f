"""Every estimator finds a battery's charge from a wrong start, on simulated noisy data.

The setting of the project's ProgPy benchmark: BatteryCircuit under a constant 2 A load, the
truth simulated in steps of 1 s with the model's process noise (variance 1e-3 per state per
second), temperature and voltage measured every second with noise variances 2 K² and
0.02 V². Each estimator starts with the bulk charge ``qb`` 10% low (786 C) and a standard
deviation of 800 C for it.

Bounds after 600 s (1,200 C drawn): the ``qb`` error is under 150 C (under 2% of the
capacity, about 3 final standard deviations), its standard deviation has shrunk under 100 C,
and the truth of every state is within 3 standard deviations of the estimate. With this
test's seed the errors are 78 C (KalmanFilter), 79 C (UnscentedKalmanFilter) and 81 C
(ParticleFilter), the deviations 49-52 C; over 30 other seeds the worst error was 73 C for
the Kalman filters and 77 C for the particle filter, the worst state 2.5 deviations out.
"""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import BatteryCircuit, GaussianState
from holotwin.estimate import KalmanFilter, ParticleFilter, UnscentedKalmanFilter
from holotwin.estimate.base import Estimator

STEPS = 600


@pytest.mark.parametrize("cls", [KalmanFilter, UnscentedKalmanFilter, ParticleFilter],
                         ids=lambda c: c.__name__)
def test_finds_the_charge_of_a_battery(cls: type[Estimator]) -> None:
    cell = BatteryCircuit()
    rng = np.random.default_rng(2024)
    truth = cell.initial_state()
    start = GaussianState(truth * [1.0, 0.9, 1.0, 1.0], np.diag([1.0, 800.0**2, 1.0, 1.0])[None])
    if cls is ParticleFilter:
        # more process noise on qb than the truth has, so resampled particles spread again
        estimator: Estimator = ParticleFilter(cell, start, particles=1000, rng=99,
                                              process_noise=[1e-3, 1.0, 1e-3, 1e-3])
    else:
        estimator = cls(cell, start)
    load = np.array([[2.0]])
    for second in range(1, STEPS + 1):
        truth = cell.next_state(truth, load, 1.0) \
            + rng.normal(0.0, np.sqrt(cell.process_noise), (1, 4))
        z = cell.output(truth) + rng.normal(0.0, np.sqrt(cell.measurement_noise), (1, 2))
        estimator.estimate(float(second), load, z)
    state = estimator.state
    error = state.mean[0] - truth[0]
    std = state.std()[0]
    assert abs(error[1]) < 150.0, f"qb is {error[1]:.1f} C off"
    assert std[1] < 100.0, f"qb's standard deviation is still {std[1]:.1f} C"
    assert np.all(np.abs(error) < 3.0 * std), f"errors {error} against deviations {std}"
