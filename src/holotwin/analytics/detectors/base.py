"""The detector protocol (:class:`Detector`), parameters and the shared arithmetic of scores."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special
from scipy.signal import lfilter

from holotwin.errors import InvalidInputError

__all__ = ["Detector", "probability_from_score", "score_from_probability"]

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
