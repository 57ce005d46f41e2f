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

After each ``estimate`` call, :attr:`Estimator.innovation` holds what the measurement said
that the model did not expect: per row and output, the measurement minus the predicted output
and the standard deviation the estimator expected of that difference (prediction uncertainty
plus measurement noise). Their ratio is N(0, 1) while the model fits the asset, so a physics
twin can tell a real change from noise (the ``residual`` anomaly detector uses it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import GaussianState, SampledState, StateDistribution
from holotwin.errors import InvalidInputError

__all__ = ["Estimator", "Innovation"]


@dataclass(frozen=True)
class Innovation:
    """Measurement minus prediction of one ``estimate`` step, per row and output.

    ``residual`` and ``std`` are ``(B, n_z)`` in the output's units; NaN where the row was not
    in the step or the output was not measured. :attr:`normalized` is their ratio.
    """

    residual: Array
    std: Array

    @property
    def normalized(self) -> Array:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(self.residual / self.std)

    @staticmethod
    def of_rows(batch: int, rows: NDArray[np.bool_], z: Array, zhat: Array, variance: Array
                ) -> Innovation:
        """The full-batch innovation from the selected ``rows``' measurements ``z``
        ``(R, m)`` (NaN: not measured), predicted outputs ``zhat`` and the variances of
        their difference ``(R, m)``."""
        residual = np.full((batch, z.shape[1]), np.nan)
        std = np.full((batch, z.shape[1]), np.nan)
        residual[rows] = z - zhat
        std[rows] = np.where(np.isnan(z), np.nan, np.sqrt(np.maximum(variance, 0.0)))
        return Innovation(residual, std)


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
        if not isinstance(x0, GaussianState | SampledState):
            raise InvalidInputError(f"x0 must be a GaussianState or a SampledState, got "
                                    f"{type(x0).__name__}")
        self.behavior = behavior
        batch = x0.batch
        width = x0.mean.shape[1]
        if width != len(behavior.states):
            raise InvalidInputError(
                f"The initial state has {width} states per row; {behavior.behavior_name} has "
                f"{len(behavior.states)} ({', '.join(behavior.states)})")
        self.t: Array = self._times(t0, batch, "t0")
        self.process_noise = self._variances(process_noise, behavior.process_noise,
                                             len(behavior.states), "process_noise")
        self.measurement_noise = self._variances(
            measurement_noise, behavior.measurement_noise, len(behavior.outputs),
            "measurement_noise")
        #: measurement minus prediction of the last ``estimate`` call (None before one)
        self.innovation: Innovation | None = None

    @staticmethod
    def _variances(given: ArrayLike | None, default: Array, n: int, what: str) -> Array:
        values = np.asarray(default if given is None else given, dtype=np.float64)
        if values.size == 1 and values.ndim <= 1:
            values = np.full(n, float(values.reshape(())))
        if values.shape != (n,) or np.any(values < 0) or not np.all(np.isfinite(values)):
            raise InvalidInputError(f"{what} must be {n} non-negative variances, got shape "
                                    f"{values.shape}")
        return values

    @staticmethod
    def _times(t: float | ArrayLike, batch: int, what: str,
               rows: NDArray[np.bool_] | None = None) -> Array:
        """``t`` (a number or one per row) as a ``(batch,)`` array of seconds, finite in the
        selected ``rows`` (default: all)."""
        problem = f"{what} must be a finite number or {batch} of them (one per row), got"
        try:
            values = np.asarray(t, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidInputError(f"{problem} {t!r}") from None
        if values.ndim <= 1 and values.size in (1, batch):
            values = np.broadcast_to(values.reshape(-1), (batch,)).copy()
            if np.all(np.isfinite(values if rows is None else values[rows])):
                return values
        shown = repr(t) if values.size <= 4 else f"shape {values.shape}"
        raise InvalidInputError(f"{problem} {shown}")

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
        target = self._times(t, self.t.shape[0], "The measurement time t", rows)
        dt = target[rows] - self.t[rows]
        if np.any(dt < 0):
            raise InvalidInputError("A measurement is older than the estimate it would update "
                                    "(estimates move forward in time)")
        return np.asarray(dt)
