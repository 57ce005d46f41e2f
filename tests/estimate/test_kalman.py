"""KalmanFilter: on a linear behavior it is the exact Kalman filter."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_discrete_are

from holotwin.behaviors import GaussianState
from holotwin.errors import InvalidInputError
from holotwin.estimate import KalmanFilter

from .models import ConstantVelocity


def _start(batch: int = 1) -> GaussianState:
    return GaussianState(np.tile([0.0, 1.0], (batch, 1)), np.tile(np.eye(2), (batch, 1, 1)))


def test_first_step_by_hand() -> None:
    """x0 = (0 m, 1 m/s), P0 = I, q = (0.01, 0.1) per s, dt = 1 s, no acceleration; only
    the position is measured: 1.5 m with variance 0.25 m²."""
    kf = KalmanFilter(ConstantVelocity(), _start())
    kf.estimate(1.0, [0.0], [[1.5, np.nan]])
    # predicted: mean (1, 1), P = A I Aᵀ + Q = [[2.01, 1], [1, 1.1]]; S = 2.01 + 0.25 = 2.26
    # gain (2.01, 1) / 2.26, innovation 0.5
    np.testing.assert_allclose(kf.state.mean, [[1 + 1.005 / 2.26, 1 + 0.5 / 2.26]], rtol=1e-9)
    expected = np.array([[2.01, 1.0], [1.0, 1.1]]) - np.array([[2.01**2, 2.01],
                                                               [2.01, 1.0]]) / 2.26
    np.testing.assert_allclose(kf.state.cov[0], expected, rtol=1e-9)


def test_predict_only_is_the_model_and_its_covariance() -> None:
    kf = KalmanFilter(ConstantVelocity(), _start())
    kf.estimate(2.0, [0.5], [[np.nan, np.nan]])
    a, b, _ = ConstantVelocity.matrices(2.0)
    np.testing.assert_allclose(kf.state.mean[0], a @ [0.0, 1.0] + b @ [0.5], rtol=1e-12)
    np.testing.assert_allclose(kf.state.cov[0], a @ a.T + np.diag([0.02, 0.2]), rtol=1e-9)


def _textbook(x: np.ndarray, p: np.ndarray, dt: float, u: np.ndarray, z: np.ndarray,
              q: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Kalman filter as written in textbooks, with the measured outputs only."""
    a, b, h = ConstantVelocity.matrices(dt)
    x = a @ x + b @ u
    p = a @ p @ a.T + np.diag(q) * dt
    used = ~np.isnan(z)
    if used.any():
        h, z, rr = h[used], z[used], np.diag(r[used])
        s = h @ p @ h.T + rr
        k = p @ h.T @ np.linalg.inv(s)
        x = x + k @ (z - h @ x)
        p = (np.eye(2) - k @ h) @ p
    return x, p


def test_matches_the_textbook_filter_with_gaps_and_uneven_steps() -> None:
    rng = np.random.default_rng(3)
    model = ConstantVelocity()
    batch = 3
    kf = KalmanFilter(model, _start(batch), t0=[0.0, 0.5, 1.0])
    xs, ps = [np.array([0.0, 1.0])] * batch, [np.eye(2)] * batch
    for _ in range(60):
        dt = rng.uniform(0.1, 2.0, batch)
        u = rng.normal(0.0, 0.5, (batch, 1))
        z = rng.normal(0.0, 5.0, (batch, 2))
        z[rng.random((batch, 2)) < 0.3] = np.nan
        kf.estimate(kf.t + dt, u, z)
        for row in range(batch):
            xs[row], ps[row] = _textbook(xs[row], ps[row], float(dt[row]), u[row], z[row],
                                         model.process_noise, model.measurement_noise)
    np.testing.assert_allclose(kf.state.mean, np.stack(xs), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(kf.state.cov, np.stack(ps), rtol=1e-8, atol=1e-10)


def test_steady_state_solves_the_riccati_equation() -> None:
    model = ConstantVelocity()
    kf = KalmanFilter(model, _start())
    rng = np.random.default_rng(0)
    for k in range(1, 301):
        kf.estimate(float(k), [0.0], rng.normal(0.0, 1.0, (1, 2)))
    a, _, h = ConstantVelocity.matrices(1.0)
    q, r = np.diag(model.process_noise), np.diag(model.measurement_noise)
    predicted = solve_discrete_are(a.T, h.T, q, r)
    posterior = predicted - predicted @ h.T @ np.linalg.inv(h @ predicted @ h.T + r) \
        @ h @ predicted
    np.testing.assert_allclose(kf.state.cov[0], posterior, rtol=1e-8)


def test_jacobian_step_is_checked() -> None:
    with pytest.raises(InvalidInputError, match="jacobian_step"):
        KalmanFilter(ConstantVelocity(), _start(), jacobian_step=0.0)
