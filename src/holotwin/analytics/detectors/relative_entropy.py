"""The relative-entropy detector (Wang et al. 2011, as in NAB) on a running range."""

from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.typing import NDArray
from scipy import special

from holotwin.analytics.detectors.base import (
    _EMPTY_BIN_FLAG,
    _EMPTY_BIN_LOG,
    _FLOAT_MAX,
    Detector,
    Floats,
    _block_rows,
    _log_chi2_sf,
    _Param,
    _surprise_score,
    _threshold,
)

__all__ = ["RelativeEntropyDetector"]


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
