"""Behaviors with known solutions for the predictor tests, and the battery benchmark load."""

from __future__ import annotations

from typing import ClassVar, cast

import numpy as np
import pytest

from holotwin.behaviors import Array, ContinuousBehavior, Parameter
from holotwin.predict import PiecewiseLoad, Prediction


class Tank(ContinuousBehavior):
    """A tank drained at ``gain`` times the outflow input: ``volume' = -gain * outflow``.
    It empties (event ``empty``) when the volume reaches 0, at ``volume0 / (gain * outflow)``
    under a constant outflow; Euler steps are exact for it."""

    states = ("volume",)
    inputs = ("outflow",)
    outputs = ("volume", "level")
    events = ("empty",)
    parameters: ClassVar[dict[str, Parameter]] = {"gain": Parameter(1.0, "1", "outflow gain")}
    initial = (100.0,)

    def dx(self, x: Array, u: Array) -> Array:
        return -self.p["gain"][:, None] * u

    def output(self, x: Array) -> Array:
        return np.concatenate([x, x / 10.0], axis=1)

    def event_state(self, x: Array) -> Array:
        return x / 100.0


class TwoTanks(ContinuousBehavior):
    """Two volumes drained together through one outlet: empty when their sum reaches 0, at
    ``(a0 + b0) / outflow`` (linear in the initial state)."""

    states = ("a", "b")
    inputs = ("outflow",)
    outputs = ("total",)
    events = ("empty", "half")

    def dx(self, x: Array, u: Array) -> Array:
        return np.concatenate([-u / 2.0, -u / 2.0], axis=1)

    def output(self, x: Array) -> Array:
        return np.asarray(x.sum(axis=1, keepdims=True), dtype=np.float64)

    def threshold_met(self, x: Array) -> np.ndarray:
        total = x.sum(axis=1)
        return np.asarray(np.stack([total <= 0.0, total <= 50.0], axis=1))


def figures(result: Prediction, key: str) -> dict[str, Array]:
    """A per-event entry of ``result.extra`` (the unscented predictor's figures)."""
    return cast(dict[str, Array], result.extra[key])


BATTERY_LOAD = PiecewiseLoad([600, 900, 1800, 3000], [[2.0], [1.0], [4.0], [2.0], [3.0]])


@pytest.fixture
def tank() -> Tank:
    return Tank()
