"""Monte Carlo prediction: simulate many draws of the uncertain state, all at once.

:class:`MonteCarloPredictor` draws ``samples`` states for each of the ``B`` rows of the state
distribution and simulates all ``B * samples`` of them together, one vectorized
``next_state`` call per step (see :mod:`holotwin.predict.rollout` for the step conventions,
which are ProgPy's: inputs from ``load`` at the start of each step, an event's time the end of
the first step after which its threshold is met). The times of event are the samples'
own; trajectories are kept as the mean and the :data:`~holotwin.predict.base.BANDS`
percentiles over the samples every ``save_every`` seconds. A sample that has met every event
holds its state from then on, and the simulation stops when every sample has.

The initial uncertainty is what is propagated; pass ``process_noise`` (variances per state
per second, e.g. ``behavior.process_noise``) to also add Gaussian noise at every step.

Example: a tank draining at 2 L/s from 100 +- 5 L empties at 50 +- 2.5 s:

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
>>> result = MonteCarloPredictor(samples=2000, rng=7).predict(
...     Tank(), state, lambda t, x: np.array([2.0]), horizon=100.0, dt=0.1)
>>> empty = result.time_of_event["empty"]
>>> round(float(empty.mean[0]), 1), round(float(empty.samples.std()), 1), empty.reached.tolist()
(49.9, 2.5, [1.0])
>>> result.state_mean.shape, result.state_bands.shape     # (times, B, states[, bands])
((116, 1, 1), (116, 1, 1, 5))
>>> float(result.times[-1]), result.extra["stopped_early"]  # the last sample's empty time
(57.5, True)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import StateDistribution
from holotwin.errors import InvalidInputError
from holotwin.predict.base import BANDS, Load, PiecewiseLoad, Prediction, Predictor, TimeOfEvent
from holotwin.predict.rollout import plan, roll_out

__all__ = ["MonteCarloPredictor"]


def _sample_bands(values: Array) -> tuple[Array, Array]:
    """Mean ``(B, m)`` and percentiles ``(B, m, len(BANDS))`` over the samples of
    ``values`` ``(B, S, m)``."""
    bands = np.percentile(values, BANDS, axis=1)
    return values.mean(axis=1), np.moveaxis(bands, 0, -1)


class MonteCarloPredictor(Predictor):
    """Predicts by simulating ``samples`` draws of each row's state (see the module docs).

    ``rng``: a seed or a NumPy generator (the draws and the process noise come from it);
    ``process_noise``: variances per state per second added at every step, or None for
    none."""

    def __init__(
        self,
        samples: int = 1000,
        rng: int | np.random.Generator | None = None,
        *,
        process_noise: ArrayLike | None = None,
    ) -> None:
        if isinstance(samples, bool) or not isinstance(samples, int | np.integer) \
                or samples < 1:
            raise InvalidInputError(f"samples must be a whole number >= 1, got {samples!r}")
        self.samples = int(samples)
        self.rng = np.random.default_rng(rng)
        self.process_noise = None if process_noise is None else np.asarray(
            process_noise, dtype=np.float64)
        if self.process_noise is not None and (
                self.process_noise.ndim > 1 or np.any(self.process_noise < 0)
                or not np.all(np.isfinite(self.process_noise))):
            raise InvalidInputError(
                f"process_noise must be non-negative variances (one per state), got "
                f"{process_noise!r}")

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
        noise = None
        if self.process_noise is not None and np.any(self.process_noise > 0):
            n = len(behavior.states)
            if self.process_noise.size not in (1, n):
                raise InvalidInputError(f"process_noise needs one variance per state ({n}), "
                                        f"got {self.process_noise.size}")
            noise = (np.broadcast_to(self.process_noise, (n,)), self.rng)
        x0 = state.sample(self.samples, self.rng)
        run = roll_out(behavior, x0, load, schedule, _sample_bands, noise)
        return Prediction(
            behavior=behavior.behavior_name,
            t0=schedule.t0,
            times=run.times,
            time_of_event={name: TimeOfEvent(run.time_of_event[:, :, e])
                           for e, name in enumerate(behavior.events)},
            state_mean=run.state_mean,
            state_bands=run.state_bands,
            output_mean=run.output_mean,
            output_bands=run.output_bands,
            bands=BANDS,
            samples=self.samples,
            extra={"steps": run.steps, "stopped_early": run.stopped_early},
        )
