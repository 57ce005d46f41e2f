"""What every predictor must do (run against each), and the shared simulation loop."""

from __future__ import annotations

import doctest
import warnings
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import pytest

from holotwin.behaviors import Array, Behavior, GaussianState, SampledState
from holotwin.errors import InvalidInputError
from holotwin.predict import (
    BANDS,
    MonteCarloPredictor,
    Prediction,
    Predictor,
    UnscentedTransformPredictor,
)
from holotwin.predict import base as base_module
from holotwin.predict import rollout as rollout_module
from tests.predict.conftest import Tank, TwoTanks, figures

PREDICTORS: dict[str, Callable[[], Predictor]] = {
    "monte-carlo": lambda: MonteCarloPredictor(samples=64, rng=0),
    "unscented": lambda: UnscentedTransformPredictor(),
}


@pytest.fixture(params=list(PREDICTORS))
def predictor(request: pytest.FixtureRequest) -> Predictor:
    return PREDICTORS[request.param]()


def constant(rate: float):  # type: ignore[no-untyped-def]
    return lambda t, x: np.array([rate])


def uncertain_tanks(batch: int = 1) -> GaussianState:
    means = np.asarray(100.0 + 10.0 * np.arange(batch)[:, None], dtype=np.float64)
    return GaussianState(means, np.full((batch, 1, 1), 4.0))


def test_doctests() -> None:
    assert doctest.testmod(rollout_module).failed == 0
    assert doctest.testmod(base_module).failed == 0


def test_prediction_is_filled(predictor: Predictor) -> None:
    result = predictor.predict(Tank(), uncertain_tanks(2), constant(2.0), horizon=100.0,
                               dt=0.5, save_every=10.0, t0=1000.0)
    assert isinstance(result, Prediction)
    assert result.behavior == "Tank" and result.bands == BANDS
    assert result.t0.tolist() == [1000.0, 1000.0]
    assert result.times[0] == 0.0 and np.all(np.diff(result.times) > 0)
    assert list(result.time_of_event) == ["empty"]
    count = result.time_of_event["empty"].samples.shape
    assert count[0] == 2 and result.samples >= 1
    t = len(result.times)
    assert result.state_mean.shape == (t, 2, 1)
    assert result.state_bands.shape == (t, 2, 1, len(BANDS))
    assert result.output_mean.shape == (t, 2, 2)
    assert result.output_bands.shape == (t, 2, 2, len(BANDS))
    assert np.all(np.diff(result.state_bands, axis=-1) >= 0)  # percentiles in order
    np.testing.assert_allclose(result.state_mean[0, :, 0], [100.0, 110.0], atol=1.0)


def test_batch_rows_match_separate_runs(predictor: Predictor) -> None:
    state = GaussianState(np.array([[100.0], [60.0], [140.0]]),
                          np.array([[[0.0]], [[4.0]], [[9.0]]]))
    gains = np.array([1.0, 2.0, 0.5])
    if isinstance(predictor, MonteCarloPredictor):
        # the same draws for the batch and the single rows
        state = SampledState(state.sample(64, np.random.default_rng(1)))  # type: ignore[assignment]
    together = predictor.predict(Tank(gain=gains), state, constant(2.0), horizon=300.0,
                                 dt=0.5, save_every=5.0)
    for row in range(3):
        single = (SampledState(state.samples[row:row + 1]) if isinstance(state, SampledState)
                  else GaussianState(state.mean[row:row + 1], state.cov[row:row + 1]))
        alone = predictor.predict(Tank(gain=gains[row]), single, constant(2.0), horizon=300.0,
                                  dt=0.5, save_every=5.0)
        np.testing.assert_array_equal(together.time_of_event["empty"].samples[row],
                                      alone.time_of_event["empty"].samples[0])
        k = len(alone.times) - 1  # the last point is where the row itself stopped
        np.testing.assert_allclose(together.state_mean[:k, row], alone.state_mean[:k, 0])
        np.testing.assert_allclose(together.state_bands[:k, row], alone.state_bands[:k, 0])
        np.testing.assert_allclose(together.output_bands[:k, row], alone.output_bands[:k, 0])


def test_per_row_t0(predictor: Predictor) -> None:
    result = predictor.predict(Tank(), uncertain_tanks(2), constant(2.0), horizon=10.0,
                               t0=np.array([5.0, 7.0]))
    assert result.t0.tolist() == [5.0, 7.0]


