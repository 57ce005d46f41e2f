"""NAB scoring: how well anomaly scores find labelled anomaly windows, in NAB's units.

Written from the Numenta Anomaly Benchmark's description (Lavin & Ahmad 2015, "Evaluating
Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark") and the behaviour of
NAB's sweeper and optimizer:

- Each data file has labelled anomaly **windows** (``labels/combined_windows.json``). A reading
  whose score is at or above the threshold is a detection.
- The first ``probation_length(n)`` readings of a file (15 %, at most 750) are a **probationary
  period**: detections there are ignored, and so are the window readings inside it.
- In a window, only the earliest detection counts: at relative position
  ``p = -(right - i + 1) / width`` it earns ``tp_weight * sigma(p) / sigma(-1)`` with the scaled
  sigmoid ``sigma(p) = 2 / (1 + exp(5 p)) - 1`` (so a detection on the window's first reading
  earns the full ``tp_weight``, one on its last reading almost nothing). Later detections in the
  same window neither earn nor cost anything. A window with no detection costs ``fn_weight``.
- A detection outside every window is a false positive. It costs ``fp_weight`` before the
  first window; after a window it costs ``fp_weight * sigma((i - right) / (width - 1))`` of the
  window before it, which is little just after the window and the full weight three widths on.
- An **application profile** weights the three: ``standard`` (tp 1, fp 0.11, fn 1),
  ``reward_low_FP_rate`` (fp 0.22) and ``reward_low_FN_rate`` (fn 2).
- One threshold serves the whole corpus; :func:`optimize_threshold` picks the one that
  maximizes the corpus's raw score, as NAB does, for each detector and profile.
- The **normalized score** is ``100 * (raw - null) / (perfect - null)``: ``perfect`` is
  ``tp_weight`` per labelled window (every window caught on its first reading, no false
  positive), ``null`` the raw score of a detector that never fires (``-fn_weight`` per window
  that has readings after the probationary period). A perfect detector scores 100, the null one
  0; a detector that fires too often scores below 0.

Timestamps may be any 1-D array that compares (``datetime64``, integers, floats); window limits
are of the same kind and inclusive. As in NAB, positions count readings, not time: a window runs
from the first to the last reading whose timestamp lies within its limits, and timestamps need
not be strictly increasing (two of NAB's files repeat or step back an hour at a clock change).
Pure NumPy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from holotwin.errors import InvalidInputError

__all__ = [
    "PROFILES",
    "REWARD_LOW_FN",
    "REWARD_LOW_FP",
    "STANDARD",
    "CorpusScore",
    "FileScore",
    "Profile",
    "optimize_threshold",
    "parse_windows",
    "probation_length",
    "scaled_sigmoid",
    "score_corpus",
    "score_file",
]

Floats = NDArray[np.float64]
Window = tuple[Any, Any]
"""An anomaly window: (first, last) timestamp, both inclusive."""


@dataclass(frozen=True)
class Profile:
    """An application profile: what a caught window earns and a false positive or a missed
    window costs (NAB's ``CostMatrix``)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float


STANDARD = Profile("standard", tp_weight=1.0, fp_weight=0.11, fn_weight=1.0)
REWARD_LOW_FP = Profile("reward_low_FP_rate", tp_weight=1.0, fp_weight=0.22, fn_weight=1.0)
REWARD_LOW_FN = Profile("reward_low_FN_rate", tp_weight=1.0, fp_weight=0.11, fn_weight=2.0)
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)})
"""NAB's three application profiles by name (``config/profiles.json``)."""

PROBATION_FRACTION = 0.15


@dataclass(frozen=True)
class FileScore:
    """One file's result at one threshold.

    ``raw`` is the file's contribution to the corpus score; ``windows`` counts the windows with
    readings after the probationary period, ``detected`` those caught. ``tp``, ``fp``, ``fn``,
    ``tn`` count scored readings as NAB does (a detection in a window is a tp, ...).
    """

    raw: float
    windows: int
    detected: int
    tp: int
    fp: int
    fn: int
    tn: int


@dataclass(frozen=True)
class CorpusScore:
    """A detector's result over a corpus at one threshold, for one profile."""

    profile: Profile
    threshold: float
    raw: float
    null: float
    perfect: float
    files: Mapping[str, FileScore]

    @property
    def normalized(self) -> float:
        """``100 * (raw - null) / (perfect - null)``; NaN when the corpus has no window."""
        span = self.perfect - self.null
        return 100.0 * (self.raw - self.null) / span if span > 0 else math.nan


