"""Streaming anomaly detectors: one reading stream in, one anomaly score per reading out.

Every detector follows the same protocol (see :class:`Detector`): ``update(values)`` takes a
1-D batch of finite readings in time order, returns one score in ``[0, 1]`` per reading (high
means anomalous) and learns from the batch; ``flags(scores)`` applies the threshold. The score of
a reading depends only on the readings before it and itself, never on how the stream was cut
into batches: feeding a stream in pieces gives exactly (bit for bit) the scores of feeding it at
once, so a service can feed arbitrary batches and replay history after a restart.

A detector is described by a JSON spec such as ``{"kind": "ewma", "alpha": 0.05}``;
:func:`make_detector` validates one (unknown keys and out-of-range values are an
:class:`~holotwin.errors.InvalidInputError`) and :meth:`Detector.spec` gives it back with every
default filled in. :data:`DETECTORS` maps each kind to its class:

- ``robust-z`` (:class:`RobustZDetector`): a reading far from the rolling median, in MADs;
- ``ewma`` (:class:`EwmaDetector`): a reading far from an exponentially weighted average;
- ``cusum`` (:class:`CusumDetector`): a persistent shift of the mean (two-sided CUSUM);
- ``windowed-gaussian`` (:class:`WindowedGaussianDetector`): NAB's windowed Gaussian baseline;
- ``half-space-trees`` (:class:`HalfSpaceTreesDetector`): river's Half-Space Trees (extra);
- ``residual`` (:class:`ResidualDetector`): a physics model's innovations stop looking like noise.

**The score scale.** The probability-based kinds (``robust-z``, ``ewma``,
``windowed-gaussian``, ``residual``) compute a tail probability ``p`` (how often noise alone
would give a reading at least this far out) and report its *surprise* in decades,
``L = -log10(p)``, mapped to ``[0, 1)`` by one formula::

    score = L / (L + 1)        p = 10 ** -(score / (1 - score))

=====  ========  ================  =====================================
score  p         |z| (normal,       note
                 two-sided)
=====  ========  ================  =====================================
0      1         0                 a reading at the centre
0.5    1e-1      1.6
0.75   1e-3      3.3
0.8    1e-4      3.9               default threshold: ``ewma``,
                                   ``windowed-gaussian``, ``residual``
0.83   1.3e-5    4.4               default threshold: ``robust-z``
0.9    1e-9      6.1
0.95   1e-19     9.1
0.99   1e-99     21.2
0.999  1e-999    67.8
=====  ========  ================  =====================================

(The |z| column is for the normal-based kinds; for ``residual``, p is the chi-square tail of
the window's sum of squared innovations.)

``p`` is computed in log space (``scipy.special.log_ndtr`` for the normal, the chi-square
upper tail with a continued fraction beyond ``chdtrc``'s range), so the score keeps ranking
readings far past where ``1 - p`` rounds to 1 (|z| of 8.3 in float64): it still tells apart
readings 1 % apart in |z| up to |z| of about 3e7, and rounds to exactly 1 only beyond about
2e8 (where ``L / (L + 1)`` itself does). So a rule ``anomaly.x > 0.9`` means "p below 1e-9"
for every one of these kinds, and ``anomaly.x < 0.5`` "p above 0.1, ordinary noise".
:func:`score_from_probability` and :func:`probability_from_score` convert.

Two kinds have their own scales: ``cusum`` scores ``S / (S + h)`` (0.5 is the alarm, S = h;
see :class:`CusumDetector`) and ``half-space-trees`` scores river's normalized mass, to rank
rather than read. A rule that must mean the same for every kind uses the flag
(``anomaly.x.flag == 1``), which applies each detector's own threshold.

Default thresholds of the statistical kinds give about 1e-4 false alarms per reading on
independent Gaussian noise (measured in ``tests/analytics/test_detectors.py``).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.signal import lfilter

from holotwin.errors import InvalidInputError

__all__ = [
    "DETECTORS",
    "CusumDetector",
    "Detector",
    "EwmaDetector",
    "HalfSpaceTreesDetector",
    "ResidualDetector",
    "RobustZDetector",
    "WindowedGaussianDetector",
    "make_detector",
    "probability_from_score",
    "score_from_probability",
]

Floats = NDArray[np.float64]

# window elements materialized at once: bounds memory for long replays, and small enough
# (512 KiB) to stay in cache and below the allocator's threshold for fresh pages per block
_BLOCK_ELEMENTS = 1 << 16


def _block_rows(width: int) -> int:
    return max(1, _BLOCK_ELEMENTS // width)
# a scale (MAD, standard deviation) is never taken below this fraction of the signal's level,
# so that a constant signal does not divide by zero and float noise on it is not an anomaly
_RELATIVE_SCALE_FLOOR = 1e-9
_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_FLOAT_MAX = float(np.finfo(np.float64).max)
_HST_FEATURES = ("x", "dx")


# -- parameters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Param:
    """One spec parameter: its default and allowed range (``low``/``high``, open or closed)."""

    name: str
    default: float
    low: float
    high: float
    integer: bool = False
    low_open: bool = False
    high_open: bool = False

    def allowed(self) -> str:
        if self.integer:
            return f"an integer in [{self.low:g}, {self.high:g}]"
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"a number in {left}{self.low:g}, {self.high:g}{right}"

    def check(self, kind: str, value: object) -> float | int:
        bad = InvalidInputError(
            f"Detector '{kind}': '{self.name}' must be {self.allowed()}, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise bad
        number = float(value)
        if not math.isfinite(number):
            raise bad
        if self.integer and not number.is_integer():
            raise bad
        too_low = number <= self.low if self.low_open else number < self.low
        too_high = number >= self.high if self.high_open else number > self.high
        if too_low or too_high:
            raise bad
        return int(number) if self.integer else number


def _threshold(default: float) -> _Param:
    return _Param("threshold", default, 0.0, 1.0)


# -- helpers ----------------------------------------------------------------------------------


def _readings(values: ArrayLike) -> Floats:
    """``values`` as a 1-D float64 array of finite numbers, or an InvalidInputError."""
    try:
        x = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"Readings must be numbers: {exc}") from None
    if x.ndim != 1:
        raise InvalidInputError(f"Readings must be a 1-D array, got shape {x.shape}")
    finite = np.isfinite(x)
    if not finite.all():
        i = int(np.argmin(finite))
        raise InvalidInputError(
            f"Readings must be finite numbers; reading {i} of {x.size} is {x[i]!r}")
    return x


def _surprise_score(log_p: Floats) -> Floats:
    """``L / (L + 1)`` for the surprise ``L = -log10(p)``, from ``log_p = ln(p)``.

    Computed as ``1 - 1 / (1 + L)`` (in place, a few passes): the same value to within a unit
    in the last place, and exactly 1 where ``p`` underflows even in log space (L infinite).
    """
    score = np.multiply(log_p, -1.0 / _LN10)
    np.maximum(score, 0.0, out=score)
    score += 1.0
    np.reciprocal(score, out=score)
    np.subtract(1.0, score, out=score)
    return score


def _two_sided(z: Floats) -> Floats:
    """The surprise score of ``p = P(|Z| >= |z|)`` for a standard normal Z.

    ``ln p = ln 2 + log_ndtr(-|z|)`` is accurate far into the tail (|z| up to about 1e154),
    where ``p`` itself would underflow at |z| of about 38 and ``1 - p`` round to 1 at 8.3.
    """
    return _surprise_score(_LN2 + special.log_ndtr(-np.abs(z)))


def _log_chi2_sf(x: Floats, df: int) -> Floats:
    """``ln P(X >= x)`` for X chi-square with ``df`` degrees of freedom, accurate far out.

    ``log(chdtrc)`` where the tail probability is representable (it has full relative precision
    there); beyond (``ln p < -600``) :func:`_log_upper_gamma_cf`, which a double cannot hold
    as a probability but can as a logarithm.
    """
    with np.errstate(divide="ignore"):
        out = np.asarray(np.log(special.chdtrc(df, x)), dtype=np.float64)
    deep = np.flatnonzero(out < -600.0)
    if deep.size:
        out[deep] = _log_upper_gamma_cf(0.5 * df, 0.5 * x[deep])
    return out


def _log_upper_gamma_cf(a: float, y: Floats) -> Floats:
    """``ln Q(a, y)``, the regularized upper incomplete gamma function, for ``y > a + 1``.

    Legendre's continued fraction ``Q(a, y) = exp(-y) y**a / Gamma(a) / (y + 1 - a - 1 (1 - a)
    / (y + 3 - a - 2 (2 - a) / (y + 5 - a - ...)))`` evaluated by the modified Lentz method
    and kept in log space. It converges in a few terms when ``y`` is well above ``a + 1`` (as
    it is wherever ``Q`` underflows); each element stops on its own, so a value does not depend
    on the other values of the batch.
    """
    tiny = 1e-300
    b = y + 1.0 - a
    c = np.full(y.size, 1.0 / tiny)
    d = 1.0 / b
    h = d.copy()
    live = np.arange(y.size)  # the elements not converged yet, and their b, c, d
    for i in range(1, 1001):
        an = -i * (i - a)
        b = b + 2.0
        d = an * d + b
        d[np.abs(d) < tiny] = tiny
        d = 1.0 / d
        c = b + an / c
        c[np.abs(c) < tiny] = tiny
        delta = d * c
        h[live] *= delta
        going = np.abs(delta - 1.0) > 1e-15
        if not going.all():
            live, b, c, d = live[going], b[going], c[going], d[going]
            if live.size == 0:
                break
    with np.errstate(divide="ignore", over="ignore"):
        return np.asarray(-y + a * np.log(y) - special.gammaln(a) + np.log(h),
                          dtype=np.float64)


def score_from_probability(p: ArrayLike) -> Floats:
    """The detectors' score of a tail probability ``p``: ``L / (L + 1)``, ``L = -log10(p)``.

    >>> score_from_probability([1.0, 0.1, 1e-4, 1e-9, 1e-99]).round(12).tolist()
    [0.0, 0.5, 0.8, 0.9, 0.99]
    """
    with np.errstate(divide="ignore"):
        return _surprise_score(np.log(np.asarray(p, dtype=np.float64)))


def probability_from_score(score: ArrayLike) -> Floats:
    """The tail probability a score stands for: ``p = 10 ** -(score / (1 - score))``.

    >>> [f"{p:.3g}" for p in probability_from_score([0.5, 0.8, 0.83, 0.9])]
    ['0.1', '0.0001', '1.31e-05', '1e-09']
    """
    s = np.asarray(score, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.asarray(10.0 ** -(s / (1.0 - s)), dtype=np.float64)


def _floored(scale: Floats, level: Floats) -> Floats:
    """``scale`` floored at a tiny fraction of ``|level|`` (and above zero)."""
    floor = _RELATIVE_SCALE_FLOOR * np.abs(level) + np.finfo(np.float64).tiny
    return np.maximum(scale, floor)


def _z(deviation: Floats, scale: Floats) -> Floats:
    with np.errstate(over="ignore"):  # an infinite z scores 1.0
        return deviation / scale


class _ExponentialStats:
    """Exponentially weighted mean and variance of a stream, with a running-average start.

    The n-th reading updates the estimates with weight ``max(alpha, 1/n)``: the plain running
    mean and (population) variance until ``1/alpha`` readings, exponential forgetting after.
    :meth:`update` returns, for each reading, the estimates *before* it and the number of
    readings seen before it. The steady part runs as two first-order linear recursions in
    ``scipy.signal.lfilter``; its state is carried as the last mean and variance, so any split
    of a stream gives the same numbers.
    """

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha
        self.count = 0
        self.mean = 0.0
        self.var = 0.0
        # readings until the weight 1/n falls to alpha
        self._start = math.ceil(1.0 / alpha)

    def update(self, x: Floats) -> tuple[Floats, Floats, NDArray[np.int64]]:
        n = x.size
        prior_mean = np.empty(n)
        prior_var = np.empty(n)
        counts = self.count + np.arange(n, dtype=np.int64)
        i = 0
        # start-up: a short loop, once per stream
        while i < n and self.count < self._start:
            prior_mean[i] = self.mean
            prior_var[i] = self.var
            self.count += 1
            weight = max(self.alpha, 1.0 / self.count)
            d = x[i] - self.mean
            self.mean += weight * d
            self.var = (1.0 - weight) * (self.var + weight * d * d)
            i += 1
        if i < n:
            a = self.alpha
            keep = 1.0 - a
            rest = x[i:]
            means, _ = lfilter([a], [1.0, -keep], rest, zi=[keep * self.mean])
            prior_mean[i] = self.mean
            prior_mean[i + 1:] = means[:-1]
            d = rest - prior_mean[i:]
            variances, _ = lfilter([1.0], [1.0, -keep], (keep * a) * (d * d),
                                   zi=[keep * self.var])
            prior_var[i] = self.var
            prior_var[i + 1:] = variances[:-1]
            self.mean = float(means[-1])
            self.var = float(variances[-1])
            self.count += rest.size
        return prior_mean, prior_var, counts


# -- the protocol -----------------------------------------------------------------------------


class Detector(ABC):
    """A streaming anomaly detector over one signal.

    ``kind`` names the algorithm in specs; ``threshold`` is the score at and above which a
    reading is flagged (scores are in ``[0, 1]``); ``warmup`` is the number of readings the
    detector learns from before it scores (their scores are 0.0).
    """

    kind: ClassVar[str]
    _params: ClassVar[tuple[_Param, ...]]
    threshold: float
    warmup: int

    def update(self, values: ArrayLike) -> Floats:
        """Score ``values`` (1-D, finite, in time order) and learn from them.

        Returns one score in ``[0, 1]`` per reading. Non-finite or non-numeric input raises
        :class:`~holotwin.errors.InvalidInputError` and leaves the detector as it was.
        """
        x = _readings(values)
        if x.size == 0:
            return np.zeros(0)
        scores = self._update(x)
        return np.clip(scores, 0.0, 1.0)

    @abstractmethod
    def _update(self, x: Floats) -> Floats:
        """Scores of the validated, non-empty batch ``x``; learns from it."""

    def flags(self, scores: ArrayLike) -> NDArray[np.bool_]:
        """Which scores are at or above the threshold."""
        return np.asarray(scores, dtype=np.float64) >= self.threshold

    def spec(self) -> dict[str, Any]:
        """The detector's JSON spec with every parameter: ``make_detector(d.spec())`` rebuilds
        it (with fresh state)."""
        spec: dict[str, Any] = {"kind": self.kind}
        for param in self._params:
            spec[param.name] = getattr(self, param.name)
        return spec

    @classmethod
    def _checked(cls, **values: object) -> dict[str, Any]:
        by_name = {p.name: p for p in cls._params}
        return {name: by_name[name].check(cls.kind, value) for name, value in values.items()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.spec().items() if k != "kind")
        return f"{type(self).__name__}({args})"


# -- the detectors ----------------------------------------------------------------------------


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
        u = _z(x - mean, _floored(np.sqrt(var), mean))
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


# -- registry and specs -----------------------------------------------------------------------

DETECTORS: Mapping[str, type[Detector]] = MappingProxyType({
    cls.kind: cls for cls in (RobustZDetector, EwmaDetector, CusumDetector,
                              WindowedGaussianDetector, HalfSpaceTreesDetector, ResidualDetector)
})
"""Every detector class by its ``kind``."""


def make_detector(spec: Mapping[str, Any]) -> Detector:
    """A new detector from a JSON spec such as ``{"kind": "ewma", "alpha": 0.05}``.

    ``kind`` is required; every other key must be one of the kind's parameters, with a value in
    its range (missing ones take their defaults). Anything else raises
    :class:`~holotwin.errors.InvalidInputError` naming the key, the value and what is allowed.

    >>> make_detector({"kind": "residual", "window": 10}).spec()
    {'kind': 'residual', 'window': 10, 'threshold': 0.8}
    >>> make_detector({"kind": "ewma", "alpha": 2})
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: Detector 'ewma': 'alpha' must be a number in (0, 0.5], got 2
    """
    kinds = ", ".join(sorted(DETECTORS))
    if not isinstance(spec, Mapping):
        raise InvalidInputError(
            f"A detector spec must be an object, got {type(spec).__name__}")
    if "kind" not in spec:
        raise InvalidInputError(f"A detector spec needs 'kind', one of: {kinds}")
    kind = spec["kind"]
    if not isinstance(kind, str) or kind not in DETECTORS:
        raise InvalidInputError(f"Unknown detector kind {kind!r}; known kinds: {kinds}")
    cls = DETECTORS[kind]
    names = [p.name for p in cls._params]
    for key in spec:
        if key != "kind" and key not in names:
            raise InvalidInputError(
                f"Detector '{kind}' has no parameter {key!r}; its parameters are: "
                + ", ".join(names))
    params = {k: v for k, v in spec.items() if k != "kind"}
    return cls(**params)
