"""The predictor API: from an uncertain state, simulate the future and report when events
happen (time-to-event, remaining useful life) as distributions, with trajectories and bands.

A :class:`Predictor` takes a behavior, the uncertain state of ``B`` twins at time ``t0``, and a
*load*: the future inputs, as a :class:`PiecewiseLoad` or any callable ``load(t, x) -> u``
(``x`` of shape ``(R, n_x)``, the rows being simulated; ``u`` of shape ``(R, n_u)`` or
``(n_u,)``). It simulates up to ``horizon`` seconds in steps of ``dt`` and returns a
:class:`Prediction`:

- ``time_of_event[name]``: a :class:`TimeOfEvent`, the time (seconds after ``t0``) at which
  each sample first meets the event's threshold, NaN when not within the horizon; with mean,
  percentiles and the share of samples that reached it;
- ``times`` and, for each state and output, bands (percentiles) over the samples at those
  times.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from holotwin.behaviors.base import Array, Behavior
from holotwin.behaviors.uncertainty import StateDistribution
from holotwin.errors import InvalidInputError

__all__ = ["BANDS", "Load", "PiecewiseLoad", "Prediction", "Predictor", "TimeOfEvent"]

#: percentiles reported for trajectories and times of event
BANDS = (5.0, 25.0, 50.0, 75.0, 95.0)

Load = Callable[[float, Array], Array]


@dataclass(frozen=True)
class PiecewiseLoad:
    """Inputs constant between switch times: ``values[0]`` before ``times[0]``, ``values[k]``
    from ``times[k-1]`` on. Times in seconds after the prediction's start.

    >>> load = PiecewiseLoad([600, 900], [[2.0], [1.0], [4.0]])
    >>> [load(t, np.zeros((1, 4))).tolist() for t in (0, 600, 899.9, 5000)]
    [[2.0], [1.0], [1.0], [4.0]]
    """

    times: Sequence[float]
    values: Sequence[Sequence[float]]

    def __post_init__(self) -> None:
        if len(self.values) != len(self.times) + 1:
            raise InvalidInputError("A piecewise load needs one more value than switch times")
        if any(b <= a for a, b in zip(self.times, self.times[1:], strict=False)):
            raise InvalidInputError("Switch times must increase")

    def __call__(self, t: float, x: Array) -> Array:
        k = int(np.searchsorted(np.asarray(self.times, dtype=np.float64), t, side="right"))
        return np.asarray(self.values[k], dtype=np.float64)


@dataclass
class TimeOfEvent:
    """Times of one event, seconds after the prediction's start: ``samples`` ``(B, S)``,
    NaN where a sample did not reach the event within the horizon."""

    samples: Array

    @property
    def reached(self) -> Array:
        """Share of samples that reached the event: ``(B,)``."""
        return np.asarray(np.mean(np.isfinite(self.samples), axis=1))

    @property
    def mean(self) -> Array:
        """Mean over the samples that reached it (NaN if none did): ``(B,)``."""
        with np.errstate(invalid="ignore"):
            total = np.nansum(self.samples, axis=1)
            count = np.sum(np.isfinite(self.samples), axis=1)
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)

    def percentile(self, q: float | Sequence[float]) -> Array:
        """Percentiles over all samples, those not reached counting as later than any
        (so a percentile past the reached share is +inf): ``(B,)`` or ``(B, len(q))``."""
        filled = np.where(np.isfinite(self.samples), self.samples, np.inf)
        return np.asarray(np.percentile(filled, q, axis=1, method="inverted_cdf").T)


@dataclass
class Prediction:
    """What a predictor returns; see the module docs. ``state_bands`` and ``output_bands``:
    ``(len(times), B, n, len(BANDS))``; ``state_mean`` / ``output_mean``:
    ``(len(times), B, n)``."""

    behavior: str
    t0: Array
    times: Array
    time_of_event: dict[str, TimeOfEvent]
    state_mean: Array
    state_bands: Array
    output_mean: Array
    output_bands: Array
    bands: tuple[float, ...] = BANDS
    samples: int = 0
    extra: dict[str, object] = field(default_factory=dict)


class Predictor(ABC):
    """Predicts the future of an uncertain state; see the module docs."""

    @abstractmethod
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
        """Simulate ``state`` under ``load`` for up to ``horizon`` seconds in steps of
        ``dt``; keep trajectory bands every ``save_every`` seconds (default: about 200
        points over the horizon). Stops early once every sample has met every event."""
