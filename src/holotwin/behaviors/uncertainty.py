"""Uncertain states: the one value type estimators produce and predictors consume.

Both kinds hold a batch of ``B`` independent distributions over a behavior's ``n`` states
(one per twin):

- :class:`GaussianState`: ``mean`` ``(B, n)`` and covariance ``cov`` ``(B, n, n)`` (Kalman
  filters);
- :class:`SampledState`: ``samples`` ``(B, S, n)`` with optional ``weights`` ``(B, S)``
  (particle filters, Monte Carlo).

Each gives ``mean``, ``cov`` and ``sample(count, rng)`` ``(B, count, n)``, so any estimator
works with any predictor.

>>> import numpy as np
>>> g = GaussianState(np.array([[1.0, 2.0]]), np.array([np.diag([0.01, 0.04])]))
>>> s = g.sample(20000, np.random.default_rng(1))
>>> s.shape, np.round(s.mean(axis=1), 1).tolist(), np.round(s.std(axis=1), 2).tolist()
((1, 20000, 2), [[1.0, 2.0]], [[0.1, 0.2]])
>>> SampledState(s).mean.round(1).tolist()
[[1.0, 2.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from holotwin.behaviors.base import Array
from holotwin.errors import InvalidInputError

__all__ = ["GaussianState", "SampledState", "StateDistribution"]


@dataclass
class GaussianState:
    """``B`` Gaussian distributions: ``mean`` ``(B, n)``, ``cov`` ``(B, n, n)``."""

    mean: Array
    cov: Array

    def __post_init__(self) -> None:
        self.mean = np.asarray(self.mean, dtype=np.float64)
        self.cov = np.asarray(self.cov, dtype=np.float64)
        if self.mean.ndim != 2 or self.cov.shape != (*self.mean.shape, self.mean.shape[1]):
            raise InvalidInputError(f"A Gaussian state needs mean (B, n) and cov (B, n, n), got "
                                    f"{self.mean.shape} and {self.cov.shape}")

    @property
    def batch(self) -> int:
        return int(self.mean.shape[0])

    def sample(self, count: int, rng: np.random.Generator) -> Array:
        """``count`` draws per distribution: ``(B, count, n)`` (a singular covariance is
        fine: the draw uses an eigen-decomposition, not Cholesky)."""
        values, vectors = np.linalg.eigh(self.cov)
        scale = vectors * np.sqrt(np.clip(values, 0.0, None))[:, None, :]
        normal = rng.standard_normal((self.batch, count, self.mean.shape[1]))
        return np.asarray(self.mean[:, None, :] + normal @ np.swapaxes(scale, 1, 2))

    def std(self) -> Array:
        """Standard deviation of each state: ``(B, n)``."""
        return np.sqrt(np.clip(np.diagonal(self.cov, axis1=1, axis2=2), 0.0, None))


@dataclass
class SampledState:
    """``B`` sample sets ``samples`` ``(B, S, n)``, equally weighted unless ``weights``
    ``(B, S)`` (each row summing to 1) are given."""

    samples: Array
    weights: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        self.samples = np.asarray(self.samples, dtype=np.float64)
        if self.samples.ndim != 3:
            raise InvalidInputError(f"Samples must have shape (B, S, n), got {self.samples.shape}")
        if self.weights is not None:
            self.weights = np.asarray(self.weights, dtype=np.float64)
            if self.weights.shape != self.samples.shape[:2]:
                raise InvalidInputError("Weights must have shape (B, S)")

    @property
    def batch(self) -> int:
        return int(self.samples.shape[0])

    def _w(self) -> Array:
        if self.weights is None:
            count = self.samples.shape[1]
            return np.full(self.samples.shape[:2], 1.0 / count)
        return self.weights

    @property
    def mean(self) -> Array:
        return np.asarray(np.einsum("bs,bsn->bn", self._w(), self.samples))

    @property
    def cov(self) -> Array:
        centered = self.samples - self.mean[:, None, :]
        return np.asarray(np.einsum("bs,bsi,bsj->bij", self._w(), centered, centered))

    def std(self) -> Array:
        return np.sqrt(np.clip(np.diagonal(self.cov, axis1=1, axis2=2), 0.0, None))

    def sample(self, count: int, rng: np.random.Generator) -> Array:
        """``count`` draws per row (with replacement, by weight): ``(B, count, n)``."""
        if self.weights is None and count == self.samples.shape[1]:
            return self.samples.copy()
        cumulative = np.cumsum(self._w(), axis=1)
        cumulative[:, -1] = 1.0
        picks = np.stack([np.searchsorted(c, rng.random(count)) for c in cumulative])
        return np.take_along_axis(self.samples, picks[:, :, None], axis=1)


StateDistribution = GaussianState | SampledState
