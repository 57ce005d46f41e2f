"""Statistical detectors: robust z-score, EWMA, CUSUM, NAB's windowed Gaussian, and the
residual detector on a behavior model's innovations."""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from holotwin.analytics.detectors.base import (
    Detector,
    Floats,
    _block_rows,
    _ExponentialStats,
    _floored,
    _log_chi2_sf,
    _Param,
    _surprise_score,
    _threshold,
    _two_sided,
    _z,
)

__all__ = ["CusumDetector", "EwmaDetector", "ResidualDetector", "RobustZDetector",
           "WindowedGaussianDetector"]


class RobustZDetector(Detector):
    """Distance from the rolling median in units of the rolling MAD.

    For each reading x, over the ``window`` readings before it:
    ``z = (x - median) / (1.4826 * MAD)``, where MAD is the median absolute deviation from the
    median (1.4826 * MAD estimates the standard deviation of Gaussian data); the score is the
    surprise score of the two-sided normal tail probability ``p = P(|Z| >= |z|)`` (see the
    module's scale: 0.8 is p = 1e-4, |z| = 3.9; 0.9 is p = 1e-9, |z| = 6.1). Where more
    than half the window is one value (MAD = 0) the scale falls back to 1.2533 times the mean
    absolute deviation from the median, and never goes below 1e-9 of the median's magnitude:
    a reading that differs from an otherwise constant window scores near 1. Units: z and the
    score are dimensionless; the readings may be in any unit.

    Parameters: ``window`` readings (default 100; also the warm-up), ``threshold``
    (default 0.83, p = 1.3e-5, |z| = 4.4: the median and MAD of 100 readings are noisy
    estimates, so this gives about 1e-4 false alarms per reading on Gaussian noise).

    Example:

    >>> import numpy as np
    >>> detector = RobustZDetector(window=30)
    >>> rng = np.random.default_rng(1)
    >>> x = 10.0 + rng.normal(0.0, 0.1, 60)
    >>> x[50] = 12.0  # a spike of 20 standard deviations
    >>> scores = detector.update(x)
    >>> float(scores[:30].max())  # warm-up
    0.0
    >>> np.flatnonzero(detector.flags(scores)).tolist()
    [50]
    """

    kind = "robust-z"
    _params = (_Param("window", 100, 3, 1_000_000, integer=True), _threshold(0.83))

    def __init__(self, window: int = 100, threshold: float = 0.83) -> None:
        p = self._checked(window=window, threshold=threshold)
        self.window: int = p["window"]
        self.threshold = p["threshold"]
        self.warmup = self.window
        self._history: Floats = np.zeros(0)

    def _update(self, x: Floats) -> Floats:
        w = self.window
        scores = np.zeros(x.size)
        start = max(0, w - self._history.size)  # first reading with a full window before it
        if start < x.size:
            full = np.concatenate((self._history, x))
            windows = sliding_window_view(full[:-1], w)  # row j: the window before full[j + w]
            rows = _block_rows(w)
            for r0 in range(0, windows.shape[0], rows):
                block = windows[r0:r0 + rows]
                median = np.median(block, axis=1)
                deviation = np.abs(block - median[:, None])
                mad = np.median(deviation, axis=1)
                scale = np.where(mad > 0.0, 1.4826 * mad, 1.2533 * deviation.mean(axis=1))
                scale = _floored(scale, median)
                i0 = start + r0
                value = x[i0:i0 + block.shape[0]]
                scores[i0:i0 + block.shape[0]] = _two_sided(_z(value - median, scale))
        self._history = np.concatenate((self._history, x))[-w:].copy()
        return scores


