"""MonteCarloPredictor against known solutions."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from scipy import stats

from holotwin.behaviors import BatteryCircuit, GaussianState, SampledState
from holotwin.errors import InvalidInputError
from holotwin.predict import BANDS, MonteCarloPredictor, PiecewiseLoad
from holotwin.predict import monte_carlo as monte_carlo_module
from tests.predict.conftest import BATTERY_LOAD, Tank, TwoTanks


def constant(rate: float):  # type: ignore[no-untyped-def]
    return lambda t, x: np.array([rate])


def gaussian(mean: float, var: float) -> GaussianState:
    return GaussianState(np.array([[mean]]), np.array([[[var]]]))


def test_doctests() -> None:
    assert doctest.testmod(monte_carlo_module).failed == 0


def test_certain_state_empties_at_exactly_volume_over_rate(tank: Tank) -> None:
    # 100 L at 2 L/s, steps of 0.5 s: exact in binary, so every sample at exactly 50 s
    result = MonteCarloPredictor(samples=25, rng=0).predict(
        tank, gaussian(100.0, 0.0), constant(2.0), horizon=200.0, dt=0.5)
    empty = result.time_of_event["empty"]
    assert empty.samples.shape == (1, 25)
    assert np.all(empty.samples == 50.0)
    assert empty.reached.tolist() == [1.0]
    assert empty.percentile(BANDS).tolist() == [[50.0] * 5]
    assert result.samples == 25


def test_gaussian_initial_volume_gives_the_analytic_time_distribution(tank: Tank) -> None:
    # volume0 ~ N(100, 5^2), 2 L/s: empty at volume0 / 2 ~ N(50, 2.5^2), plus the step
    # resolution (the end of the step where it empties: on average dt / 2 later)
    dt, count = 0.05, 4000
    result = MonteCarloPredictor(samples=count, rng=42).predict(
        tank, gaussian(100.0, 25.0), constant(2.0), horizon=200.0, dt=dt)
    times = result.time_of_event["empty"].samples[0]
    expected = stats.norm(50.0 + dt / 2, 2.5)
    # standard error of the mean 2.5 / sqrt(4000) = 0.04 s; of the 5th percentile ~0.085 s
    assert abs(times.mean() - expected.mean()) < 0.15
    assert abs(times.std() - 2.5) < 0.1
    measured = result.time_of_event["empty"].percentile(BANDS)[0]
    np.testing.assert_allclose(measured, expected.ppf(np.asarray(BANDS) / 100), atol=0.3)
    assert stats.kstest(times, expected.cdf).pvalue > 0.01


def test_state_bands_follow_the_analytic_trajectory(tank: Tank) -> None:
    # before anyone empties, volume(t) = volume0 - 2 t ~ N(100 - 2 t, 5^2)
    result = MonteCarloPredictor(samples=4000, rng=3).predict(
        tank, gaussian(100.0, 25.0), constant(2.0), horizon=20.0, dt=0.5, save_every=5.0)
    assert result.times.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0]
    np.testing.assert_allclose(result.state_mean[:, 0, 0], 100.0 - 2 * result.times, atol=0.25)
    z = stats.norm.ppf(np.asarray(BANDS) / 100)
    for k, t in enumerate(result.times):
        np.testing.assert_allclose(result.state_bands[k, 0, 0], 100 - 2 * t + 5 * z, atol=0.4)
    # outputs: volume and level = volume / 10
    np.testing.assert_allclose(result.output_mean[:, 0, 1], result.state_mean[:, 0, 0] / 10)
    np.testing.assert_allclose(result.output_bands[:, 0, 0], result.state_bands[:, 0, 0])


def test_process_noise_spreads_a_certain_state_like_a_first_passage(tank: Tank) -> None:
    # volume(t) = 100 - 2 t + W(t), W Brownian with variance 1 per second: the time to empty
    # is inverse Gaussian with mean 100 / 2 = 50 s and variance 100 * 1 / 2^3 = 12.5 s^2.
    # Checked every dt = 0.1 s, it is seen later: by dt / 2 on average, and by the overshoot
    # of a discretely watched random walk, 0.5826 sqrt(q dt) / rate (Siegmund's correction)
    dt = 0.1
    result = MonteCarloPredictor(samples=2000, rng=5, process_noise=[1.0]).predict(
        tank, gaussian(100.0, 0.0), constant(2.0), horizon=200.0, dt=dt)
    times = result.time_of_event["empty"].samples[0]
    expected = 50.0 + dt / 2 + 0.5826 * np.sqrt(dt) / 2.0
    assert abs(times.mean() - expected) < 0.25  # standard error 3.54 / sqrt(2000) = 0.08 s
    assert abs(times.std() / np.sqrt(12.5) - 1) < 0.1


def test_battery_noise_free_matches_deterministic_simulation() -> None:
    cell = BatteryCircuit()
    x = cell.initial_state()
    t = 0
    while not cell.threshold_met(x)[0, 0]:
        x = cell.next_state(x, BATTERY_LOAD(float(t), x)[None, :], 1.0)
        t += 1
    assert t == 3005  # ProgPy's BatteryCircuit gives 3005.0 under this load too
    state = GaussianState(cell.initial_state(), np.zeros((1, 4, 4)))
    result = MonteCarloPredictor(samples=8, rng=0).predict(
        cell, state, BATTERY_LOAD, horizon=5000.0)
    assert np.all(result.time_of_event["EOD"].samples == 3005.0)
    assert result.extra == {"steps": 3005, "stopped_early": True}
    np.testing.assert_allclose(result.state_mean[-1, 0], x[0])
    assert result.output_bands[-1, 0, 1, 2] < 3.0  # the voltage is below VEOD at the event


def test_early_stop_holds_every_sample_at_its_event(tank: Tank) -> None:
    samples = SampledState(np.array([[[60.0], [80.0], [100.0]]]))
    result = MonteCarloPredictor(samples=3).predict(
        tank, samples, constant(2.0), horizon=10_000.0, dt=0.5, save_every=10.0)
    assert result.time_of_event["empty"].samples.tolist() == [[30.0, 40.0, 50.0]]
    assert result.extra == {"steps": 100, "stopped_early": True}
    assert result.times[-1] == 50.0 and result.times[-2] == 50.0 - 10.0
    # held at 0 once empty, not drained further
    np.testing.assert_array_equal(result.state_bands[-1, 0, 0], [0.0] * 5)


def test_horizon_not_reached_gives_nan_and_a_partial_share(tank: Tank) -> None:
    result = MonteCarloPredictor(samples=1000, rng=1).predict(
        tank, gaussian(100.0, 25.0), constant(2.0), horizon=50.0, dt=0.5)
    empty = result.time_of_event["empty"]
    reached = float(empty.reached[0])
    assert 0.4 < reached < 0.6  # P(volume0 <= 100) = 0.5
    assert np.isnan(empty.samples).sum() == round((1 - reached) * 1000)
    assert float(empty.mean[0]) < 50.0
    assert np.isinf(empty.percentile(95.0)[0])
    assert result.extra == {"steps": 100, "stopped_early": False}
    assert result.times[-1] == 50.0


def test_no_sample_reaches_within_the_horizon(tank: Tank) -> None:
    result = MonteCarloPredictor(samples=10, rng=1).predict(
        tank, gaussian(100.0, 1.0), constant(1.0), horizon=10.0)
    empty = result.time_of_event["empty"]
    assert np.all(np.isnan(empty.samples)) and empty.reached.tolist() == [0.0]
    assert np.isnan(empty.mean[0])


def test_already_met_at_the_start_is_time_zero(tank: Tank) -> None:
    result = MonteCarloPredictor(samples=4).predict(
        tank, SampledState(np.array([[[0.0], [-1.0], [0.0], [-5.0]]])), constant(1.0),
        horizon=10.0)
    assert result.time_of_event["empty"].samples.tolist() == [[0.0] * 4]
    assert result.times.tolist() == [0.0] and result.extra["steps"] == 0


def test_two_events_each_get_their_own_times() -> None:
    state = SampledState(np.array([[[40.0, 60.0], [70.0, 70.0]]]))
    result = MonteCarloPredictor(samples=2).predict(
        TwoTanks(), state, constant(4.0), horizon=100.0, dt=0.25)
    assert result.time_of_event["half"].samples.tolist() == [[12.5, 22.5]]
    assert result.time_of_event["empty"].samples.tolist() == [[25.0, 35.0]]
    assert result.extra["steps"] == 140


def test_piecewise_load(tank: Tank) -> None:
    # 1 L/s for 20 s (80 L left), then 4 L/s: empty at 20 + 80 / 4 = 40 s
    load = PiecewiseLoad([20.0], [[1.0], [4.0]])
    result = MonteCarloPredictor(samples=3, rng=0).predict(
        tank, gaussian(100.0, 0.0), load, horizon=100.0, dt=0.5)
    assert result.time_of_event["empty"].samples.tolist() == [[40.0] * 3]


def test_load_per_sample_from_the_state(tank: Tank) -> None:
    # 1 L/s while above 50 L, then 2 L/s: 50 s + 25 s; each row of x gets its own input
    seen: list[tuple[float, tuple[int, ...]]] = []

    def load(t: float, x: np.ndarray) -> np.ndarray:
        seen.append((t, x.shape))
        return np.where(x > 50.0, 1.0, 2.0)

    result = MonteCarloPredictor(samples=6, rng=0).predict(
        tank, SampledState(np.array([[[100.0]] * 3, [[50.0]] * 3]).reshape(2, 3, 1)), load,
        horizon=100.0, dt=0.5)
    assert result.time_of_event["empty"].samples.tolist() == [[75.0] * 6, [25.0] * 6]
    assert seen[0] == (0.0, (12, 1)) and seen[1][0] == 0.5


def test_batch_rows_match_separate_runs() -> None:
    # three twins, each with its own gain and its own sample set
    rng = np.random.default_rng(9)
    samples = rng.normal([[[100.0]], [[80.0]], [[120.0]]], 5.0, size=(3, 200, 1))
    gains = np.array([1.0, 0.5, 2.0])
    predictor = MonteCarloPredictor(samples=200)
    together = predictor.predict(Tank(gain=gains), SampledState(samples), constant(2.0),
                                 horizon=150.0, dt=0.5, save_every=5.0, t0=[0.0, 10.0, 20.0])
    assert together.t0.tolist() == [0.0, 10.0, 20.0]
    for row in range(3):
        alone = predictor.predict(Tank(gain=gains[row]), SampledState(samples[row:row + 1]),
                                  constant(2.0), horizon=150.0, dt=0.5, save_every=5.0)
        np.testing.assert_array_equal(together.time_of_event["empty"].samples[row],
                                      alone.time_of_event["empty"].samples[0])
        # the batch runs until its slowest row is done; compare over the row's own times
        k = len(alone.times)
        np.testing.assert_array_equal(together.times[:k - 1], alone.times[:k - 1])
        np.testing.assert_allclose(together.state_bands[:k - 1, row],
                                   alone.state_bands[:k - 1, 0])
        np.testing.assert_allclose(together.output_mean[:k - 1, row],
                                   alone.output_mean[:k - 1, 0])


def test_seeded_runs_repeat(tank: Tank) -> None:
    def run() -> np.ndarray:
        return MonteCarloPredictor(samples=50, rng=11).predict(
            tank, gaussian(100.0, 25.0), constant(2.0), horizon=100.0).time_of_event[
                "empty"].samples

    np.testing.assert_array_equal(run(), run())


def test_default_keeps_about_200_points(tank: Tank) -> None:
    result = MonteCarloPredictor(samples=5, rng=0).predict(
        tank, gaussian(1e6, 0.0), constant(1.0), horizon=1000.0, dt=0.1)
    assert len(result.times) == 201
    np.testing.assert_allclose(np.diff(result.times), 5.0)


@pytest.mark.parametrize("samples", [0, -3, 2.5, True, "10"])
def test_bad_sample_count(samples: object) -> None:
    with pytest.raises(InvalidInputError, match="samples"):
        MonteCarloPredictor(samples=samples)  # type: ignore[arg-type]


@pytest.mark.parametrize("noise", [[-1.0], [np.nan], [[1.0]]])
def test_bad_process_noise(noise: object) -> None:
    with pytest.raises(InvalidInputError, match="process_noise"):
        MonteCarloPredictor(process_noise=noise)  # type: ignore[arg-type]


def test_process_noise_of_the_wrong_size(tank: Tank) -> None:
    with pytest.raises(InvalidInputError, match="one variance per state"):
        MonteCarloPredictor(process_noise=[1.0, 2.0]).predict(
            tank, gaussian(100.0, 0.0), constant(1.0), horizon=10.0)
