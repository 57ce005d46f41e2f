"""ParticleFilter: resampling, seeded runs, starting samples, numerical stability."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import GaussianState, SampledState
from holotwin.errors import InvalidInputError
from holotwin.estimate import KalmanFilter, ParticleFilter
from holotwin.estimate.particle import systematic_resample

from .models import ConstantVelocity


def _start(batch: int = 1) -> GaussianState:
    return GaussianState(np.tile([0.0, 1.0], (batch, 1)), np.tile(np.eye(2), (batch, 1, 1)))


def test_systematic_resampling_keeps_each_particle_its_share() -> None:
    rng = np.random.default_rng(0)
    weights = np.array([[1.0, 0.0, 0.0, 0.0], [0.25] * 4, [0.5, 0.25, 0.25, 0.0]])
    picks = systematic_resample(weights, rng)
    assert picks.tolist()[:2] == [[0, 0, 0, 0], [0, 1, 2, 3]]
    assert np.bincount(picks[2], minlength=4).tolist() == [2, 1, 1, 0]
    random = rng.dirichlet(np.ones(1000), size=20)
    counts = np.stack([np.bincount(row, minlength=1000)
                       for row in systematic_resample(random, rng)])
    expected = 1000 * random
    assert np.all((counts >= np.floor(expected) - 1e-9) & (counts <= np.ceil(expected) + 1e-9))


def test_resamples_only_when_the_effective_size_drops_below_half() -> None:
    model = ConstantVelocity()
    sharp = ParticleFilter(model, _start(), particles=500, rng=1)
    sharp.estimate(1.0, [0.0], [[1.0, 1.0]])  # variances 0.25, 0.04 against a prior of 1
    assert sharp.effective_sample_size[0] == pytest.approx(500.0)
    state = sharp.state
    assert state.weights is not None and np.allclose(state.weights, 1 / 500)
    vague = ParticleFilter(model, _start(), particles=500, rng=1, measurement_noise=[25.0, 25.0])
    vague.estimate(1.0, [0.0], [[1.0, 1.0]])
    assert 250.0 < vague.effective_sample_size[0] < 500.0
    assert len(np.unique(vague.state.samples[0, :, 0])) == 500  # not resampled


def test_seeded_runs_repeat() -> None:
    runs = []
    for rng in (7, np.random.default_rng(7)):
        pf = ParticleFilter(ConstantVelocity(), _start(2), particles=200, rng=rng)
        for k in range(1, 6):
            pf.estimate(float(k), [0.1], [[float(k), 1.0], [float(k), np.nan]])
        runs.append(pf.state)
    np.testing.assert_array_equal(runs[0].samples, runs[1].samples)
    assert runs[0].weights is not None and runs[1].weights is not None
    np.testing.assert_array_equal(runs[0].weights, runs[1].weights)


def test_starting_from_samples() -> None:
    samples = np.random.default_rng(2).normal(size=(2, 50, 2))
    weights = np.tile(np.arange(50.0) / np.sum(np.arange(50.0)), (2, 1))
    kept = ParticleFilter(ConstantVelocity(), SampledState(samples, weights), particles=50)
    assert kept.state.weights is not None
    np.testing.assert_array_equal(kept.state.samples, samples)
    np.testing.assert_allclose(kept.state.weights, weights, rtol=1e-12)
    drawn = ParticleFilter(ConstantVelocity(), SampledState(samples, weights), particles=80,
                           rng=0)
    assert drawn.state.samples.shape == (2, 80, 2)
    assert np.all(np.isin(drawn.state.samples[:, :, 0], samples[:, 1:, 0]))  # weight 0 never


def test_a_far_off_measurement_does_not_break_the_weights() -> None:
    """Every likelihood underflows in linear space; in log space the nearest particle wins."""
    pf = ParticleFilter(ConstantVelocity(), _start(), particles=300, rng=4)
    pf.estimate(1.0, [0.0], [[1e4, 1e4]])
    state = pf.state
    assert state.weights is not None and np.all(np.isfinite(state.weights))
    assert np.all(np.isfinite(state.samples))
    assert state.mean[0, 0] > 2.0  # moved towards the measurement


def test_agrees_with_the_kalman_filter_on_a_linear_behavior() -> None:
    model = ConstantVelocity()
    rng = np.random.default_rng(11)
    pf = ParticleFilter(model, _start(), particles=4000, rng=12)
    kf = KalmanFilter(model, _start())
    truth = np.array([[0.0, 1.0]])
    for k in range(1, 31):
        truth = model.next_state(truth, np.array([[0.2]]), 1.0)
        z = truth + rng.normal(0.0, np.sqrt(model.measurement_noise), (1, 2))
        pf.estimate(float(k), [0.2], z)
        kf.estimate(float(k), [0.2], z)
    kf_std, pf_std = kf.state.std()[0], pf.state.std()[0]
    assert np.all(np.abs(pf.state.mean[0] - kf.state.mean[0]) < 0.2 * kf_std)
    assert np.all(np.abs(pf_std / kf_std - 1.0) < 0.15)


def test_settings_are_checked() -> None:
    with pytest.raises(InvalidInputError, match="positive measurement_noise"):
        ParticleFilter(ConstantVelocity(), _start(), measurement_noise=[0.25, 0.0])
    for particles in (0, 2.5, True):
        with pytest.raises(InvalidInputError, match="particles must be a positive integer"):
            ParticleFilter(ConstantVelocity(), _start(), particles=particles)  # type: ignore[arg-type]
