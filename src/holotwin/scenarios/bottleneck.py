"""Shifting-bottleneck detection by the active-period method (Roser, Nakano and Tanaka, 2002).

A machine is *active* when it is not waiting: processing, under repair or in maintenance all
count as active; starved (waiting for a part) and blocked (waiting for room downstream) do not.
An *active period* is an uninterrupted stretch of activity. At any moment the machine whose
current active period is the longest (from its start to its end, not only up to now) is the
*momentary bottleneck*: it is the one the others are waiting for. Where the active period of
one momentary bottleneck overlaps with that of the next, the bottleneck is *shifting* between
them: the overlap counts as shifting-bottleneck time for both. The rest of a machine's time as
momentary bottleneck is *sole* bottleneck time. The bottleneck of the line is the machine with
the largest share of sole plus shifting time.

Reference: C. Roser, M. Nakano, M. Tanaka, "Shifting bottleneck detection", Proceedings of the
2002 Winter Simulation Conference, pp. 1079-1086.

>>> shares = active_period_bottleneck([[(0.0, 4.0), (6.0, 10.0)], [(0.0, 10.0)]], 0.0, 10.0)
>>> shares.sole, shares.shifting, shares.bottleneck
((0.0, 1.0), (0.0, 0.0), 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from holotwin.errors import InvalidInputError

__all__ = ["BottleneckShares", "active_period_bottleneck"]


@dataclass(frozen=True)
class BottleneckShares:
    """Per machine (in input order), the share of the observed span during which it is the
    sole bottleneck and the share during which it is a shifting bottleneck."""

    sole: tuple[float, ...]
    shifting: tuple[float, ...]

    @property
    def total(self) -> tuple[float, ...]:
        """Sole plus shifting share per machine."""
        return tuple(a + b for a, b in zip(self.sole, self.shifting, strict=True))

    @property
    def bottleneck(self) -> int:
        """Index of the machine with the largest sole plus shifting share (first on a tie)."""
        return int(np.argmax(self.total))


def _clip(periods: Sequence[tuple[float, float]], start: float, end: float
          ) -> tuple[np.ndarray, np.ndarray]:
    s = np.array([max(a, start) for a, b in periods if min(b, end) > max(a, start)])
    e = np.array([min(b, end) for a, b in periods if min(b, end) > max(a, start)])
    if s.size and (np.any(np.diff(s) < 0) or np.any(s[1:] < e[:-1])):
        raise InvalidInputError("Active periods of a machine must be sorted and not overlap")
    return s, e


def _union(intervals: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _common_length(x: Sequence[tuple[float, float]], y: Sequence[tuple[float, float]]) -> float:
    """Length of the intersection of two sorted lists of disjoint intervals."""
    i = j = 0
    total = 0.0
    while i < len(x) and j < len(y):
        total += max(0.0, min(x[i][1], y[j][1]) - max(x[i][0], y[j][0]))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return total


def active_period_bottleneck(periods: Sequence[Sequence[tuple[float, float]]],
                             start: float, end: float) -> BottleneckShares:
    """Sole and shifting bottleneck shares of each machine over ``[start, end)`` (s), from
    each machine's active periods ``(start, end)`` (sorted, not overlapping). Periods are
    clipped to the span, so one cut by its edge counts with its visible length."""
    if not end > start:
        raise InvalidInputError(f"end ({end!r}) must be after start ({start!r})")
    n = len(periods)
    clipped = [_clip(p, start, end) for p in periods]
    sole = np.zeros(n)
    shifting = np.zeros(n)
    bounds = np.unique(np.concatenate([np.array([start, end])]
                                      + [np.concatenate([s, e]) for s, e in clipped]))
    if n == 0 or bounds.size < 2:
        return BottleneckShares((), ())
    mids = 0.5 * (bounds[:-1] + bounds[1:])
    length = np.full((n, mids.size), -1.0)
    index = np.full((n, mids.size), -1)
    for i, (s, e) in enumerate(clipped):
        if s.size == 0:
            continue
        k = np.searchsorted(s, mids, side="right") - 1
        inside = (k >= 0) & (mids < e[np.maximum(k, 0)])
        length[i] = np.where(inside, (e - s)[np.maximum(k, 0)], -1.0)
        index[i] = np.where(inside, k, -1)
    who = np.argmax(length, axis=0)
    cols = np.arange(mids.size)
    period = index[who, cols]
    who = np.where(length[who, cols] >= 0.0, who, -1)

    # Runs of consecutive elementary intervals with the same momentary bottleneck period.
    change = np.ones(mids.size, dtype=bool)
    change[1:] = (who[1:] != who[:-1]) | (period[1:] != period[:-1])
    firsts = np.flatnonzero(change)
    lasts = np.append(firsts[1:], mids.size) - 1
    runs: list[tuple[int, tuple[float, float], tuple[float, float]]] = []  # who, period, span
    for a, b in zip(firsts.tolist(), lasts.tolist(), strict=True):
        w, p = int(who[a]), int(period[a])
        if w >= 0:
            s, e = clipped[w]
            runs.append((w, (float(s[p]), float(e[p])), (float(bounds[a]), float(bounds[b + 1]))))
    spans: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    shifts: list[list[tuple[float, float]]] = [[] for _ in range(n)]
    for j, (w, active, span) in enumerate(runs):
        spans[w].append(span)
        if j + 1 < len(runs) and runs[j + 1][0] != w:
            nxt = runs[j + 1]
            both = (max(active[0], nxt[1][0]), min(active[1], nxt[1][1]))
            if both[1] > both[0]:
                shifts[w].append(both)
                shifts[nxt[0]].append(both)
    for i in range(n):
        union = _union(shifts[i])
        shifting[i] = sum(b - a for a, b in union)
        sole[i] = sum(b - a for a, b in spans[i]) - _common_length(spans[i], union)
    total = end - start
    return BottleneckShares(tuple(float(x) for x in sole / total),
                            tuple(float(x) for x in shifting / total))
