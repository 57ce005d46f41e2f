"""UnscentedTransformPredictor against known solutions."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from holotwin.behaviors import BatteryCircuit, GaussianState, SampledState
from holotwin.errors import InvalidInputError
from holotwin.predict import BANDS, PiecewiseLoad, UnscentedTransformPredictor
from holotwin.predict import unscented as unscented_module
from tests.predict.conftest import BATTERY_LOAD, Tank, TwoTanks, figures


def constant(rate: float):  # type: ignore[no-untyped-def]
    return lambda t, x: np.array([rate])


def test_doctests() -> None:
    assert doctest.testmod(unscented_module).failed == 0


@pytest.mark.parametrize("n", [1, 2, 4, 7])
@pytest.mark.parametrize(("alpha", "beta", "kappa"),
                         [(1.0, 2.0, 0.0), (0.5, 2.0, 3.0), (2.0, 0.0, -0.5), (1.0, 0.0, 1.0)])
def test_weights_reproduce_mean_and_covariance(n: int, alpha: float, beta: float,
                                               kappa: float) -> None:
    predictor = UnscentedTransformPredictor(alpha, beta, kappa)
    _, wm, wc = predictor.weights(n)
    assert wm.sum() == pytest.approx(1.0)
    rng = np.random.default_rng(n)
    root = rng.normal(size=(3, n, n))
    cov = root @ np.swapaxes(root, 1, 2)
    mean = rng.normal(size=(3, n))
    points = predictor.sigma_points(mean, cov)
    assert points.shape == (3, 2 * n + 1, n)
    np.testing.assert_allclose(np.einsum("s,bsn->bn", wm, points), mean, atol=1e-12)
    centred = points - mean[:, None, :]
    np.testing.assert_allclose(np.einsum("s,bsi,bsj->bij", wc, centred, centred)
                               - (1 - alpha**2 + beta) * centred[:, :1].swapaxes(1, 2)
                               @ centred[:, :1], cov, atol=1e-10)


@pytest.mark.parametrize(("alpha", "kappa", "spread"),
                         [(1.0, 0.0, 5.0), (2.0, 0.0, 10.0), (1.0, 3.0, 10.0), (0.5, 3.0, 5.0)])
def test_linear_time_of_event_mean_and_variance_are_exact(alpha: float, kappa: float,
                                                          spread: float) -> None:
    # volume0 ~ N(100, 5^2) at 2 L/s: empty at N(50, 2.5^2); the sigma points sit at
    # 100 +- spread, which the 0.5 s steps resolve exactly
    state = GaussianState(np.array([[100.0]]), np.array([[[25.0]]]))
    result = UnscentedTransformPredictor(alpha, 2.0, kappa).predict(
        Tank(), state, constant(2.0), horizon=200.0, dt=0.5)
    assert figures(result, "sigma_point_times")["empty"].tolist() == [
        [50.0, 50.0 + spread / 2, 50.0 - spread / 2]]
    assert figures(result, "time_of_event_mean")["empty"].tolist() == [50.0]
    assert figures(result, "time_of_event_var")["empty"][0] == pytest.approx(6.25, rel=1e-12)
    empty = result.time_of_event["empty"]
    assert empty.samples.shape == (1, 1000) and result.samples == 3
    assert empty.mean[0] == pytest.approx(50.0, abs=1e-9)
    # the samples are the 1,000 (i + 0.5) / 1000 quantiles of N(50, 2.5^2): percentiles
    # within one quantile step
    np.testing.assert_allclose(empty.percentile(BANDS)[0],
                               stats.norm(50, 2.5).ppf(np.asarray(BANDS) / 100), atol=0.02)


def test_correlated_linear_case_in_two_states() -> None:
    # total0 = a0 + b0 ~ N(100, 16 + 9 + 2 * 6 = 37) at 4 L/s: empty at N(25, 37 / 16),
    # half (total 50) at N(12.5, 37 / 16); steps of 1 ms resolve the sigma points to 1 ms
    state = GaussianState(np.array([[40.0, 60.0]]), np.array([[[16.0, 6.0], [6.0, 9.0]]]))
    result = UnscentedTransformPredictor().predict(TwoTanks(), state, constant(4.0),
                                                   horizon=60.0, dt=0.001)
    mean, var = figures(result, "time_of_event_mean"), figures(result, "time_of_event_var")
    assert mean["empty"][0] == pytest.approx(25.0, abs=0.001)
    assert mean["half"][0] == pytest.approx(12.5, abs=0.001)
    assert var["empty"][0] == pytest.approx(37 / 16, rel=0.01)
    assert var["half"][0] == pytest.approx(37 / 16, rel=0.01)


def test_trajectory_bands_are_the_gaussian_of_the_sigma_points() -> None:
    state = GaussianState(np.array([[100.0]]), np.array([[[25.0]]]))
    result = UnscentedTransformPredictor().predict(Tank(), state, constant(2.0), horizon=20.0,
                                                   dt=0.5, save_every=5.0)
    assert result.times.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    np.testing.assert_allclose(result.state_mean[:, 0, 0], 100.0 - 2 * result.times)
    z = stats.norm.ppf(np.asarray(BANDS) / 100)
    np.testing.assert_allclose(result.state_bands[:, 0, 0],
                               (100.0 - 2 * result.times)[:, None] + 5 * z)
    np.testing.assert_allclose(result.output_bands[:, 0, 1], result.state_bands[:, 0, 0] / 10)


def test_any_distribution_goes_through_its_mean_and_covariance() -> None:
    samples = np.random.default_rng(2).normal(100.0, 5.0, size=(1, 500, 1))
    sampled = SampledState(samples)
    gaussian = GaussianState(sampled.mean, sampled.cov)
    predictor = UnscentedTransformPredictor()
    a = predictor.predict(Tank(), sampled, constant(2.0), horizon=100.0, dt=0.01)
    b = predictor.predict(Tank(), gaussian, constant(2.0), horizon=100.0, dt=0.01)
    np.testing.assert_array_equal(a.time_of_event["empty"].samples,
                                  b.time_of_event["empty"].samples)


def test_battery_noise_free_is_3005_s() -> None:
    cell = BatteryCircuit()
    state = GaussianState(cell.initial_state(), np.zeros((1, 4, 4)))
    result = UnscentedTransformPredictor().predict(cell, state, BATTERY_LOAD, horizon=5000.0)
    assert figures(result, "sigma_point_times")["EOD"].tolist() == [[3005.0] * 9]
    assert figures(result, "time_of_event_var")["EOD"].tolist() == [0.0]
    assert np.all(result.time_of_event["EOD"].samples == 3005.0)
    assert result.extra["steps"] == 3005 and result.samples == 9


def test_battery_with_uncertain_charge_is_close_to_monte_carlo() -> None:
    from holotwin.predict import MonteCarloPredictor

    cell = BatteryCircuit()
    state = GaussianState(cell.initial_state(), np.diag([0.25, 1600.0, 0.25, 0.25])[None])
    ut = UnscentedTransformPredictor().predict(cell, state, BATTERY_LOAD, horizon=5000.0)
    mc = MonteCarloPredictor(samples=1000, rng=4).predict(cell, state, BATTERY_LOAD,
                                                          horizon=5000.0)
    ut_mean = figures(ut, "time_of_event_mean")["EOD"][0]
    mc_times = mc.time_of_event["EOD"].samples[0]
    # EOD is far from linear in the charge here (+2 sd of charge: +19 s, -2 sd: -4 s), so
    # 9 sigma points only approximate 1,000 samples: mean within 1 s of about 3007 s,
    # standard deviation (MC: 6.4 s) within 15%
    assert abs(ut_mean - mc_times.mean()) < 1.0
    assert np.sqrt(figures(ut, "time_of_event_var")["EOD"][0]) == pytest.approx(
        mc_times.std(), rel=0.15)


def test_a_sigma_point_beyond_the_horizon_makes_the_row_unknown() -> None:
    state = GaussianState(np.array([[100.0], [40.0]]), np.array([[[25.0]], [[25.0]]]))
    result = UnscentedTransformPredictor().predict(Tank(), state, constant(2.0), horizon=51.0,
                                                   dt=0.5)
    empty = result.time_of_event["empty"]
    assert empty.reached.tolist() == [0.0, 1.0]
    assert np.isnan(figures(result, "time_of_event_mean")["empty"][0])
    times = figures(result, "sigma_point_times")["empty"]
    assert times[0, 0] == 50.0 and np.isnan(times[0, 1]) and times[0, 2] == 47.5
    assert np.all(np.isnan(empty.samples[0]))
    assert figures(result, "time_of_event_mean")["empty"][1] == 20.0
    assert result.extra["stopped_early"] is False


def test_piecewise_load() -> None:
    state = GaussianState(np.array([[100.0]]), np.zeros((1, 1, 1)))
    result = UnscentedTransformPredictor().predict(
        Tank(), state, PiecewiseLoad([20.0], [[1.0], [4.0]]), horizon=100.0, dt=0.5)
    assert figures(result, "sigma_point_times")["empty"].tolist() == [[40.0] * 3]


@pytest.mark.parametrize(("alpha", "kappa", "match"), [
    (0.0, 0.0, "alpha"), (-1.0, 0.0, "alpha"), (np.nan, 0.0, "alpha"), (1.0, np.inf, "kappa"),
    ("x", 0.0, "alpha")])
def test_bad_parameters(alpha: object, kappa: object, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        UnscentedTransformPredictor(alpha=alpha, kappa=kappa)  # type: ignore[arg-type]


def test_spread_must_be_positive_for_the_state_size() -> None:
    state = GaussianState(np.array([[100.0]]), np.array([[[1.0]]]))
    with pytest.raises(InvalidInputError, match="n \\+ kappa"):
        UnscentedTransformPredictor(kappa=-1.0).predict(Tank(), state, constant(1.0),
                                                        horizon=10.0)


@pytest.mark.parametrize("draws", [0, 1.5, False])
def test_bad_draws(draws: object) -> None:
    with pytest.raises(InvalidInputError, match="draws"):
        UnscentedTransformPredictor(draws=draws)  # type: ignore[arg-type]


def test_non_finite_covariance() -> None:
    state = GaussianState(np.array([[100.0]]), np.array([[[np.nan]]]))
    with pytest.raises(InvalidInputError, match="finite"):
        UnscentedTransformPredictor().predict(Tank(), state, constant(1.0), horizon=10.0)
