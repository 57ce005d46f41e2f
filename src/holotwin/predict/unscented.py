"""Unscented transform prediction: a few sigma points instead of many samples.

:class:`UnscentedTransformPredictor` takes the Gaussian of each row's state (``state.mean``,
``state.cov``, so any distribution works), places ``2 n + 1`` sigma points around it (the
scaled unscented transform of van der Merwe: ``alpha``, ``beta``, ``kappa``), simulates them
all together exactly like the Monte Carlo predictor (see :mod:`holotwin.predict.rollout`),
and reduces:

- each event's time: the weighted mean and variance of the sigma points' times of event.
  :class:`~holotwin.predict.base.TimeOfEvent` wants samples, so its ``samples`` are
  ``draws`` evenly spaced quantiles of the Gaussian with that mean and variance (the
  ``(i + 0.5) / draws`` quantiles: deterministic, their mean is the unscented mean exactly,
  their percentiles the Gaussian's). They are NaN for a row where any sigma point did not
  meet the event within the horizon (the Gaussian is then unknown: extend the horizon).
  The unscented figures themselves are in ``extra``: ``"time_of_event_mean"`` and
  ``"time_of_event_var"`` (per event, ``(B,)``) and ``"sigma_point_times"`` (per event,
  ``(B, 2 n + 1)``);
- trajectories: the weighted mean and variance of the sigma points' states and outputs; the
  bands are the percentiles of the Gaussian with that mean and variance.

``Prediction.samples`` is the number of sigma points per row (what was simulated).

Defaults ``alpha=1, beta=2, kappa=0``: times of event are resolved to ``dt`` only, so the
sigma points must spread over several steps; the tiny ``alpha`` of Kalman filters would put
them all within one step and the variance would come out as zero. Only the initial
uncertainty is propagated (no process noise).

Example: a tank draining at 2 L/s from 100 +- 5 L empties at 50 +- 2.5 s (the transform of a
linear model is exact):

>>> import numpy as np
>>> from holotwin.behaviors import ContinuousBehavior, GaussianState
>>> class Tank(ContinuousBehavior):
...     states = ("volume",)
...     inputs = ("outflow",)
...     outputs = ("volume",)
...     events = ("empty",)
...     def dx(self, x, u):
...         return -u
...     def output(self, x):
...         return x
...     def threshold_met(self, x):
...         return x <= 0.0
>>> state = GaussianState(np.array([[100.0]]), np.array([[[25.0]]]))
>>> result = UnscentedTransformPredictor().predict(
...     Tank(), state, lambda t, x: np.array([2.0]), horizon=100.0, dt=0.5)
>>> result.extra["sigma_point_times"]["empty"].tolist()
[[50.0, 52.5, 47.5]]
>>> float(result.extra["time_of_event_mean"]["empty"][0])
50.0
>>> float(result.extra["time_of_event_var"]["empty"][0])
6.25
>>> result.time_of_event["empty"].percentile([5, 50, 95]).round(1).tolist()
[[45.9, 50.0, 54.1]]
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import StateDistribution
from holotwin.errors import InvalidInputError
from holotwin.predict.base import BANDS, Load, PiecewiseLoad, Prediction, Predictor, TimeOfEvent
from holotwin.predict.rollout import plan, roll_out

__all__ = ["UnscentedTransformPredictor"]

#: standard normal quantiles of the bands
_BAND_Z = ndtri(np.asarray(BANDS) / 100.0)


def _finite(name: str, value: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInputError(f"{name} must be a finite number, got {value!r}")
    return number


class UnscentedTransformPredictor(Predictor):
    """Predicts by the unscented transform (see the module docs): ``alpha`` (> 0) spreads the
    sigma points, ``beta`` weighs the centre point in the variance (2 is optimal for a
    Gaussian), ``kappa`` is the secondary scaling; ``draws`` is the number of quantile
    samples given to each :class:`~holotwin.predict.base.TimeOfEvent`."""

    def __init__(self, alpha: float = 1.0, beta: float = 2.0, kappa: float = 0.0,
                 *, draws: int = 1000) -> None:
        self.alpha = _finite("alpha", alpha)
        self.beta = _finite("beta", beta)
        self.kappa = _finite("kappa", kappa)
        if self.alpha <= 0:
            raise InvalidInputError(f"alpha must be > 0, got {alpha!r}")
        if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
            raise InvalidInputError(f"draws must be a whole number >= 1, got {draws!r}")
        self.draws = int(draws)

    def weights(self, n: int) -> tuple[float, Array, Array]:
        """For ``n`` states: the spread ``n + lambda`` (sigma points are the mean plus and
        minus the columns of ``sqrt((n + lambda) P)``) and the mean and covariance weights
        ``(2 n + 1,)``, centre point first.

        >>> spread, wm, wc = UnscentedTransformPredictor().weights(4)
        >>> spread, wm.tolist(), wc[:2].tolist()
        (4.0, [0.0, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125, 0.125], [2.0, 0.125])
        """
        spread = self.alpha**2 * (n + self.kappa)
        if spread <= 0:
            raise InvalidInputError(
                f"alpha^2 (n + kappa) must be > 0 for {n} states, got {spread} (alpha "
                f"{self.alpha}, kappa {self.kappa})")
        lam = spread - n
        wm = np.full(2 * n + 1, 0.5 / spread)
        wc = wm.copy()
        wm[0] = lam / spread
        wc[0] = lam / spread + 1.0 - self.alpha**2 + self.beta
        return spread, wm, wc

    def sigma_points(self, mean: Array, cov: Array) -> Array:
        """Sigma points ``(B, 2 n + 1, n)`` of ``B`` Gaussians (``mean`` ``(B, n)``, ``cov``
        ``(B, n, n)``); the square root is symmetric (eigen-decomposition), so a singular
        covariance, even zero, is fine."""
        n = mean.shape[1]
        spread, _, _ = self.weights(n)
        values, vectors = np.linalg.eigh(cov)
        root = vectors * np.sqrt(np.clip(values, 0.0, None) * spread)[:, None, :]
        root = root @ np.swapaxes(vectors, 1, 2)  # symmetric square root of spread * cov
        offsets = np.swapaxes(root, 1, 2)  # row i: column i of the root
        return np.concatenate([mean[:, None, :], mean[:, None, :] + offsets,
                               mean[:, None, :] - offsets], axis=1)

    def predict(
        self,
        behavior: Behavior,
        state: StateDistribution,
        load: Load | PiecewiseLoad,
        *,
        horizon: float,
        dt: float = 1.0,
        save_every: float | None = None,
        t0: float | ArrayLike = 0.0,
    ) -> Prediction:
        schedule = plan(behavior, state, horizon=horizon, dt=dt, save_every=save_every, t0=t0)
        mean, cov = state.mean, state.cov
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
            raise InvalidInputError("The state's mean and covariance must be finite")
        n = mean.shape[1]
        _, wm, wc = self.weights(n)

        def gaussian_bands(values: Array) -> tuple[Array, Array]:
            centre = np.einsum("s,bsm->bm", wm, values)
            spread = np.einsum("s,bsm->bm", wc, (values - centre[:, None, :]) ** 2)
            std = np.sqrt(np.clip(spread, 0.0, None))
            return centre, centre[..., None] + std[..., None] * _BAND_Z

        run = roll_out(behavior, self.sigma_points(mean, cov), load, schedule, gaussian_bands)
        quantiles = ndtri((np.arange(self.draws) + 0.5) / self.draws)
        toe: dict[str, TimeOfEvent] = {}
        toe_mean: dict[str, Array] = {}
        toe_var: dict[str, Array] = {}
        sigma_times: dict[str, Array] = {}
        for e, name in enumerate(behavior.events):
            times = run.time_of_event[:, :, e]
            complete = np.all(np.isfinite(times), axis=1)
            filled = np.where(np.isfinite(times), times, 0.0)
            centre = filled @ wm
            variance = np.clip(((filled - centre[:, None]) ** 2) @ wc, 0.0, None)
            centre = np.where(complete, centre, np.nan)
            variance = np.where(complete, variance, np.nan)
            toe[name] = TimeOfEvent(centre[:, None] + np.sqrt(variance)[:, None] * quantiles)
            toe_mean[name], toe_var[name], sigma_times[name] = centre, variance, times
        return Prediction(
            behavior=behavior.behavior_name,
            t0=schedule.t0,
            times=run.times,
            time_of_event=toe,
            state_mean=run.state_mean,
            state_bands=run.state_bands,
            output_mean=run.output_mean,
            output_bands=run.output_bands,
            bands=BANDS,
            samples=2 * n + 1,
            extra={"time_of_event_mean": toe_mean, "time_of_event_var": toe_var,
                   "sigma_point_times": sigma_times, "steps": run.steps,
                   "stopped_early": run.stopped_early},
        )