class EwmaDetector(Detector):
    """Distance from an exponentially weighted moving average, in its own standard deviations.

    The mean and variance are exponentially weighted with weight ``alpha`` per reading (memory
    about ``1/alpha`` readings; a plain running mean and variance until then). Each reading is
    compared with the estimates *before* it: ``z = (x - mean) / (std * sqrt(1 + alpha/(2 -
    alpha)))`` (the factor accounts for the mean's own noise); the score is the surprise score of
    the two-sided normal tail probability of z (the module's scale).

    Parameters: ``alpha`` in (0, 0.5] (default 0.01), ``warmup`` readings (default 100),
    ``threshold`` (default 0.8, p = 1e-4, |z| = 3.9; about 1e-4 false alarms per reading on
    Gaussian noise).

    Example:

    >>> import numpy as np
    >>> detector = EwmaDetector(alpha=0.05, warmup=30)
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(0.0, 1.0, 100)
    >>> x[70] += 8.0
    >>> np.flatnonzero(detector.flags(detector.update(x))).tolist()
    [70]
    """

    kind = "ewma"
    _params = (_Param("alpha", 0.01, 0.0, 0.5, low_open=True),
               _Param("warmup", 100, 2, 1e9, integer=True), _threshold(0.8))

    def __init__(self, alpha: float = 0.01, warmup: int = 100,
                 threshold: float = 0.8) -> None:
        p = self._checked(alpha=alpha, warmup=warmup, threshold=threshold)
        self.alpha: float = p["alpha"]
        self.warmup = p["warmup"]
        self.threshold = p["threshold"]
        self._stats = _ExponentialStats(self.alpha)
        self._inflation = math.sqrt(1.0 + self.alpha / (2.0 - self.alpha))

    def _update(self, x: Floats) -> Floats:
        mean, var, counts = self._stats.update(x)
        scale = _floored(np.sqrt(var) * self._inflation, mean)
        scores = _two_sided(_z(x - mean, scale))
        scores[counts < self.warmup] = 0.0
        return scores


_CUSUM_Z = 1e6  # the largest |z| CUSUM takes a reading at


class CusumDetector(Detector):
    """Two-sided CUSUM of standardized deviations from a slow exponential baseline.

    Each reading is standardized against an exponentially weighted mean and standard
    deviation (weight ``alpha``, as in :class:`EwmaDetector`, estimates before the reading):
    ``u = (x - mean) / std``. Two sums accumulate evidence of a shift up and down:
    ``S+ = max(0, S+ + u - k)``, ``S- = max(0, S- - u - k)``; ``k`` is the allowance (half the
    shift to detect, in standard deviations) and ``h`` the decision interval. The score is
    ``S / (S + h)`` with ``S = max(S+, S-)``, so it reaches 0.5 exactly when S reaches h; when
    it does, both sums restart from zero after that reading (an alarm, then a fresh start, so a
    lasting shift alarms again about every ``h / (shift - k)`` readings until the baseline has
    followed it). The restart happens at ``h`` whatever the threshold. The baseline keeps
    learning during a shift.

    This score is on its own scale, not the surprise scale of the probability-based kinds:
    0.5 is the alarm (S = h), 0.8 is S = 4h, which only one reading far out can reach (the sums
    restart at h), so a rule on CUSUM's score compares it with 0.5, or uses the flag.

    Parameters: ``alpha`` (default 0.001), ``k`` (default 0.5), ``h`` (default 8.0),
    ``warmup`` readings (default 200), ``threshold`` (default 0.5, i.e. S >= h; about 1e-4
    alarms per reading on Gaussian noise).

    Example:

    >>> import numpy as np
    >>> detector = CusumDetector(alpha=0.01, warmup=100)
    >>> rng = np.random.default_rng(3)
    >>> x = rng.normal(0.0, 1.0, 300)
    >>> x[200:] += 2.0  # the mean steps up by two standard deviations
    >>> first = int(np.flatnonzero(detector.flags(detector.update(x)))[0])
    >>> 200 <= first < 215
    True
    """

    kind = "cusum"
    _params = (_Param("alpha", 0.001, 0.0, 0.5, low_open=True),
               _Param("k", 0.5, 0.0, 10.0),
               _Param("h", 8.0, 0.0, 1000.0, low_open=True),
               _Param("warmup", 200, 2, 1e9, integer=True), _threshold(0.5))

    def __init__(self, alpha: float = 0.001, k: float = 0.5, h: float = 8.0,
                 warmup: int = 200, threshold: float = 0.5) -> None:
        p = self._checked(alpha=alpha, k=k, h=h, warmup=warmup, threshold=threshold)
        self.alpha: float = p["alpha"]
        self.k: float = p["k"]
        self.h: float = p["h"]
        self.warmup = p["warmup"]
        self.threshold = p["threshold"]
        self._stats = _ExponentialStats(self.alpha)
        # S = C - M: C is the running sum of (u - k) since the last restart, M its running
        # minimum (with 0); (C, M) for the upper and the lower sum
        self._sums = np.zeros(2)
        self._minima = np.zeros(2)

    def _update(self, x: Floats) -> Floats:
        mean, var, counts = self._stats.update(x)
        # a reading off a constant baseline has an infinite z, and the sums would then hold
        # inf - inf; a million standard deviations alarms all the same (the sums restart)
        u = np.clip(_z(x - mean, _floored(np.sqrt(var), mean)), -_CUSUM_Z, _CUSUM_Z)
        scores = np.zeros(x.size)
        live = np.flatnonzero(counts >= self.warmup)
        if live.size == 0:
            return scores
        i0 = int(live[0])  # warm-up readings come first in a batch
        steps = np.stack((u[i0:] - self.k, -u[i0:] - self.k))
        s = np.empty(steps.shape[1])
        pos = 0
        while pos < steps.shape[1]:
            end = min(pos + 512, steps.shape[1])
            # the running sum and minimum continue from the carried values (prepended), which
            # is the same arithmetic whatever the split
            c = np.cumsum(np.concatenate((self._sums[:, None], steps[:, pos:end]), axis=1),
                          axis=1)
            m = np.minimum.accumulate(
                np.concatenate((self._minima[:, None], c[:, 1:]), axis=1), axis=1)
            level = (c[:, 1:] - m[:, 1:]).max(axis=0)
            alarms = np.flatnonzero(level >= self.h)
            if alarms.size:
                stop = int(alarms[0]) + 1
                s[pos:pos + stop] = level[:stop]
                self._sums[:] = 0.0
                self._minima[:] = 0.0
                pos += stop
            else:
                s[pos:end] = level
                self._sums = c[:, -1].copy()
                self._minima = m[:, -1].copy()
                pos = end
        scores[i0:] = s / (s + self.h)
        return scores


