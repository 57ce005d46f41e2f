"""river's Half-Space Trees behind the detector protocol (river imported when one is made)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from holotwin.analytics.detectors.base import (
    _FLOAT_MAX,
    _HST_FEATURES,
    Detector,
    Floats,
    _Param,
    _threshold,
)
from holotwin.errors import InvalidInputError

__all__ = ["HalfSpaceTreesDetector"]


class HalfSpaceTreesDetector(Detector):
    """river's Half-Space Trees (Tan, Ting & Liu 2011) on the reading and its first difference.

    Each reading gives the trees two features: the reading and its difference from the reading
    before it (0 for the first reading of the stream), each min-max scaled to [0, 1] with the
    minimum and maximum of that feature over the readings before it (values outside that range
    go outside [0, 1], as river's ``MinMaxScaler`` does). The value places a reading among the
    levels seen, the difference tells a jump from a slow move to the same level. The features
    are scored with ``HalfSpaceTrees.score_one`` and then learned (``learn_one``, after the
    ranges have taken the reading in). The trees need ``window_size`` readings before they
    score; the ``seed`` fixes the trees, so a detector is deterministic. Needs the ``analytics``
    extra (``pip install 'holotwin[analytics]'``).

    Scores are river's (1 minus the mass, normalized by the largest possible), on their own
    scale, not the surprise scale of the probability-based kinds: on Gaussian noise the median
    reading scores about 0.82 and about 1 in 1,000 reaches 0.992 (the scores come in steps of
    the trees' mass counts), so rank them rather than read them.

    Parameters: ``n_trees`` (default 10), ``height`` (default 8), ``window_size`` readings
    (default 250; also the warm-up), ``seed`` (default 42), ``threshold`` (default 0.992,
    about 1e-3 alarms per reading on Gaussian noise).

    Example:

    >>> import numpy as np
    >>> detector = HalfSpaceTreesDetector(window_size=50)
    >>> rng = np.random.default_rng(5)
    >>> x = rng.normal(0.0, 1.0, 400)
    >>> x[350] = 25.0
    >>> scores = detector.update(x)
    >>> bool(scores[350] > np.quantile(scores[50:350], 0.95))
    True
    """

    kind = "half-space-trees"
    _params = (_Param("n_trees", 10, 1, 1000, integer=True),
               _Param("height", 8, 1, 20, integer=True),
               _Param("window_size", 250, 2, 1_000_000, integer=True),
               _Param("seed", 42, 0, 2**32 - 1, integer=True), _threshold(0.992))

    def __init__(self, n_trees: int = 10, height: int = 8, window_size: int = 250,
                 seed: int = 42, threshold: float = 0.992) -> None:
        p = self._checked(n_trees=n_trees, height=height, window_size=window_size, seed=seed,
                          threshold=threshold)
        self.n_trees: int = p["n_trees"]
        self.height: int = p["height"]
        self.window_size: int = p["window_size"]
        self.seed: int = p["seed"]
        self.threshold = p["threshold"]
        self.warmup = self.window_size
        try:
            from river import anomaly
        except ImportError:
            raise InvalidInputError(
                "Detector 'half-space-trees' needs river: pip install 'holotwin[analytics]'"
            ) from None
        self._trees: Any = anomaly.HalfSpaceTrees(
            n_trees=self.n_trees, height=self.height, window_size=self.window_size,
            seed=self.seed)
        self._previous: float | None = None
        # running ranges of the value and of the first difference
        self._low = [math.inf, math.inf]
        self._high = [-math.inf, -math.inf]

    def _update(self, x: Floats) -> Floats:
        scores = np.empty(x.size)
        trees = self._trees
        low, high = self._low, self._high
        previous = self._previous
        biggest = _FLOAT_MAX
        for i, value in enumerate(x.tolist()):
            # a difference of two finite readings can overflow; it is held finite
            diff = 0.0 if previous is None else min(max(value - previous, -biggest), biggest)
            features = (value, diff)
            scaled = {}
            for j, name in enumerate(_HST_FEATURES):
                span = high[j] - low[j]
                scaled[name] = (features[j] - low[j]) / span if span > 0.0 else 0.0
            scores[i] = trees.score_one(scaled)
            for j, name in enumerate(_HST_FEATURES):
                v = features[j]
                if v < low[j]:
                    low[j] = v
                if v > high[j]:
                    high[j] = v
                span = high[j] - low[j]
                scaled[name] = (v - low[j]) / span if span > 0.0 else 0.0
            trees.learn_one(scaled)
            previous = value
        self._previous = previous
        return scores
