"""The unscented Kalman filter: :class:`UnscentedKalmanFilter`.

Each row's Gaussian is represented by ``2n + 1`` scaled sigma points (van der Merwe): the mean
and the mean plus and minus each column of ``sqrt((n + λ) P)``, with
``λ = alpha² (n + kappa) - n``. The sigma points of every row go through one ``next_state``
call (``B * (2n + 1)`` rows, each with its row's inputs and ``dt``); the predicted mean and
covariance are their weighted mean and covariance plus the process noise; fresh sigma points
of the prediction then go through one ``output`` call for the correction.

Defaults ``alpha=1``, ``beta=2``, ``kappa=0``: ``λ = 0``, so the points lie ``sqrt(n)``
standard deviations out and every covariance weight is positive (``2`` for the mean point,
``1 / 2n`` for the others): predicted covariances cannot lose positive semi-definiteness
through the weights. ``beta=2`` is optimal for Gaussian priors. A small ``alpha`` such as
1e-3 (Wan and van der Merwe's suggestion) samples close to the mean, which approaches a
linearization; ``kappa = 3 - n`` matches the fourth moment of a Gaussian.

Process noise over a step of ``dt`` seconds: ``diag(process_noise) * dt``. Covariances are
symmetrized after each step; a square root falls back from Cholesky to an eigen-decomposition
(negative eigenvalues clipped to 0) for a row whose covariance is not positive definite.
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
)
from holotwin.estimate.base import Estimator, Innovation
from holotwin.estimate.kalman import correct, gaussian_start, symmetric

__all__ = ["UnscentedKalmanFilter", "matrix_sqrt"]


class UnscentedKalmanFilter(Estimator):
    """Unscented Kalman filter on a :class:`GaussianState` (see the module docs for the
    sigma points and the defaults of ``alpha``, ``beta`` and ``kappa``). ``x0`` is a
    :class:`GaussianState` (a ``SampledState`` is replaced by its mean and covariance).

    Example: three cells, each guessed 10% low, corrected by their voltage under different
    loads in one filter:

    >>> import numpy as np
    >>> from holotwin.behaviors import BatteryCircuit, GaussianState
    >>> cell = BatteryCircuit()
    >>> truth = cell.initial_state(3)
    >>> cov = np.tile(np.diag([1.0, 800.0**2, 1.0, 1.0]), (3, 1, 1))
    >>> ukf = UnscentedKalmanFilter(cell, GaussianState(truth * [1.0, 0.9, 1.0, 1.0], cov))
    >>> load = np.array([[1.0], [2.0], [3.0]])
    >>> for second in range(1, 301):
    ...     truth = cell.next_state(truth, load, 1.0)
    ...     ukf.estimate(second, load, cell.output(truth))
    >>> error = np.abs(ukf.state.mean[:, 1] - truth[:, 1])
    >>> bool(np.all(error < 20.0)), ukf.state.mean.shape, ukf.state.cov.shape
    (True, (3, 4), (3, 4, 4))
    """

    def __init__(
        self,
        behavior: Behavior,
        x0: StateDistribution,
        t0: float | ArrayLike = 0.0,
        *,
        process_noise: ArrayLike | None = None,
        measurement_noise: ArrayLike | None = None,
        alpha: float = 1.0,
        beta: float = 2.0,
        kappa: float = 0.0,
    ) -> None:
        super().__init__(behavior, x0, t0, process_noise=process_noise,
                         measurement_noise=measurement_noise)
        check_parameters(behavior, x0.batch)
        n = len(behavior.states)
        spread = alpha**2 * (n + kappa)  # n + λ
        if not (alpha > 0 and np.isfinite(spread) and spread > 0 and np.isfinite(beta)):
            raise InvalidInputError(f"Sigma points need alpha > 0 and n + kappa > 0 (n={n}), "
                                    f"got alpha={alpha}, kappa={kappa}, beta={beta}")
        self.alpha, self.beta, self.kappa = float(alpha), float(beta), float(kappa)
        self._scale = float(np.sqrt(spread))
        lam = spread - n
        #: weights of the mean point and of each of the 2n others (mean, covariance)
        self._w_mean = np.full(2 * n + 1, 0.5 / spread)
        self._w_mean[0] = lam / spread
        self._w_cov = self._w_mean.copy()
        self._w_cov[0] += 1.0 - alpha**2 + beta
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
        moved = advance(self.behavior, rows, self._sigma_points(x, p), step.u, step.dt)
        x, p = self._moments(moved)
        p = p + np.eye(x.shape[1]) * (self.process_noise * step.dt)[:, None, :]
        points = self._sigma_points(x, p)
        seen = observe(self.behavior, rows, points)
        zhat, pzz = self._moments(seen)
        pxz = self._weighted(points - x[:, None, :], seen - zhat[:, None, :])
        self.innovation = Innovation.of_rows(
            len(rows), rows, step.z, zhat,
            np.diagonal(pzz, axis1=1, axis2=2) + self.measurement_noise)
        x, p = correct(x, p, zhat, pzz, pxz, step.z, self.measurement_noise)
        self._mean[rows], self._cov[rows] = x, p
        self.t[rows] = step.t

    def _sigma_points(self, x: Array, p: Array) -> Array:
        return star_points(x, self._scale * matrix_sqrt(p))

    def _moments(self, values: Array) -> tuple[Array, Array]:
        """Weighted mean ``(R, m)`` and covariance ``(R, m, m)`` of transformed sigma points
        ``(R, 2n + 1, m)``. The mean is taken relative to the mean point, so weights of
        opposite signs (small ``alpha``) do not cancel large absolute values."""
        centre = values[:, 0]
        mean = centre + np.einsum("k,rkm->rm", self._w_mean[1:], values[:, 1:] - centre[:, None])
        deviations = values - mean[:, None, :]
        return mean, symmetric(self._weighted(deviations, deviations))

    def _weighted(self, a: Array, b: Array) -> Array:
        """``Σ_k w_k a_k b_kᵀ`` over the sigma points, covariance weights: ``(R, i, j)``
        (a batched matrix product, several times faster than the equivalent einsum)."""
        return np.asarray(np.swapaxes(a * self._w_cov[:, None], 1, 2) @ b)


def matrix_sqrt(p: Array) -> Array:
    """A square root ``L`` with ``L Lᵀ = P`` for each row of ``p`` ``(R, n, n)``: Cholesky,
    or for a row where it fails, ``V sqrt(max(w, 0))`` from the eigen-decomposition."""
    p = symmetric(p)
    try:
        return np.asarray(np.linalg.cholesky(p))
    except np.linalg.LinAlgError:
        pass
    roots = np.empty_like(p)
    for row, matrix in enumerate(p):  # rare: row by row, so one row does not change others
        try:
            roots[row] = np.linalg.cholesky(matrix)
        except np.linalg.LinAlgError:
            values, vectors = np.linalg.eigh(matrix)
            roots[row] = vectors * np.sqrt(np.clip(values, 0.0, None))
    return roots