class WindowedGaussianDetector(Detector):
    """NAB's windowed Gaussian baseline: a reading's tail probability under the window's normal.

    Re-implemented from its description in the Numenta Anomaly Benchmark: the mean and
    (population) standard deviation of the ``window`` readings before each reading (all of them
    while fewer have been seen), and the surprise score of the two-sided normal tail probability
    of ``z = (x - mean) / std`` (the module's scale). With ``step`` > 1
    the statistics are refreshed only every ``step`` readings once the window is full, as
    NAB's detector does (NAB ran it with window 6400, step 100 and scored from the second
    reading). NAB's own score, ``1 - Q(|z|)``, is a monotone function of this one where it does
    not round to 1 (|z| below 8.3), so both rank readings alike there; beyond, NAB's ties and
    this one does not.

    Parameters: ``window`` readings (default 1000), ``step`` (default 1), ``warmup`` readings
    (default 100), ``threshold`` (default 0.8, p = 1e-4; about 1e-4 false alarms per reading on
    Gaussian noise).

    Example:

    >>> import numpy as np
    >>> detector = WindowedGaussianDetector(window=50, warmup=20)
    >>> rng = np.random.default_rng(4)
    >>> x = rng.normal(5.0, 0.5, 120)
    >>> x[90] = 1.0
    >>> np.flatnonzero(detector.flags(detector.update(x))).tolist()
    [90]
    """

    kind = "windowed-gaussian"
    _params = (_Param("window", 1000, 2, 1_000_000, integer=True),
               _Param("step", 1, 1, 1_000_000, integer=True),
               _Param("warmup", 100, 1, 1e9, integer=True), _threshold(0.8))

    def __init__(self, window: int = 1000, step: int = 1, warmup: int = 100,
                 threshold: float = 0.8) -> None:
        p = self._checked(window=window, step=step, warmup=warmup, threshold=threshold)
        self.window: int = p["window"]
        self.step: int = p["step"]
        self.warmup = p["warmup"]
        self.threshold = p["threshold"]
        self._count = 0
        self._history: Floats = np.zeros(0)  # the last window + step readings

    def _update(self, x: Floats) -> Floats:
        w, step = self.window, self.step
        n = x.size
        full = np.concatenate((self._history, x))
        offset = self._count - self._history.size  # stream index of full[0]
        counts = self._count + np.arange(n)  # readings before each reading of x
        mean = np.zeros(n)
        std = np.ones(n)
        for i in np.flatnonzero((counts < w) & (counts >= self.warmup)):
            # still filling: all readings so far (a short loop, once per stream)
            prefix = full[:int(counts[i]) - offset]
            mean[i] = prefix.mean()
            std[i] = prefix.std()
        steady = np.flatnonzero(counts >= w)
        if steady.size:
            # the statistics in use at a reading were last refreshed after reading `last`
            last = w - 1 + (counts[steady] - w) // step * step
            refreshes, which = np.unique(last, return_inverse=True)
            starts = refreshes + 1 - w - offset
            windows = sliding_window_view(full, w)
            rows = _block_rows(w)
            for r0 in range(0, refreshes.size, rows):
                block = windows[starts[r0:r0 + rows]]  # a contiguous copy
                block_mean = block.mean(axis=1)
                d = block - block_mean[:, None]
                pick = (which >= r0) & (which < r0 + block.shape[0])
                mean[steady[pick]] = block_mean[which[pick] - r0]
                std[steady[pick]] = np.sqrt((d * d).mean(axis=1))[which[pick] - r0]
        scores = _two_sided(_z(x - mean, _floored(std, mean)))
        scores[counts < self.warmup] = 0.0
        self._count += n
        keep = w + step
        self._history = full[-keep:].copy() if self._count >= w else full.copy()
        return scores


