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
- ``residual`` (:class:`ResidualDetector`): a physics model's innovations stop looking like noise;
- ``relative-entropy`` (:class:`RelativeEntropyDetector`): the histogram of the last window is
  unlike every histogram learnt as normal (Wang et al. 2011, NAB's "Relative Entropy").

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
0.667  1e-2      2.6               default threshold: ``relative-entropy``
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
the window's sum of squared innovations; for ``relative-entropy``, the chi-square tail of the
window's G statistic against the nearest normal histogram; its default threshold, 0.667 or
p = 0.01, is the method's own decision at its default confidence of 0.99.)

``p`` is computed in log space (``scipy.special.log_ndtr`` for the normal, the chi-square
upper tail with a continued fraction beyond ``chdtrc``'s range), so the score keeps ranking
readings far past where ``1 - p`` rounds to 1 (|z| of 8.3 in float64): it still tells apart
readings 1 % apart in |z| up to |z| of about 3e7, and rounds to exactly 1 only beyond about
2e8 (where ``L / (L + 1)`` itself does). So a rule ``anomaly.x > 0.9`` means "p below 1e-9"
for every one of these kinds, and ``anomaly.x < 0.5`` "p above 0.1, ordinary noise".
:func:`score_from_probability` and :func:`probability_from_score` convert.

``relative-entropy`` also scores on this scale, but its p comes from binned windows and
reaches 0 (score 1.0) for a window with a reading in a bin that no normal histogram fills, as a
new extreme of the stream always is, so its scores tie at 1.0 there.

Two kinds have their own scales: ``cusum`` scores ``S / (S + h)`` (0.5 is the alarm, S = h;
see :class:`CusumDetector`) and ``half-space-trees`` scores river's normalized mass, to rank
rather than read. A rule that must mean the same for every kind uses the flag
(``anomaly.x.flag == 1``), which applies each detector's own threshold.

Default thresholds of the statistical kinds give about 1e-4 false alarms per reading on
independent Gaussian noise (measured in ``tests/analytics/test_detectors.py``); for
``relative-entropy`` that holds once it has learnt (from about the 1,000th reading), and it
alarms more often before (see :class:`RelativeEntropyDetector`).
"""

from __future__ import annotations

import itertools
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
    "RelativeEntropyDetector",
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
# relative entropy: the logarithm that stands for an empty bin of a stored histogram, so that
# a window filling that bin gets a G of at least 1e250 (0 where it leaves the bin empty), and
# the G from which on it is infinite (a real G is at most 2 window ln(window))
_EMPTY_BIN_LOG = -1e250
_EMPTY_BIN_FLAG = 1e200


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


class RelativeEntropyDetector(Detector):
    """Relative entropy with multiple hypotheses (Wang et al. 2011): is this window's histogram
    unlike every histogram seen to be normal?

    The method of Wang, Viswanathan, Lakshminarayan, Talwar, Satterfield and Schwan,
    "Statistical techniques for online anomaly detection in data centers" (IFIP/IEEE IM 2011;
    the algorithm of its Figure 1), re-implemented from its description in the Numenta Anomaly
    Benchmark's detector, whose parameters are the defaults (window 52, 5 bins, confidence
    0.99, ``c_th`` 1). At each reading, the ``window`` readings ending with it are counted into ``bins`` equal bins over
    the value range; the window is compared with each stored *hypothesis* (the histogram of an
    earlier window) by the G statistic ``G = 2 W KL(current || stored) = 2 sum n_k ln(n_k /
    m_k)`` (``n_k`` and ``m_k`` the two windows' counts; infinite where the stored histogram has
    an empty bin the current one fills), which is about chi-square with ``bins - 1`` degrees of
    freedom when the window is drawn from the stored distribution (roughly: the stored
    histogram is itself a sample of one window). The hypotheses learn as in
    the paper: a stored histogram *accepts* the window when ``G`` is below the chi-square
    quantile at ``confidence``; the accepting one with the smallest ``G`` counts one more match;
    when none accepts, the window is stored as a new hypothesis (with one match). The first
    window of the stream is the first hypothesis.

    The score is on the module's surprise scale: ``p`` is the chi-square tail probability (df
    ``bins - 1``) of the smallest ``G`` against the *normal* hypotheses, those with at least
    ``min_matches`` matches (the paper's ``c_th``) before this window, and the score is
    ``L / (L + 1)``, ``L = -log10(p)``; 1.0 when no normal hypothesis has every bin the window
    fills. So a score at or above that of ``p = 1 - confidence`` (0.667 at 0.99) is what the
    paper and NAB declare anomalous, with one difference when ``min_matches`` > 1: the paper
    flags a window whose best (smallest-G) accepting hypothesis is not yet normal, this score
    is low whenever *some* normal hypothesis accepts it. NAB reports 0 or 1; this score ranks.

    **The value range.** NAB gives its detector each file's minimum and maximum in advance; a
    live stream has no such knowledge. Here the bins span the running range, the smallest and
    largest reading seen so far (all of them, from the stream's first). Each hypothesis keeps
    the readings of its window, so when a reading extends the range, every stored histogram
    is counted again over the new bins: it is then exactly what it would have been had that
    range been known when it was stored (its matches stay as they were counted). After the
    stream's last new extreme, the bins are those NAB would use had the stream ended there.
    While every reading so far is equal, all readings fall in one bin. A reading beyond the
    range widens it at once, so it lands in a bin no stored hypothesis fills and scores 1.0
    (NAB's range, known in advance, already includes it). The bins are equal,
    ``floor((x - min) / (max - min) * bins)`` with the maximum in the last; NAB's code bins by
    ``ceil((x - min) / step)``, so its first bin holds only the exact minimum and its last the
    top two fifths of the range. With NAB's binning and each file's range given in advance
    (``bench/nab.py``), its flags at the default threshold give, on each of the 18 NAB files
    tried, the raw score and the true and false positives of NAB's published results.

    Memory: at most ``max_hypotheses`` hypotheses (``window`` readings each); when one more
    must be stored, the one with the fewest matches goes (the oldest among equals). NAB keeps
    them all. Cost per reading: one G statistic per hypothesis (``bins`` terms each), and a
    recount of all of them (``window`` readings each) at each new extreme of the stream.

    Parameters: ``window`` readings (default 52; also the warm-up: the first score comes
    with the second window), ``bins`` (default 5), ``confidence`` in (0, 1) (default 0.99),
    ``min_matches`` (default 1), ``max_hypotheses`` (default 1000), ``threshold`` (default
    2/3, p = 0.01: at the default confidence, the flag is the paper's decision). False alarms
    per reading on Gaussian noise at the defaults (20 seeds of 100,000 readings): 3e-3 over
    the first 1,000 readings, while the first hypotheses are learnt, 5e-4 from 1,000 to
    10,000, 7e-5 after (2e-5 to 1.3e-4 by seed); a threshold of 0.75 or more flags little but
    the windows with a reading in a bin no normal histogram fills (score 1.0), 4e-4, 3e-5
    and 8e-6.

    Example:

    >>> import numpy as np
    >>> detector = RelativeEntropyDetector()
    >>> rng = np.random.default_rng(4)
    >>> x = rng.normal(0.0, 1.0, 3000)
    >>> x[2000:] += 2.5  # the level steps up by 2.5 standard deviations
    >>> np.flatnonzero(detector.flags(detector.update(x))).tolist()
    [145, 410, 2002, 2015, 2032, 2049, 2294, 2655]

    Two false alarms while the first hypotheses are learnt, the step (flagged again as the
    window fills with the new level and its histograms change), and two while the new level's
    histograms are learnt.
    """

    kind = "relative-entropy"
    _params = (_Param("window", 52, 2, 100_000, integer=True),
               _Param("bins", 5, 2, 1000, integer=True),
               _Param("confidence", 0.99, 0.0, 1.0, low_open=True, high_open=True),
               _Param("min_matches", 1, 1, 1e9, integer=True),
               _Param("max_hypotheses", 1000, 1, 1_000_000, integer=True),
               _threshold(2 / 3))

    def __init__(self, window: int = 52, bins: int = 5, confidence: float = 0.99,
                 min_matches: int = 1, max_hypotheses: int = 1000,
                 threshold: float = 2 / 3) -> None:
        p = self._checked(window=window, bins=bins, confidence=confidence,
                          min_matches=min_matches, max_hypotheses=max_hypotheses,
                          threshold=threshold)
        self.window: int = p["window"]
        self.bins: int = p["bins"]
        self.confidence: float = p["confidence"]
        self.min_matches: int = p["min_matches"]
        self.max_hypotheses: int = p["max_hypotheses"]
        self.threshold = p["threshold"]
        self.warmup = self.window
        # a stored histogram accepts a window whose G is below this
        self._limit = float(special.chdtri(self.bins - 1, 1.0 - self.confidence))
        with np.errstate(divide="ignore"):
            self._ln = np.log(np.arange(self.window + 1, dtype=np.float64))
        self._ln[0] = 0.0  # n ln n is 0 for an empty bin
        self._count = 0
        self._low = math.inf  # the running range
        self._high = -math.inf
        self._recent: Floats = np.zeros(0)  # the last window - 1 readings
        # the hypotheses, in the order they were stored: their windows' readings, their
        # counts over the bins of `_binned` (the range they were last counted over) and the
        # logarithms of those counts, by bin (_EMPTY_BIN_LOG for an empty bin); their matches
        self._size = 0
        self._raw = np.zeros((0, self.window))
        self._counts = np.zeros((0, self.bins), dtype=np.int64)
        self._log_counts = np.zeros((self.bins, 0))
        self._matches = np.zeros(0, dtype=np.int64)
        self._binned: tuple[float, float] | None = None

    def _preset_range(self, low: float, high: float) -> None:
        """Start the running range at [low, high] (for a benchmark that, as NAB does, gives the
        detector the whole series' range in advance; a live stream cannot). Not in the spec."""
        self._low = min(self._low, float(low))
        self._high = max(self._high, float(high))

    # -- binning --

    def _codes(self, values: Floats, low: float, high: float) -> NDArray[np.int64]:
        """Each value's bin over [low, high] (the values lie in it); all in bin 0 if low == high.

        Halves first where a difference of readings could overflow; the same arithmetic for a
        value wherever it comes from, so a window and a stored hypothesis agree.
        """
        if not high > low:
            return np.zeros(values.size, dtype=np.int64)
        if max(-low, high) < _FLOAT_MAX / 4:
            scaled = (values - low) / (high - low) * self.bins
        else:
            scaled = (values * 0.5 - low * 0.5) / (high * 0.5 - low * 0.5) * self.bins
        return np.minimum(np.floor(scaled), self.bins - 1).astype(np.int64)

    def _histograms(self, codes: NDArray[np.int64]) -> NDArray[np.int64]:
        rows = codes.shape[0]
        flat = (codes + self.bins * np.arange(rows)[:, None]).ravel()
        return np.bincount(flat, minlength=rows * self.bins).reshape(rows, self.bins)

    def _set_logs(self, first: int) -> None:
        counts = self._counts[first:self._size]
        self._log_counts[:, first:self._size] = np.where(
            counts > 0, self._ln[counts], _EMPTY_BIN_LOG).T

    def _rebin(self, low: float, high: float) -> None:
        """Count every stored hypothesis again over the bins of [low, high]."""
        if self._size:
            codes = self._codes(self._raw[:self._size].ravel(), low, high)
            self._counts[:self._size] = self._histograms(codes.reshape(self._size, -1))
            self._set_logs(0)
        self._binned = (low, high)

    def _store(self, readings: Floats, counts: NDArray[np.int64]) -> None:
        """Store a window as a new hypothesis with one match (the first to go if full)."""
        size = self._size
        if size == self.max_hypotheses:
            gone = int(np.argmin(self._matches[:size]))  # the fewest matches, oldest first
            for array in (self._raw, self._counts, self._matches):
                array[gone:size - 1] = array[gone + 1:size]
            self._log_counts[:, gone:size - 1] = self._log_counts[:, gone + 1:size]
            size -= 1
        elif size == self._raw.shape[0]:
            grown = min(self.max_hypotheses, max(16, 2 * size))
            self._raw = np.resize(self._raw, (grown, self.window))
            self._counts = np.resize(self._counts, (grown, self.bins))
            self._matches = np.resize(self._matches, grown)
            logs = np.zeros((self.bins, grown))
            logs[:, :size] = self._log_counts[:, :size]
            self._log_counts = logs
        self._raw[size] = readings
        self._counts[size] = counts
        self._matches[size] = 1
        self._size = size + 1
        self._set_logs(size)

    # -- scoring --

    def _window_counts(self, codes: NDArray[np.int64], pos: int, rows: int,
                       previous: NDArray[np.int64] | None) -> NDArray[np.int64]:
        """Histograms of the windows ending at ``codes[pos + window - 1 : ...]`` (``rows`` of
        them), given that of the window before (None: count it); integers, so exact."""
        w = self.window
        steps = np.zeros((rows, self.bins), dtype=np.int64)
        j = np.arange(rows)
        if previous is None:
            steps[0] = np.bincount(codes[pos:pos + w], minlength=self.bins)
            j = j[1:]
        else:
            steps[0] = previous
        steps[j, codes[pos + j + w - 1]] += 1
        steps[j, codes[pos + j - 1]] -= 1
        return np.cumsum(steps, axis=0)

    def _g_statistics(self, counts: NDArray[np.int64]) -> Floats:
        """G of each window (row) against each stored hypothesis (column); inf where a stored
        histogram has an empty bin the window fills. The bins are added in order, one at a
        time, so a window's G does not depend on the other rows."""
        size = self._size
        g = np.zeros((counts.shape[0], size))
        log_n = self._ln[counts]
        n = counts.astype(np.float64)
        for k in range(self.bins):
            g += n[:, k:k + 1] * (log_n[:, k:k + 1] - self._log_counts[k, :size])
        g[g >= _EMPTY_BIN_FLAG] = math.inf
        np.maximum(g, 0.0, out=g)  # a rounding below zero
        return 2.0 * g

    def _scores_of(self, g: Floats) -> Floats:
        scores = np.ones(g.size)
        finite = np.flatnonzero(np.isfinite(g))
        if finite.size:
            scores[finite] = _surprise_score(_log_chi2_sf(g[finite], self.bins - 1))
        return scores

    def _update(self, x: Floats) -> Floats:
        w = self.window
        n = x.size
        scores = np.zeros(n)
        full = np.concatenate((self._recent, x))
        offset = self._recent.size  # x[i] is full[offset + i]
        low = np.minimum.accumulate(np.concatenate(([self._low], x)))[1:]
        high = np.maximum.accumulate(np.concatenate(([self._high], x)))[1:]
        first = max(0, w - 1 - self._count)  # the first reading that ends a window
        if first < n:
            # stretches of readings over which the running range stays the same
            moved = (low[first + 1:] != low[first:-1]) | (high[first + 1:] != high[first:-1])
            edges = [first, *(np.flatnonzero(moved) + first + 1).tolist(), n]
            for a, b in itertools.pairwise(edges):
                lo, hi = float(low[a]), float(high[a])
                if self._binned != (lo, hi):
                    self._rebin(lo, hi)
                start = offset + a - w + 1  # full index of the first window's first reading
                self._stretch(full[start:offset + b], scores[a:b], lo, hi)
        self._low, self._high = float(low[-1]), float(high[-1])
        self._count += n
        self._recent = full[-(w - 1):].copy() if w > 1 else np.zeros(0)
        return scores

    def _stretch(self, readings: Floats, scores: Floats, low: float, high: float) -> None:
        """Score (into ``scores``) the windows ending at ``readings[window - 1:]``, all binned
        over [low, high], and learn from them."""
        w = self.window
        codes = self._codes(readings, low, high)
        total = readings.size - w + 1
        pos = 0
        rows = 16
        previous: NDArray[np.int64] | None = None
        while pos < total:
            if self._size == 0:  # the stream's first window: the first hypothesis
                previous = np.bincount(codes[:w], minlength=self.bins)
                self._store(readings[:w], previous)
                pos = 1
                continue
            r = min(total - pos, rows, _block_rows(max(self._size, self.bins)))
            counts = self._window_counts(codes, pos, r, previous)
            g = self._g_statistics(counts)
            accepted = g < self._limit
            found: NDArray[np.bool_] = np.asarray(accepted.any(axis=1))
            best = np.argmin(np.where(accepted, g, math.inf), axis=1)
            matches = self._matches[:self._size]
            normal = matches >= self.min_matches
            nearest = (g if normal.all() else np.where(normal, g, math.inf)).min(axis=1)
            # the rows up to the first that changes the hypotheses: a new one is stored, or
            # one turns normal; the rows after it are computed again
            missed = np.flatnonzero(~found)
            stop = int(missed[0]) + 1 if missed.size else r
            hit = np.flatnonzero(found[:stop])
            if self.min_matches > 1 and hit.size:
                who = best[hit]
                for j in np.unique(who[matches[who] < self.min_matches]).tolist():
                    need = self.min_matches - int(matches[j])
                    rows_j = hit[who == j]
                    if rows_j.size >= need:
                        stop = min(stop, int(rows_j[need - 1]) + 1)
                hit = hit[hit < stop]
            scores[pos:pos + stop] = self._scores_of(nearest[:stop])
            matches += np.bincount(best[hit], minlength=self._size)
            previous = counts[stop - 1]
            if not found[stop - 1]:
                self._store(readings[pos + stop - 1:pos + stop - 1 + w], previous)
            changed = stop < r or not found[stop - 1]
            rows = 16 if changed else min(2 * rows, 1 << 14)
            pos += stop


# -- registry and specs -----------------------------------------------------------------------

DETECTORS: Mapping[str, type[Detector]] = MappingProxyType({
    cls.kind: cls for cls in (RobustZDetector, EwmaDetector, CusumDetector,
                              WindowedGaussianDetector, HalfSpaceTreesDetector, ResidualDetector,
                              RelativeEntropyDetector)
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