@pytest.mark.parametrize(("options", "match"), [
    ({"horizon": 0.0}, "horizon"),
    ({"horizon": -5.0}, "horizon"),
    ({"horizon": np.inf}, "horizon"),
    ({"horizon": "long"}, "horizon"),
    ({"horizon": 10.0, "dt": 0.0}, "dt"),
    ({"horizon": 10.0, "dt": np.nan}, "dt"),
    ({"horizon": 10.0, "save_every": -1.0}, "save_every"),
    ({"horizon": 10.0, "t0": [1.0, 2.0, 3.0]}, "t0"),
    ({"horizon": 10.0, "t0": np.nan}, "t0"),
])
def test_bad_requests(predictor: Predictor, options: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        predictor.predict(Tank(), uncertain_tanks(2), constant(1.0), **options)  # type: ignore[arg-type]


def test_state_of_the_wrong_width(predictor: Predictor) -> None:
    with pytest.raises(InvalidInputError, match="1 states"):
        predictor.predict(Tank(), GaussianState(np.zeros((1, 2)), np.zeros((1, 2, 2))),
                          constant(1.0), horizon=10.0)
    with pytest.raises(InvalidInputError, match="GaussianState or a SampledState"):
        predictor.predict(Tank(), np.zeros((1, 1)), constant(1.0), horizon=10.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("returned", [np.array([1.0, 2.0]), np.ones((2, 1)), np.ones((1, 1, 1))])
def test_load_of_the_wrong_shape(predictor: Predictor, returned: Array) -> None:
    with pytest.raises(InvalidInputError, match="The load must return 1 inputs"):
        predictor.predict(Tank(), uncertain_tanks(), lambda t, x: returned, horizon=10.0)


def test_per_row_parameters_must_match_the_rows(predictor: Predictor) -> None:
    with pytest.raises(InvalidInputError, match="'gain' of Tank has 3 values"):
        predictor.predict(Tank(gain=[1.0, 2.0, 3.0]), uncertain_tanks(2), constant(1.0),
                          horizon=10.0)


def test_behavior_without_events_runs_to_the_horizon(predictor: Predictor) -> None:
    class Drift(Behavior):
        states = ("x",)
        outputs = ("x",)

        def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
            return x + dt

        def output(self, x: Array) -> Array:
            return x

    result = predictor.predict(Drift(), GaussianState(np.zeros((1, 1)), np.ones((1, 1, 1))),
                               lambda t, x: np.zeros(0), horizon=10.0, save_every=5.0)
    assert result.time_of_event == {}
    assert result.times.tolist() == [0.0, 5.0, 10.0]
    np.testing.assert_allclose(result.state_mean[:, 0, 0], [0.0, 5.0, 10.0], atol=0.3)


class Cliff(Behavior):
    """Falls by 1 per second; once below 0 it explodes (overflows to inf within a few
    steps), unless held there."""

    states = ("height",)
    outputs = ("height",)
    events = ("fallen",)
    inputs: ClassVar[tuple[str, ...]] = ()

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        return np.where(x > 0, x - dt, x * 1e200)

    def output(self, x: Array) -> Array:
        return x

    def threshold_met(self, x: Array) -> np.ndarray:
        return x <= 0


def test_samples_past_their_events_are_held_without_warnings() -> None:
    state = SampledState(np.array([[[-1.0], [3.0], [30.0]]]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = MonteCarloPredictor(samples=3).predict(Cliff(), state, lambda t, x: np.zeros(0),
                                                        horizon=100.0)
    assert result.time_of_event["fallen"].samples.tolist() == [[0.0, 3.0, 30.0]]
    assert np.all(np.isfinite(result.state_bands))


def test_a_running_sample_going_non_finite_is_reported() -> None:
    class Unstable(Cliff):
        def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
            return np.where(x > 5, x - dt, np.inf)  # never reaches 0: inf below 5

    state = SampledState(np.array([[[-1.0], [10.0]]]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # NumPy warns too, on the bands of inf
        MonteCarloPredictor(samples=2).predict(Unstable(), state, lambda t, x: np.zeros(0),
                                               horizon=20.0)
    ours = [str(w.message) for w in caught if "non-finite states" in str(w.message)]
    assert ours == ["Unstable produced non-finite states at t=6.0 s; their samples will not "
                    "meet their events"]  # once, not at every step


def test_non_finite_states_are_reported_before_any_event_too() -> None:
    class Exploding(Cliff):
        def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
            return np.where(x > 5, x - dt, np.nan)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = MonteCarloPredictor(samples=1).predict(
            Exploding(), SampledState(np.array([[[7.0]]])), lambda t, x: np.zeros(0),
            horizon=5.0)
    assert any("Exploding produced non-finite states at t=3.0 s" in str(w.message)
               for w in caught)
    assert np.isnan(result.time_of_event["fallen"].samples).all()


def test_two_events_with_the_unscented_transform() -> None:
    state = GaussianState(np.array([[40.0, 60.0]]), np.zeros((1, 2, 2)))
    result = UnscentedTransformPredictor().predict(TwoTanks(), state, constant(4.0),
                                                   horizon=100.0, dt=0.25)
    assert figures(result, "time_of_event_mean")["half"].tolist() == [12.5]
    assert figures(result, "time_of_event_mean")["empty"].tolist() == [25.0]