class ResidualDetector(Detector):
    """The physics twin's detector: do a model's normalized innovations still look like noise?

    The input is a normalized innovation r = (measurement - model prediction) / (the state
    estimator's innovation standard deviation), which is N(0, 1) while the physics model fits.
    With ``p = chi2.sf(sum of r**2 over the last window readings, df=window)``, the probability
    that noise alone gives a sum at least this large, the score is the module's surprise score
    ``L / (L + 1)``, ``L = -log10(p)``. The current reading is part of its window, so the first
    score comes after ``window - 1`` readings. Dimensionless.

    Parameters: ``window`` readings (default 5), ``threshold`` (default 0.8, p = 1e-4: exactly
    1e-4 false alarms per reading when r is N(0, 1)).

    Example:

    >>> import numpy as np
    >>> detector = ResidualDetector()
    >>> rng = np.random.default_rng(6)
    >>> r = rng.normal(0.0, 1.0, 100)
    >>> r[60:] += 3.0  # the model stops fitting: innovations are biased by 3 sigma
    >>> first = int(np.flatnonzero(detector.flags(detector.update(r)))[0])
    >>> 60 <= first < 65
    True
    """

    kind = "residual"
    _params = (_Param("window", 5, 1, 100_000, integer=True), _threshold(0.8))

    def __init__(self, window: int = 5, threshold: float = 0.8) -> None:
        p = self._checked(window=window, threshold=threshold)
        self.window: int = p["window"]
        self.threshold = p["threshold"]
        self.warmup = self.window - 1
        self._history: Floats = np.zeros(0)  # the last window - 1 squared innovations

    def _update(self, x: Floats) -> Floats:
        w = self.window
        squares = np.concatenate((self._history, x * x))
        scores = np.zeros(x.size)
        start = max(0, w - 1 - self._history.size)
        if start < x.size:
            # a sum over each window (not a difference of cumulative sums), so the result does
            # not depend on where a batch starts
            windows = sliding_window_view(squares, w)
            rows = _block_rows(w)
            sums = np.concatenate([windows[r0:r0 + rows].sum(axis=1)
                                   for r0 in range(0, windows.shape[0], rows)])
            scores[start:] = _surprise_score(_log_chi2_sf(sums, w))
        self._history = squares[-(w - 1):].copy() if w > 1 else np.zeros(0)
        return scores
