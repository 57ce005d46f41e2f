"""The results of a line simulation: per-replication KPIs, OEE, and 95 % confidence intervals.

Definitions (``T = horizon_s - warmup_s``, the observed span; shares are fractions of ``T``):

Per station ``i``, with its ideal cycle time ``ict = cycle_time / (speed * line_speed)`` (the
mean cycle time it is set to run at, so a deliberately slowed station is not a speed loss) and
``total = good + scrap`` parts completed in the span:

- planned time ``= T - idle`` (maintenance windows are planned stops);
- availability ``= (planned - down) / planned`` (``down``: failed, under repair);
- performance ``= ict * total / run time`` with run time ``= planned - down`` (= busy +
  blocked + starved): waiting for parts or for room is a performance loss, as are slow
  (random) cycles (with random cycle times it can also come out slightly above 1);
- quality ``= good / total``;
- OEE ``= availability * performance * quality = ict * good / planned``.

For the line, measured at its output and at its bottleneck ``b`` (see
:mod:`holotwin.scenarios.bottleneck`), with the line's ideal cycle time ``ict_line = max_i
ict_i`` (its design rate, set by its slowest station), ``good`` the good parts leaving the
last station and ``total = good + scrap of every station``:

- planned time ``= T - (time in which every station is in maintenance)``; one station's
  maintenance is a loss of the line, charged to its availability;
- downtime ``=`` down time of ``b`` plus its maintenance time within the planned time;
- availability ``= (planned - downtime) / planned``; performance ``= ict_line * total /
  (planned - downtime)``; quality ``= good / total``;
- OEE ``= availability * performance * quality = ict_line * good / planned``.

A ratio whose denominator is zero (no planned time, no part) is reported as 0.

Across replications every figure is given as an :class:`Estimate`: the mean and a 95 %
confidence interval ``mean +- t(0.975, n - 1) * s / sqrt(n)`` (Student t, ``s`` the sample
standard deviation); with a single replication the bounds are ``nan``.

>>> e = Estimate.of([10.0, 12.0, 11.0])
>>> e.mean, round(e.low, 3), round(e.high, 3)
(11.0, 8.516, 13.484)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from holotwin.scenarios.bottleneck import active_period_bottleneck
from holotwin.scenarios.line_engine import STATES, RunTrace

__all__ = [
    "BufferRun",
    "BufferSummary",
    "Estimate",
    "LineResult",
    "LineRun",
    "StationRun",
    "StationSummary",
    "evaluate_run",
    "summarize",
]


@dataclass(frozen=True)
class Estimate:
    """A figure across ``n`` replications: ``mean`` and 95 % confidence bounds."""

    mean: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Estimate:
        """The mean and Student-t 95 % interval of ``values`` (bounds ``nan`` if one)."""
        x = np.asarray(values, dtype=np.float64)
        mean = float(x.mean())
        if x.size < 2:
            return cls(mean, math.nan, math.nan, int(x.size))
        half = float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
        return cls(mean, mean - half, mean + half, int(x.size))

    @property
    def half_width(self) -> float:
        """Half the width of the interval (``nan`` with one replication)."""
        return (self.high - self.low) / 2.0


@dataclass(frozen=True)
class StationRun:
    """One station in one replication: state shares (of the observed span), parts completed
    good and scrapped, failures, OEE factors, and its sole and shifting bottleneck shares."""

    name: str
    busy: float
    blocked: float
    starved: float
    down: float
    idle: float
    good: int
    scrap: int
    failures: int
    availability: float
    performance: float
    quality: float
    oee: float
    bottleneck_sole: float
    bottleneck_shifting: float


@dataclass(frozen=True)
class BufferRun:
    """One buffer in one replication: its capacity and time-averaged level (parts)."""

    capacity: int
    mean_level: float


@dataclass(frozen=True)
class LineRun:
    """One replication of the line: ``throughput`` in good parts per hour, the line's counts
    and OEE factors, and the name of its bottleneck."""

    stations: tuple[StationRun, ...]
    buffers: tuple[BufferRun, ...]
    throughput: float
    good: int
    scrap: int
    availability: float
    performance: float
    quality: float
    oee: float
    bottleneck: str


@dataclass(frozen=True)
class StationSummary:
    """The :class:`StationRun` figures of one station across replications."""

    busy: Estimate
    blocked: Estimate
    starved: Estimate
    down: Estimate
    idle: Estimate
    good: Estimate
    scrap: Estimate
    failures: Estimate
    availability: Estimate
    performance: Estimate
    quality: Estimate
    oee: Estimate
    bottleneck_sole: Estimate
    bottleneck_shifting: Estimate


@dataclass(frozen=True)
class BufferSummary:
    """One buffer across replications."""

    capacity: int
    mean_level: Estimate


@dataclass(frozen=True)
class LineResult:
    """The result of :func:`~holotwin.scenarios.line.simulate_line`.

    ``stations`` maps each station name (in flow order) to its figures; ``bottleneck`` is the
    station with the largest mean sole plus shifting bottleneck share; ``runs`` keeps every
    replication."""

    horizon_s: float
    warmup_s: float
    stations: Mapping[str, StationSummary]
    buffers: tuple[BufferSummary, ...]
    throughput: Estimate
    good: Estimate
    scrap: Estimate
    availability: Estimate
    performance: Estimate
    quality: Estimate
    oee: Estimate
    bottleneck: str
    runs: tuple[LineRun, ...]


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0.0 else 0.0


def evaluate_run(names: Sequence[str], ideal_cycles: Sequence[float],
                 capacities: Sequence[int], trace: RunTrace, warmup: float, horizon: float,
                 line_stop: float) -> LineRun:
    """The KPIs of one replication (definitions in the module docstring). ``line_stop`` is
    the time (s) of the observed span in which every station is in maintenance."""
    span = horizon - warmup
    shares = active_period_bottleneck([s.periods for s in trace.stations], warmup, horizon)
    stations = []
    for i, (name, st) in enumerate(zip(names, trace.stations, strict=True)):
        t = dict(zip(STATES, st.times, strict=True))
        planned = max(span - t["idle"], 0.0)
        run = max(planned - t["down"], 0.0)
        total = st.good + st.scrap
        a, p, q = (_ratio(run, planned), _ratio(ideal_cycles[i] * total, run),
                   _ratio(st.good, total))
        stations.append(StationRun(
            name=name, busy=t["busy"] / span, blocked=t["blocked"] / span,
            starved=t["starved"] / span, down=t["down"] / span, idle=t["idle"] / span,
            good=st.good, scrap=st.scrap,
            failures=st.failures, availability=a, performance=p, quality=q, oee=a * p * q,
            bottleneck_sole=shares.sole[i], bottleneck_shifting=shares.shifting[i]))
    b = shares.bottleneck
    times_b = dict(zip(STATES, trace.stations[b].times, strict=True))
    planned = max(span - line_stop, 0.0)
    downtime = min(times_b["down"] + max(times_b["idle"] - line_stop, 0.0), planned)
    good = trace.stations[-1].good
    scrap = sum(s.scrap for s in trace.stations)
    total = good + scrap
    a, p, q = (_ratio(planned - downtime, planned),
               _ratio(max(ideal_cycles) * total, planned - downtime), _ratio(good, total))
    buffers = tuple(BufferRun(c, area / span)
                    for c, area in zip(capacities, trace.buffer_areas, strict=True))
    return LineRun(stations=tuple(stations), buffers=buffers, throughput=good * 3600.0 / span,
                   good=good, scrap=scrap, availability=a, performance=p, quality=q,
                   oee=a * p * q, bottleneck=names[b])


_STATION_FIGURES = [f.name for f in dataclasses.fields(StationSummary)]


def summarize(runs: Sequence[LineRun], horizon: float, warmup: float) -> LineResult:
    """Put replications together: means and 95 % intervals of every figure."""
    names = [s.name for s in runs[0].stations]
    stations = {
        name: StationSummary(**{f: Estimate.of([float(getattr(r.stations[i], f))
                                                for r in runs])
                                for f in _STATION_FIGURES})
        for i, name in enumerate(names)
    }
    buffers = tuple(BufferSummary(b.capacity, Estimate.of([r.buffers[k].mean_level
                                                           for r in runs]))
                    for k, b in enumerate(runs[0].buffers))
    share = {n: s.bottleneck_sole.mean + s.bottleneck_shifting.mean
             for n, s in stations.items()}

    def line(figure: str) -> Estimate:
        return Estimate.of([float(getattr(r, figure)) for r in runs])

    return LineResult(
        horizon_s=horizon, warmup_s=warmup, stations=stations, buffers=buffers,
        throughput=line("throughput"), good=line("good"), scrap=line("scrap"),
        availability=line("availability"), performance=line("performance"),
        quality=line("quality"), oee=line("oee"), bottleneck=max(names, key=share.__getitem__),
        runs=tuple(runs))
