"""The extended Kalman filter: :class:`KalmanFilter`.

The behavior's ``next_state`` and ``output`` are linearized around each row's estimate by
central finite differences, computed for every row at once (the estimate and its ``2n``
perturbations go through one ``next_state`` call and one ``output`` call). For a linear
behavior the differences are exact up to rounding, so this is then the Kalman filter itself.

Over a step of ``dt`` seconds the process noise covariance is ``diag(process_noise) * dt``;
the measurement noise covariance is ``diag(measurement_noise)``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import GaussianState, StateDistribution
from holotwin.errors import InvalidInputError
from holotwin.estimate._step import (
    advance,
    check_parameters,
    checked_step,
    observe,
    star_points,
    used_outputs,
)
from holotwin.estimate.base import Estimator, Innovation

__all__ = ["KalmanFilter", "correct", "gaussian_start", "linearize", "symmetric"]

#: relative step of the central differences: the cube root of the machine epsilon balances
#: truncation against rounding error
JACOBIAN_STEP = float(np.finfo(np.float64).eps ** (1.0 / 3.0))


class KalmanFilter(Estimator):
    """Extended Kalman filter on a :class:`GaussianState` (see the module docs).

    ``x0`` is a :class:`GaussianState` (a ``SampledState`` is replaced by its mean and
    covariance). ``jacobian_step`` is the relative step of the finite differences: state ``j``
    is perturbed by ``jacobian_step * max(|x_j|, 1)`` in its own units.

    Example: a cell whose charge is first guessed 10% low, corrected by its voltage under a
    2 A load:

    >>> import numpy as np
    >>> from holotwin.behaviors import BatteryCircuit, GaussianState
    >>> cell = BatteryCircuit()
    >>> truth = cell.initial_state()
    >>> guess = truth * [1.0, 0.9, 1.0, 1.0]
    >>> kf = KalmanFilter(cell, GaussianState(guess, np.diag([1.0, 800.0**2, 1.0, 1.0])[None]))
    >>> for second in range(1, 301):
    ...     truth = cell.next_state(truth, np.array([[2.0]]), 1.0)
    ...     kf.estimate(second, [2.0], cell.output(truth))
    >>> bool(abs(kf.state.mean[0, 1] - truth[0, 1]) < 20.0), kf.t.tolist()
    (True, [300.0])
    """

    def __init__(
        self,
        behavior: Behavior,
        x0: StateDistribution,
        t0: float | ArrayLike = 0.0,
        *,
        process_noise: ArrayLike | None = None,
        measurement_noise: ArrayLike | None = None,
        jacobian_step: float = JACOBIAN_STEP,
    ) -> None:
        super().__init__(behavior, x0, t0, process_noise=process_noise,
                         measurement_noise=measurement_noise)
        check_parameters(behavior, x0.batch)
        if not 0.0 < jacobian_step < 1.0:
            raise InvalidInputError(f"jacobian_step must be in (0, 1), got {jacobian_step}")
        self.jacobian_step = float(jacobian_step)
        self._mean, self._cov = gaussian_start(x0)

    @property
    def state(self) -> GaussianState:
        return GaussianState(self._mean.copy(), self._cov.copy())

    def estimate(self, t: float | ArrayLike, u: ArrayLike, z: ArrayLike,
                 mask: NDArray[np.bool_] | None = None) -> None:
        step = checked_step(self, t, u, z, mask)
        rows = step.rows
        if not rows.any():
            return
        x, p = self._mean[rows], self._cov[rows]
        points = self._points(x)
        x, f = linearize(advance(self.behavior, rows, points, step.u, step.dt), points)
        p = symmetric(f @ p @ np.swapaxes(f, 1, 2)
                      + np.eye(x.shape[1]) * (self.process_noise * step.dt)[:, None, :])
        points = self._points(x)
        zhat, h = linearize(observe(self.behavior, rows, points), points)
        pxz = p @ np.swapaxes(h, 1, 2)
        pzz = h @ pxz
        self.innovation = Innovation.of_rows(
            len(rows), rows, step.z, zhat,
            np.diagonal(pzz, axis1=1, axis2=2) + self.measurement_noise)
        x, p = correct(x, p, zhat, pzz, pxz, step.z, self.measurement_noise)
        self._mean[rows], self._cov[rows] = x, p
        self.t[rows] = step.t

    def _points(self, x: Array) -> Array:
        """Each row's estimate and its perturbations, one state at a time: ``(R, 2n + 1, n)``."""
        steps = self.jacobian_step * np.maximum(np.abs(x), 1.0)
        return star_points(x, np.eye(x.shape[1]) * steps[:, None, :])


def linearize(values: Array, points: Array) -> tuple[Array, Array]:
    """The value at the estimate ``(R, m)`` and the Jacobian ``(R, m, n)`` by central
    differences, from a function's ``values`` ``(R, 2n + 1, m)`` at the finite-difference
    :func:`star_points` ``(R, 2n + 1, n)``."""
    n = points.shape[2]
    # the steps as represented, (x + h) - (x - h), not 2h: rounding of x + h cancels
    widths = np.diagonal(points[:, 1:n + 1] - points[:, n + 1:], axis1=1, axis2=2)
    slopes = (values[:, 1:n + 1] - values[:, n + 1:]) / widths[:, :, None]
    return values[:, 0], np.swapaxes(slopes, 1, 2)


def gaussian_start(x0: StateDistribution) -> tuple[Array, Array]:
    """Mean ``(B, n)`` and symmetric covariance ``(B, n, n)`` copied from ``x0``, checked."""
    mean = np.array(x0.mean, dtype=np.float64)
    cov = symmetric(np.array(x0.cov, dtype=np.float64))
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(cov))):
        raise InvalidInputError("The initial state must have a finite mean and covariance")
    if np.any(np.diagonal(cov, axis1=1, axis2=2) < 0):
        raise InvalidInputError("The initial covariance has a negative variance")
    return mean, cov


def symmetric(p: Array) -> Array:
    """``(P + Pᵀ) / 2`` for a batch ``(R, n, n)``: rounding makes covariances drift apart."""
    return np.asarray(0.5 * (p + np.swapaxes(p, 1, 2)))


def correct(x: Array, p: Array, zhat: Array, pzz: Array, pxz: Array, z: Array,
            variances: Array) -> tuple[Array, Array]:
    """The Kalman correction of the predicted ``x`` ``(R, n)``, ``p`` ``(R, n, n)`` by ``z``
    ``(R, m)``: ``zhat`` the predicted outputs, ``pzz`` their covariance without measurement
    noise, ``pxz`` the state-output cross covariance ``(R, n, m)``. An output that is NaN in
    ``z`` is left out of its row's correction (it gets no gain); all NaN: no correction."""
    used, measured = used_outputs(z)
    pzz = np.where(used[:, :, None] & used[:, None, :], pzz, 0.0)
    s = pzz + np.eye(z.shape[1]) * np.where(used, variances, 1.0)[:, None, :]
    pxz = np.where(used[:, None, :], pxz, 0.0)
    gain = np.swapaxes(np.linalg.solve(s, np.swapaxes(pxz, 1, 2)), 1, 2)
    innovation = np.where(used, measured - zhat, 0.0)
    x = x + np.einsum("rnm,rm->rn", gain, innovation)
    p = p - gain @ s @ np.swapaxes(gain, 1, 2)
    return x, symmetric(p)