def scaled_sigmoid(position: ArrayLike) -> Floats:
    """NAB's ``2 / (1 + exp(5 x)) - 1``, and -1 from ``x >= 3`` on.

    >>> [round(float(v), 5) for v in scaled_sigmoid([-1.0, 0.0, 1.0, 3.0])]
    [0.98661, 0.0, -0.98661, -1.0]
    """
    x = np.asarray(position, dtype=np.float64)
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.asarray(np.where(x >= 3.0, -1.0, value), dtype=np.float64)


_TP_FULL = float(scaled_sigmoid(-1.0))


def probation_length(n: int, fraction: float = PROBATION_FRACTION) -> int:
    """Readings at the start of an ``n``-reading file that are not scored: ``fraction`` of the
    file, at most ``fraction`` of 5,000 (NAB's rule).

    >>> probation_length(4032), probation_length(22695)
    (604, 750)
    """
    return min(math.floor(fraction * n), math.ceil(fraction * 5000))


def parse_windows(raw: Mapping[str, Sequence[Sequence[str]]]) -> dict[str, list[Window]]:
    """NAB's ``combined_windows.json`` (file -> list of [start, end] strings) as datetimes.

    >>> parse_windows({"a.csv": [["2014-04-10 07:15:00.000000", "2014-04-11 16:45:00.000000"]]})
    {'a.csv': [(np.datetime64('2014-04-10T07:15:00.000000'), np.datetime64('2014-04-11T16:45:00.000000'))]}
    """
    parsed: dict[str, list[Window]] = {}
    for name, limits in raw.items():
        try:
            parsed[name] = [(np.datetime64(str(a).replace(" ", "T")),
                             np.datetime64(str(b).replace(" ", "T"))) for a, b in limits]
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"Windows of {name!r} cannot be read: {exc}") from None
    return parsed


@dataclass(frozen=True)
class _Prepared:
    """A file's scored readings (after the probationary period), ready for any threshold.

    ``window[i]`` is the index of the window reading i is in, or -1; ``inside[i]`` what a
    detection earns there per unit of ``tp_weight``; ``outside[i]`` what one costs there per
    unit of ``fp_weight`` (negative).
    """

    scores: Floats
    window: NDArray[np.int64]
    inside: Floats
    outside: Floats
    labelled: int  # windows labelled for the file
    scorable: NDArray[np.int64]  # windows that have scored readings


def _prepare(name: str, timestamps: ArrayLike, scores: ArrayLike, windows: Sequence[Window],
             probation: float) -> _Prepared:
    t = np.asarray(timestamps)
    s = np.asarray(scores, dtype=np.float64)
    if t.ndim != 1 or s.shape != t.shape:
        raise InvalidInputError(
            f"{name}: timestamps and scores must be 1-D and of one length, got shapes "
            f"{t.shape} and {s.shape}")
    if not np.isfinite(s).all():
        raise InvalidInputError(f"{name}: scores must be finite")
    n = t.size
    index = np.arange(n)
    window = np.full(n, -1, dtype=np.int64)
    inside = np.zeros(n)
    outside = np.full(n, -1.0)  # before the first window: the full fp weight
    previous_right = -1
    for k, (first, last) in enumerate(sorted(windows, key=lambda w: w[0])):
        within = np.flatnonzero((t >= first) & (t <= last))
        if within.size == 0:
            continue  # no reading in the window: it can be neither caught nor missed
        left, right = int(within[0]), int(within[-1])
        if left <= previous_right:
            raise InvalidInputError(f"{name}: anomaly windows overlap")
        width = right - left + 1
        span = slice(left, right + 1)
        window[span] = k
        inside[span] = scaled_sigmoid(-(right - index[span] + 1) / width) / _TP_FULL
        after = index > right
        # NAB divides by (width - 1); a one-reading window would divide by zero there
        outside[after] = scaled_sigmoid((index[after] - right) / max(width - 1, 1))
        previous_right = right
    keep = slice(probation_length(n, probation), n)
    in_window = window[keep]
    return _Prepared(scores=s[keep], window=in_window, inside=inside[keep],
                     outside=outside[keep], labelled=len(windows),
                     scorable=np.unique(in_window[in_window >= 0]))


def _score_prepared(p: _Prepared, threshold: float, profile: Profile) -> FileScore:
    detected = p.scores >= threshold
    in_window = p.window >= 0
    false_positives = detected & ~in_window
    raw = profile.fp_weight * float(p.outside[false_positives].sum())
    best = np.full(p.labelled, -np.inf)
    hits = detected & in_window
    np.maximum.at(best, p.window[hits], p.inside[hits])
    caught = best[p.scorable] > -np.inf
    raw += profile.tp_weight * float(best[p.scorable][caught].sum())
    raw -= profile.fn_weight * int((~caught).sum())
    return FileScore(raw=raw, windows=int(p.scorable.size), detected=int(caught.sum()),
                     tp=int(hits.sum()), fp=int(false_positives.sum()),
                     fn=int((in_window & ~detected).sum()), tn=int((~in_window & ~detected).sum()))


