"""UnscentedKalmanFilter: exact on linear behaviors, robust square roots, checked settings."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import GaussianState
from holotwin.errors import InvalidInputError
from holotwin.estimate import KalmanFilter, UnscentedKalmanFilter
from holotwin.estimate.unscented import matrix_sqrt

from .models import ConstantVelocity


@pytest.mark.parametrize(("alpha", "kappa"), [(1.0, 0.0), (1e-3, 0.0), (1.0, 1.0), (0.5, 3.0)])
def test_equals_the_kalman_filter_on_a_linear_behavior(alpha: float, kappa: float) -> None:
    """The unscented transform of a linear map is exact, whatever the sigma points."""
    rng = np.random.default_rng(5)
    start = GaussianState(rng.normal(0.0, 1.0, (4, 2)), np.tile(np.diag([2.0, 0.5]), (4, 1, 1)))
    ukf = UnscentedKalmanFilter(ConstantVelocity(), start, alpha=alpha, kappa=kappa)
    kf = KalmanFilter(ConstantVelocity(), start)
    for _ in range(40):
        t = ukf.t + rng.uniform(0.1, 2.0, 4)
        u = rng.normal(0.0, 0.5, (4, 1))
        z = rng.normal(0.0, 5.0, (4, 2))
        z[rng.random((4, 2)) < 0.3] = np.nan
        ukf.estimate(t, u, z)
        kf.estimate(t, u, z)
    np.testing.assert_allclose(ukf.state.mean, kf.state.mean, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(ukf.state.cov, kf.state.cov, rtol=1e-8, atol=1e-10)


def test_matrix_sqrt_falls_back_row_by_row() -> None:
    definite = np.array([[4.0, 1.0], [1.0, 2.0]])
    singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    indefinite = np.array([[1.0, 0.0], [0.0, -1e-12]])
    roots = matrix_sqrt(np.stack([definite, singular, indefinite]))
    np.testing.assert_array_equal(roots[0], np.linalg.cholesky(definite))
    np.testing.assert_allclose(roots[1] @ roots[1].T, singular, atol=1e-12)
    np.testing.assert_allclose(roots[2] @ roots[2].T, np.diag([1.0, 0.0]), atol=1e-12)


def test_a_state_known_exactly_is_fine() -> None:
    """Zero variance and zero process noise for the velocity: a singular covariance."""
    start = GaussianState(np.array([[0.0, 1.0]]), np.diag([1.0, 0.0])[None])
    ukf = UnscentedKalmanFilter(ConstantVelocity(), start, process_noise=[0.01, 0.0])
    for k in range(1, 11):
        ukf.estimate(float(k), [0.0], [[float(k) + 0.3, np.nan]])
    assert np.all(np.isfinite(ukf.state.cov))
    assert ukf.state.mean[0, 1] == pytest.approx(1.0, abs=1e-9)
    assert ukf.state.cov[0, 1, 1] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("settings", [{"alpha": 0.0}, {"kappa": -2.0}, {"beta": np.nan}])
def test_sigma_point_settings_are_checked(settings: dict[str, float]) -> None:
    start = GaussianState(np.array([[0.0, 1.0]]), np.eye(2)[None])
    with pytest.raises(InvalidInputError, match="Sigma points need"):
        UnscentedKalmanFilter(ConstantVelocity(), start, **settings)
