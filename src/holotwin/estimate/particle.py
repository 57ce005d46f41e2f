"""The particle filter: :class:`ParticleFilter` (sequential importance resampling).

Each row's distribution is ``S`` weighted particles (a
:class:`~holotwin.behaviors.uncertainty.SampledState` ``(B, S, n)``). A step moves every
particle of every selected row through one ``next_state`` call and adds process noise drawn
from ``N(0, diag(process_noise) * dt)``; each particle's weight is then multiplied by the
Gaussian likelihood of the measured outputs (variances ``measurement_noise``), computed in
log space and normalized with the log-sum-exp, so far-off particles underflow to a zero
weight instead of making a row's weights 0/0. A row whose effective sample size
``1 / Σ w²`` falls below ``S / 2`` is resampled (systematic resampling: one uniform draw per
row, ``S`` evenly spaced positions), after which its weights are equal again.

Measurement noise must be positive (a zero variance would make the likelihood a spike no
particle hits). Process noise keeps resampled particles apart: with very little of it the
particles of a row collapse onto a few values, so a filter's process noise is usually larger
than the model's own.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import SampledState, StateDistribution
from holotwin.errors import InvalidInputError
from holotwin.estimate._step import advance, check_parameters, checked_step, observe
from holotwin.estimate.base import Estimator, Innovation

__all__ = ["ParticleFilter", "systematic_resample"]


class ParticleFilter(Estimator):
    """Particle filter on a :class:`SampledState` (see the module docs). ``particles`` per
    row are drawn from ``x0`` when it is a :class:`GaussianState`, or from a
    ``SampledState`` with another count (by weight); a ``SampledState`` with ``particles``
    samples is used as it is. ``rng``: a generator, a seed, or None (fresh entropy).

    Example: a cell guessed 10% low, 500 particles, seeded:

    >>> import numpy as np
    >>> from holotwin.behaviors import BatteryCircuit, GaussianState
    >>> cell = BatteryCircuit()
    >>> truth = cell.initial_state()
    >>> prior = GaussianState(truth * [1.0, 0.9, 1.0, 1.0],
    ...                       np.diag([1.0, 800.0**2, 1.0, 1.0])[None])
    >>> pf = ParticleFilter(cell, prior, particles=500, rng=7,
    ...                     process_noise=[1e-3, 1.0, 1e-3, 1e-3])
    >>> for second in range(1, 201):
    ...     truth = cell.next_state(truth, np.array([[2.0]]), 1.0)
    ...     pf.estimate(second, [2.0], cell.output(truth))
    >>> bool(abs(pf.state.mean[0, 1] - truth[0, 1]) < 40.0), pf.state.samples.shape
    (True, (1, 500, 4))
    """

    def __init__(
        self,
        behavior: Behavior,
        x0: StateDistribution,
        t0: float | ArrayLike = 0.0,
        *,
        process_noise: ArrayLike | None = None,
        measurement_noise: ArrayLike | None = None,
        particles: int = 1000,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        super().__init__(behavior, x0, t0, process_noise=process_noise,
                         measurement_noise=measurement_noise)
        check_parameters(behavior, x0.batch)
        if isinstance(particles, bool) or not isinstance(particles, int | np.integer) \
                or particles < 1:
            raise InvalidInputError(f"particles must be a positive integer, got {particles!r}")
        if np.any(self.measurement_noise <= 0):
            raise InvalidInputError("A particle filter needs positive measurement_noise")
        self.rng = np.random.default_rng(rng)
        self._samples, self._log_weights = self._start(x0, int(particles))

    def _start(self, x0: StateDistribution, count: int) -> tuple[Array, Array]:
        if isinstance(x0, SampledState) and x0.samples.shape[1] == count:
            weights = np.ones(x0.samples.shape[:2]) if x0.weights is None else x0.weights
            if np.any(weights < 0) or not np.all(np.sum(weights, axis=1) > 0):
                raise InvalidInputError("Sample weights must be >= 0 with a positive sum")
            with np.errstate(divide="ignore"):  # a zero weight is a log weight of -inf
                log_weights = np.log(weights / np.sum(weights, axis=1, keepdims=True))
            samples = np.array(x0.samples)
        else:
            samples = np.asarray(x0.sample(count, self.rng), dtype=np.float64)
            log_weights = np.full(samples.shape[:2], -np.log(count))
        if not np.all(np.isfinite(samples)):
            raise InvalidInputError("The initial particles must be finite")
        return samples, log_weights

    @property
    def state(self) -> SampledState:
        return SampledState(self._samples.copy(), np.exp(self._log_weights))

    @property
    def effective_sample_size(self) -> Array:
        """``1 / Σ w²`` per row: ``(B,)``, from 1 (one particle carries all the weight) to
        ``S`` (equal weights)."""
        return np.asarray(1.0 / np.sum(np.exp(2.0 * self._log_weights), axis=1))

    def estimate(self, t: float | ArrayLike, u: ArrayLike, z: ArrayLike,
                 mask: NDArray[np.bool_] | None = None) -> None:
        step = checked_step(self, t, u, z, mask)
        rows = step.rows
        if not rows.any():
            return
        moved = advance(self.behavior, rows, self._samples[rows], step.u, step.dt)
        spread = np.sqrt(self.process_noise * step.dt)[:, None, :]
        moved = moved + self.rng.standard_normal(moved.shape) * spread
        seen = observe(self.behavior, rows, moved)
        prior = np.exp(self._log_weights[rows])[:, :, None]
        zhat = np.sum(prior * seen, axis=1)
        self.innovation = Innovation.of_rows(
            len(rows), rows, step.z, zhat,
            np.sum(prior * (seen - zhat[:, None, :]) ** 2, axis=1) + self.measurement_noise)
        log_weights = self._weigh(self._log_weights[rows], seen, step.z)
        ess = 1.0 / np.sum(np.exp(2.0 * log_weights), axis=1)
        low = ess < 0.5 * moved.shape[1]
        if np.any(low):
            picks = systematic_resample(np.exp(log_weights[low]), self.rng)
            moved[low] = np.take_along_axis(moved[low], picks[:, :, None], axis=1)
            log_weights[low] = -np.log(moved.shape[1])
        self._samples[rows], self._log_weights[rows] = moved, log_weights
        self.t[rows] = step.t

    def _weigh(self, log_weights: Array, zhat: Array, z: Array) -> Array:
        """Prior log weights ``(R, S)`` plus the log likelihood of ``z`` ``(R, m)`` given the
        particles' outputs ``zhat`` ``(R, S, m)``, normalized. Unmeasured (NaN) outputs are
        left out; a row where no particle has a finite likelihood keeps its weights."""
        used = ~np.isnan(z)
        with np.errstate(over="ignore", invalid="ignore"):
            terms = (np.where(used, z, 0.0)[:, None, :] - zhat) ** 2 / self.measurement_noise
            log_likelihood = -0.5 * np.sum(np.where(used[:, None, :], terms, 0.0), axis=2)
        log_likelihood = np.where(np.isnan(log_likelihood), -np.inf, log_likelihood)
        total = log_weights + log_likelihood
        top = np.max(total, axis=1, keepdims=True)
        hopeless = ~np.isfinite(top[:, 0])
        top[hopeless] = 0.0
        with np.errstate(divide="ignore"):
            norm = top + np.log(np.sum(np.exp(total - top), axis=1, keepdims=True))
        return np.where(hopeless[:, None], log_weights, total - norm)


def systematic_resample(weights: Array, rng: np.random.Generator) -> NDArray[np.intp]:
    """Indices ``(R, S)`` of the particles kept, for weights ``(R, S)`` (rows summing to 1):
    one uniform offset per row and ``S`` positions ``1/S`` apart, so a particle of weight
    ``w`` is kept ``floor(S w)`` or ``ceil(S w)`` times."""
    rows, count = weights.shape
    cumulative = np.cumsum(weights, axis=1)
    cumulative[:, -1] = 1.0  # rounding must not leave the last position past the end
    positions = (rng.random((rows, 1)) + np.arange(count)) / count
    # one search for all rows: row k's values shifted into [k, k + 1]
    shift = np.arange(rows, dtype=np.float64)[:, None]
    found = np.searchsorted((cumulative + shift).ravel(), (positions + shift).ravel(),
                            side="right").reshape(rows, count)
    return np.asarray(np.clip(found - count * np.arange(rows)[:, None], 0, count - 1),
                      dtype=np.intp)