def score_file(timestamps: ArrayLike, scores: ArrayLike, windows: Sequence[Window],
               threshold: float, profile: Profile = STANDARD,
               probation: float = PROBATION_FRACTION) -> FileScore:
    """Score one file: detections are ``scores >= threshold``.

    >>> import numpy as np
    >>> t = np.arange(1000)
    >>> scores = np.zeros(1000)
    >>> scores[500] = 1.0  # on the first reading of the window
    >>> score_file(t, scores, [(500, 509)], threshold=0.5).raw
    1.0
    """
    return _score_prepared(_prepare("file", timestamps, scores, windows, probation),
                           threshold, profile)


Results = Mapping[str, tuple[ArrayLike, ArrayLike]]
"""A detector's output per file: (timestamps, scores)."""


def _prepare_corpus(results: Results, windows: Mapping[str, Sequence[Window]],
                    probation: float) -> dict[str, _Prepared]:
    prepared = {}
    for name, (timestamps, scores) in results.items():
        if name not in windows:
            raise InvalidInputError(f"No anomaly windows are labelled for {name!r}")
        prepared[name] = _prepare(name, timestamps, scores, windows[name], probation)
    return prepared


def _corpus(prepared: Mapping[str, _Prepared], threshold: float,
            profile: Profile) -> CorpusScore:
    files = {name: _score_prepared(p, threshold, profile) for name, p in prepared.items()}
    return CorpusScore(
        profile=profile, threshold=threshold, raw=sum(f.raw for f in files.values()),
        null=-profile.fn_weight * sum(f.windows for f in files.values()),
        perfect=profile.tp_weight * sum(p.labelled for p in prepared.values()),
        files=MappingProxyType(files))


def score_corpus(results: Results, windows: Mapping[str, Sequence[Window]], threshold: float,
                 profile: Profile = STANDARD,
                 probation: float = PROBATION_FRACTION) -> CorpusScore:
    """Score a detector's ``results`` (file -> (timestamps, scores)) at one threshold."""
    return _corpus(_prepare_corpus(results, windows, probation), threshold, profile)


def optimize_threshold(results: Results, windows: Mapping[str, Sequence[Window]],
                       profile: Profile = STANDARD,
                       probation: float = PROBATION_FRACTION) -> CorpusScore:
    """The corpus score at the single threshold that maximizes it (NAB's optimizer).

    Every distinct score is tried at once: readings sorted by score from high to low, each
    one's change to the raw score as the threshold passes it (a false positive its cost, a
    window reading what it adds to the best detection of its window so far). Of equal
    scores the highest threshold wins; ``inf`` (never fire) is a candidate too.
    """
    prepared = _prepare_corpus(results, windows, probation)
    parts = list(prepared.values())
    if not parts:
        raise InvalidInputError("No results to score")
    scores = np.concatenate([p.scores for p in parts])
    offsets = np.cumsum([0] + [p.labelled for p in parts[:-1]])
    window = np.concatenate([np.where(p.window >= 0, p.window + o, -1)
                             for p, o in zip(parts, offsets, strict=True)])
    inside = np.concatenate([p.inside for p in parts])
    outside = np.concatenate([p.outside for p in parts])
    order = np.argsort(-scores, kind="stable")
    s, g = scores[order], window[order]
    change = np.where(g < 0, profile.fp_weight * outside[order], 0.0)
    members = np.flatnonzero(g >= 0)
    members = members[np.argsort(g[members], kind="stable")]  # by window, high score first
    bounds = np.flatnonzero(np.diff(g[members])) + 1
    for group in np.split(members, bounds):
        if group.size:
            best = np.maximum.accumulate(np.concatenate(
                ([-profile.fn_weight], profile.tp_weight * inside[order][group])))
            change[group] = np.diff(best)
    base = -profile.fn_weight * sum(p.scorable.size for p in parts)
    totals = base + np.cumsum(change)
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))  # last reading of each score
    candidates = np.concatenate(([base], totals[last]))
    thresholds = np.concatenate(([math.inf], s[last]))
    best_threshold = float(thresholds[int(np.argmax(candidates))])
    return _corpus(prepared, best_threshold, profile)
