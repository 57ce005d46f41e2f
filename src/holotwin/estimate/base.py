"""The estimator API: keep a behavior's uncertain state in step with measurements.

An :class:`Estimator` holds, for a batch of ``B`` twins of one behavior, the uncertain state
(:class:`~holotwin.behaviors.uncertainty.GaussianState` or ``SampledState``) and the time it
refers to (``t``, one per row, epoch or simulation seconds). :meth:`Estimator.estimate`
takes the next measurement of every row (or of some rows, with ``mask``): it predicts each
row from its own time to the measurement's time under the inputs ``u`` (held constant over
the interval), then corrects the prediction with the measured outputs ``z``. Rows whose
measurement contains NaN for an output are corrected with the other outputs only.

Process noise is a variance per state per second (it grows with the interval); measurement
noise a variance per output. Both default to the behavior's defaults.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import StateDistribution
from holotwin.errors import InvalidInputError

__all__ = ["Estimator"]


class Estimator(ABC):
    """Batched state estimation for one behavior; see the module docs."""

    def __init__(
        self,
        behavior: Behavior,
        x0: StateDistribution,
        t0: float | ArrayLike = 0.0,
        *,
        process_noise: ArrayLike | None = None,
        measurement_noise: ArrayLike | None = None,
    ) -> None:
        self.behavior = behavior
        batch = x0.batch
        self.t: Array = np.broadcast_to(np.asarray(t0, dtype=np.float64), (batch,)).copy()
        self.process_noise = self._variances(process_noise, behavior.process_noise,
                                             len(behavior.states), "process_noise")
        self.measurement_noise = self._variances(
            measurement_noise, behavior.measurement_noise, len(behavior.outputs),
            "measurement_noise")

    @staticmethod
    def _variances(given: ArrayLike | None, default: Array, n: int, what: str) -> Array:
        values = np.asarray(default if given is None else given, dtype=np.float64)
        values = np.broadcast_to(values, (n,)).copy() if values.ndim <= 1 else values
        if values.shape != (n,) or np.any(values < 0) or not np.all(np.isfinite(values)):
            raise InvalidInputError(f"{what} must be {n} non-negative variances")
        return values

    @property
    @abstractmethod
    def state(self) -> StateDistribution:
        """The current uncertain state of every row."""

    @abstractmethod
    def estimate(self, t: float | ArrayLike, u: ArrayLike, z: ArrayLike,
                 mask: NDArray[np.bool_] | None = None) -> None:
        """Predict every row (or the rows of ``mask``) to time ``t`` under inputs ``u``
        ``(B, n_u)`` and correct it with the measured outputs ``z`` ``(B, n_z)``. A ``t``
        before a row's current time is an error (measurements come in order)."""

    def _step_times(self, t: float | ArrayLike, rows: NDArray[np.bool_]) -> Array:
        """``dt`` per selected row, checked."""
        target = np.broadcast_to(np.asarray(t, dtype=np.float64), self.t.shape)
        dt = target[rows] - self.t[rows]
        if np.any(dt < 0) or not np.all(np.isfinite(dt)):
            raise InvalidInputError("A measurement is older than the estimate it would update "
                                    "(estimates move forward in time)")
        return np.asarray(dt)
