"""Behaviors and helpers the estimator tests share: a linear model with known matrices."""

from __future__ import annotations

from typing import Any

import numpy as np

from holotwin.behaviors import BatteryCircuit, Behavior, GaussianState
from holotwin.behaviors.base import Array
from holotwin.estimate import KalmanFilter, ParticleFilter, UnscentedKalmanFilter
from holotwin.estimate.base import Estimator

ESTIMATORS: list[type[Estimator]] = [KalmanFilter, UnscentedKalmanFilter, ParticleFilter]


class ConstantVelocity(Behavior):
    """A body on a line: position (m) and velocity (m/s) under an acceleration (m/s²), both
    measured. Exact discretization, so ``next_state`` is linear: ``A(dt) x + B(dt) u``."""

    states = ("position", "velocity")
    inputs = ("acceleration",)
    outputs = ("position", "speed")
    initial = (0.0, 1.0)
    default_process_noise = (0.01, 0.1)
    default_measurement_noise = (0.25, 0.04)

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        step = np.asarray(dt, dtype=np.float64).reshape(-1)
        a = u[:, 0]
        return np.stack([x[:, 0] + x[:, 1] * step + 0.5 * a * step**2, x[:, 1] + a * step],
                        axis=1)

    def output(self, x: Array) -> Array:
        return x.copy()

    @staticmethod
    def matrices(dt: float) -> tuple[Array, Array, Array]:
        """``A``, ``B`` and ``H`` of the model for a step of ``dt``."""
        return (np.array([[1.0, dt], [0.0, 1.0]]), np.array([[0.5 * dt**2], [dt]]),
                np.eye(2))


def make(cls: type[Estimator], behavior: Behavior, x0: GaussianState, t0: Any = 0.0,
         **options: Any) -> Estimator:
    """An estimator of ``cls``; particle filters get a seed and few particles (speed)."""
    if cls is ParticleFilter:
        options = {"particles": 300, "rng": 12345, **options}
    return cls(behavior, x0, t0, **options)


def prior(behavior: Behavior, batch: int) -> GaussianState:
    """A prior around the behavior's initial state, a little off, for ``batch`` rows."""
    if isinstance(behavior, BatteryCircuit):
        mean = behavior.initial_state(batch) * [1.0, 0.97, 1.0, 1.0]
        cov = np.diag([1.0, 300.0**2, 1.0, 1.0])
    else:
        mean = behavior.initial_state(batch) + np.array([0.5, -0.2])
        cov = np.diag([1.0, 0.5])
    return GaussianState(mean, np.tile(cov, (batch, 1, 1)))


def inputs(behavior: Behavior, batch: int) -> Array:
    """A typical input for each row (different per row)."""
    base = 2.0 if isinstance(behavior, BatteryCircuit) else 0.3
    return np.asarray(base * (1.0 + 0.1 * np.arange(batch))[:, None], dtype=np.float64)
