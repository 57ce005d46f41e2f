"""A discrete-event twin of a serial production line (SimPy): the model and :func:`simulate_line`.

A line is a chain of :class:`Station` s with a :class:`Buffer` between each consecutive pair
(:class:`LineModel`). An infinite supply feeds the first station and an infinite sink takes the
output of the last one. All times are simulated seconds from the start of the run (``t = 0``,
the line empty), rates are per simulated second unless a name says otherwise.

Modelling conventions
---------------------

- **Cycle time**: ``cycle_time`` is the mean processing time of one part at speed 1; a station
  works at ``cycle_time / (speed * line_speed)``. With ``cycle_cv = 0`` it is deterministic,
  otherwise gamma distributed with that mean and coefficient of variation (shape ``1/cv**2``;
  ``cv = 1`` is the exponential distribution, so Markov-chain results apply exactly).
- **Blocking after service**: a station holds a finished good part until the buffer downstream
  has room (``blocked``); a buffer of capacity ``N`` holds ``N`` parts besides the part in the
  station after it. ``Buffer(0)`` couples two stations directly.
- **Failures**: times between failures are exponential with mean ``mtbf``. With
  ``failures="operation"`` (the default, the usual *operation-dependent failures*) the failure
  clock runs only while the station is processing, so a blocked or starved station does not
  fail and ``mtbf`` is in operating time. With ``failures="time"`` the clock runs whenever the
  station is neither down nor in maintenance. A failure interrupts the part in process, which
  resumes where it stopped after the repair. Repairs take ``mttr`` (exponential, or exactly
  ``mttr`` with ``repair="deterministic"``). A failed station can still pass on a finished part
  and take in a new one; it only cannot process. Speed factors do not change ``mtbf``: a
  faster station fails as often per hour of operation, so less often per part.
- **Quality**: each processed part is good with probability ``yield_``; a bad part is scrapped
  at that station (counted there, not passed on).
- **Maintenance** (:class:`Maintenance`): during ``[start, start + duration)`` the station does
  not process and does not fail (parts may still be moved in and out of it); the time counts
  as ``idle``. A repair running when a window opens goes on during the window.
- **Warm-up**: statistics cover the span from ``warmup_s`` to ``horizon_s`` only; a part
  counts when it completes in ``(warmup_s, horizon_s]``, a failure when it starts in it.

States and KPIs (:mod:`holotwin.scenarios.line_kpi` gives the definitions of OEE and
confidence intervals; :mod:`holotwin.scenarios.bottleneck` the bottleneck method): each moment
of a station is exactly one of ``idle`` (maintenance), ``down`` (failed, under repair),
``busy`` (processing), ``blocked``, ``starved``, in that order of precedence.

Example: one deterministic station making a part each 30 s makes 120 parts an hour:

>>> line = LineModel([Station("press", cycle_time=30.0)], [])
>>> result = simulate_line(line, 3600.0, seed=1)
>>> result.throughput.mean, result.stations["press"].busy.mean
(120.0, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from holotwin.errors import InvalidInputError
from holotwin.scenarios.line_engine import run_replication
from holotwin.scenarios.line_kpi import LineResult, LineRun, evaluate_run, summarize
from holotwin.scenarios.tasks import TaskMap

__all__ = [
    "Buffer",
    "LineModel",
    "Maintenance",
    "Station",
    "mtbf_from_health",
    "simulate_line",
]

FailureMode = Literal["operation", "time"]
RepairLaw = Literal["exponential", "deterministic"]
_PROGRESS_STEPS = 20  # progress callbacks per replication


def _real(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise InvalidInputError(f"{what} must be a number, got {value!r}")
    return float(value)


def _positive(value: object, what: str, *, infinite: bool = False) -> float:
    x = _real(value, what)
    if x <= 0.0 or (math.isinf(x) and not infinite):
        raise InvalidInputError(f"{what} must be a {'' if infinite else 'finite '}number > 0, "
                                f"got {value!r}")
    return x


def _non_negative(value: object, what: str) -> float:
    x = _real(value, what)
    if x < 0.0 or math.isinf(x):
        raise InvalidInputError(f"{what} must be a finite number >= 0, got {value!r}")
    return x


def _integer(value: object, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InvalidInputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Station:
    """One workstation.

    ``cycle_time`` (s, mean at speed 1), ``cycle_cv`` (coefficient of variation; 0:
    deterministic, else gamma), ``mtbf`` (s, mean time between failures, ``inf``: never fails),
    ``mttr`` (s, mean time to repair), ``yield_`` (fraction of good parts, in (0, 1]),
    ``speed`` (factor on the rate, > 1 faster), ``failures`` (``"operation"``: the failure
    clock runs while processing; ``"time"``: while up and not in maintenance), ``repair``
    (``"exponential"`` or ``"deterministic"`` repair times).

    >>> Station("mill", cycle_time=40.0, mtbf=7200.0, mttr=600.0).speed
    1.0
    >>> Station("mill", cycle_time=0.0)
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: Station 'mill': cycle_time must be a finite number > 0, got 0.0
    """

    name: str
    cycle_time: float
    cycle_cv: float = 0.0
    mtbf: float = math.inf
    mttr: float = 0.0
    yield_: float = 1.0
    speed: float = 1.0
    failures: FailureMode = "operation"
    repair: RepairLaw = "exponential"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInputError(f"A station name must be a non-empty string, got "
                                    f"{self.name!r}")
        where = f"Station '{self.name}'"
        values = {
            "cycle_time": _positive(self.cycle_time, f"{where}: cycle_time"),
            "cycle_cv": _non_negative(self.cycle_cv, f"{where}: cycle_cv"),
            "mtbf": _positive(self.mtbf, f"{where}: mtbf", infinite=True),
            "mttr": _non_negative(self.mttr, f"{where}: mttr"),
            "yield_": _positive(self.yield_, f"{where}: yield_"),
            "speed": _positive(self.speed, f"{where}: speed"),
        }
        if values["yield_"] > 1.0:
            raise InvalidInputError(f"{where}: yield_ must be in (0, 1], got {self.yield_!r}")
        if self.failures not in ("operation", "time"):
            raise InvalidInputError(f"{where}: failures must be 'operation' or 'time', got "
                                    f"{self.failures!r}")
        if self.repair not in ("exponential", "deterministic"):
            raise InvalidInputError(f"{where}: repair must be 'exponential' or "
                                    f"'deterministic', got {self.repair!r}")
        for key, value in values.items():
            object.__setattr__(self, key, value)


@dataclass(frozen=True)
class Buffer:
    """The buffer between two consecutive stations: room for ``capacity`` parts (>= 0)."""

    capacity: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "capacity", _integer(self.capacity, "Buffer capacity", 0))


@dataclass(frozen=True)
class Maintenance:
    """A planned stop of ``station`` during ``[start, start + duration)`` (s from t = 0).

    ``mtbf_after`` (s, ``inf`` allowed): the station's MTBF from the end of the window on, for
    maintenance that restores its reliability (None: the MTBF stays as it was). Failure
    times are exponential, so the time to the next failure is drawn afresh at that moment.
    """

    station: str
    start: float
    duration: float
    mtbf_after: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.station, str) or not self.station:
            raise InvalidInputError(f"Maintenance station must be a station name, got "
                                    f"{self.station!r}")
        where = f"Maintenance of '{self.station}'"
        object.__setattr__(self, "start", _non_negative(self.start, f"{where}: start"))
        object.__setattr__(self, "duration", _positive(self.duration, f"{where}: duration"))
        if self.mtbf_after is not None:
            object.__setattr__(self, "mtbf_after", _positive(
                self.mtbf_after, f"{where}: mtbf_after", infinite=True))

    @property
    def end(self) -> float:
        """End of the window (s, excluded)."""
        return self.start + self.duration


@dataclass(frozen=True)
class LineModel:
    """A serial line: ``stations`` in flow order and the ``len(stations) - 1`` ``buffers``
    between them (``buffers[i]`` sits between ``stations[i]`` and ``stations[i + 1]``).

    >>> line = LineModel([Station("a", 10.0), Station("b", 12.0)], [Buffer(3)])
    >>> line.with_buffers([5]).buffers
    (Buffer(capacity=5),)
    >>> line.with_station("b", cycle_time=9.0).stations[1].cycle_time
    9.0
    >>> LineModel([Station("a", 10.0), Station("b", 12.0)], [])
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: A line of 2 stations needs 1 buffer(s), got 0
    """

    stations: Sequence[Station]
    buffers: Sequence[Buffer] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if isinstance(self.stations, str | bytes) or not isinstance(self.stations, Sequence):
            raise InvalidInputError("stations must be a list of Station")
        if isinstance(self.buffers, str | bytes) or not isinstance(self.buffers, Sequence):
            raise InvalidInputError("buffers must be a list of Buffer")
        stations, buffers = tuple(self.stations), tuple(self.buffers)
        if not stations:
            raise InvalidInputError("A line needs at least one station")
        for k, station in enumerate(stations):
            if not isinstance(station, Station):
                raise InvalidInputError(f"stations[{k}] must be a Station, got {station!r}")
        for k, buffer in enumerate(buffers):
            if not isinstance(buffer, Buffer):
                raise InvalidInputError(f"buffers[{k}] must be a Buffer, got {buffer!r}")
        names = [s.name for s in stations]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInputError(f"Station names must be unique; repeated: "
                                    f"{', '.join(duplicates)}")
        if len(buffers) != len(stations) - 1:
            raise InvalidInputError(f"A line of {len(stations)} stations needs "
                                    f"{len(stations) - 1} buffer(s), got {len(buffers)}")
        object.__setattr__(self, "stations", stations)
        object.__setattr__(self, "buffers", buffers)

    @property
    def names(self) -> tuple[str, ...]:
        """The station names in flow order."""
        return tuple(s.name for s in self.stations)

    def with_buffers(self, capacities: Sequence[int]) -> LineModel:
        """A copy with these buffer capacities (in flow order)."""
        return LineModel(self.stations, [Buffer(c) for c in capacities])

    def with_station(self, name: str, **changes: Any) -> LineModel:
        """A copy with station ``name`` changed (any :class:`Station` field)."""
        if name not in self.names:
            raise InvalidInputError(f"The line has no station {name!r} (stations: "
                                    f"{', '.join(self.names)})")
        unknown = set(changes) - {f.name for f in dataclasses.fields(Station)}
        if unknown:
            raise InvalidInputError(f"Station has no field {sorted(unknown)[0]!r}")
        stations = [dataclasses.replace(s, **changes) if s.name == name else s
                    for s in self.stations]
        return LineModel(stations, self.buffers)


def mtbf_from_health(base_mtbf: float, health: float, *, exponent: float = 1.0) -> float:
    """The MTBF (s) of a machine at ``health`` in (0, 1] (1: as new), from its MTBF as new.

    The law is ``mtbf = base_mtbf * health ** exponent``: the failure rate grows as
    ``health ** -exponent``. With the default ``exponent = 1`` the MTBF scales linearly (a
    machine at half health fails twice as often); a larger exponent makes wear bite harder.

    >>> mtbf_from_health(3600.0, 0.5)
    1800.0
    >>> mtbf_from_health(3600.0, 0.5, exponent=2.0)
    900.0
    >>> mtbf_from_health(3600.0, 0.0)
    Traceback (most recent call last):
    ...
    holotwin.errors.InvalidInputError: health must be in (0, 1], got 0.0
    """
    base = _positive(base_mtbf, "base_mtbf", infinite=True)
    h = _real(health, "health")
    if not 0.0 < h <= 1.0:
        raise InvalidInputError(f"health must be in (0, 1], got {health!r}")
    k = _positive(exponent, "exponent")
    return base * math.pow(h, k)


def _restores(model: LineModel, maintenance: Sequence[Maintenance]
              ) -> list[list[tuple[float, float]]]:
    """Per station, the ``(time, mtbf)`` at which maintenance windows that end change its MTBF
    (call after :func:`_windows`, which checks ``maintenance``)."""
    out: list[list[tuple[float, float]]] = [[] for _ in model.stations]
    for m in maintenance:
        if m.mtbf_after is not None:
            out[model.names.index(m.station)].append((m.end, m.mtbf_after))
    return [sorted(r) for r in out]


def _windows(model: LineModel, maintenance: Sequence[Maintenance]
             ) -> list[list[tuple[float, float]]]:
    """Per station, its maintenance windows sorted and merged."""
    if isinstance(maintenance, Maintenance) or not isinstance(maintenance, Sequence):
        raise InvalidInputError("maintenance must be a list of Maintenance")
    names = model.names
    raw: list[list[tuple[float, float]]] = [[] for _ in names]
    for k, m in enumerate(maintenance):
        if not isinstance(m, Maintenance):
            raise InvalidInputError(f"maintenance[{k}] must be a Maintenance, got {m!r}")
        if m.station not in names:
            raise InvalidInputError(f"maintenance[{k}]: the line has no station "
                                    f"{m.station!r} (stations: {', '.join(names)})")
        raw[names.index(m.station)].append((m.start, m.end))
    merged: list[list[tuple[float, float]]] = []
    for spans in raw:
        out: list[tuple[float, float]] = []
        for start, end in sorted(spans):
            if out and start <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], end))
            else:
                out.append((start, end))
        merged.append(out)
    return merged


def _common_stop(windows: Sequence[Sequence[tuple[float, float]]], t0: float, t1: float
                 ) -> float:
    """Length of ``[t0, t1)`` in which every station is in maintenance (the line is planned
    down)."""
    common: list[tuple[float, float]] = [(t0, t1)]
    for spans in windows:
        common = [(max(a, c), min(b, d)) for a, b in common for c, d in spans
                  if min(b, d) > max(a, c)]
    return sum(b - a for a, b in common)


def simulate_line(
    model: LineModel,
    horizon_s: float,
    *,
    seed: int,
    warmup_s: float = 0.0,
    replications: int = 1,
    speed: float = 1.0,
    maintenance: Sequence[Maintenance] = (),
    progress: Callable[[float], None] | None = None,
    map: TaskMap | None = None,
) -> LineResult:
    """Simulate ``model`` from ``t = 0`` (empty line) to ``horizon_s`` (s), ``replications``
    times, and return the KPIs over ``(warmup_s, horizon_s]`` with 95 % confidence intervals
    across replications.

    ``seed`` fixes every random draw: replication ``r`` of station ``i`` uses its own streams
    (cycle times, failures, repairs, quality), so two scenarios run with the same seed share
    their random numbers (common random numbers) and differ by the change, not by noise.
    ``speed`` multiplies the speed of every station (a line-speed knob); ``maintenance``
    stops stations during planned windows; ``progress`` is called with the fraction done
    (0 to 1), ``_PROGRESS_STEPS`` times per replication.

    ``map`` runs the replications (``map(fn, items, progress=...)``, e.g. an executor's
    :meth:`~holotwin.compute.Executor.map`, to run them in several processes); the results are
    the same as without it, and progress is then reported once per replication.
    """
    if not isinstance(model, LineModel):
        raise InvalidInputError(f"model must be a LineModel, got {type(model).__name__}")
    horizon = _positive(horizon_s, "horizon_s")
    warmup = _non_negative(warmup_s, "warmup_s")
    if warmup >= horizon:
        raise InvalidInputError(f"warmup_s ({warmup_s!r}) must be less than horizon_s "
                                f"({horizon_s!r})")
    seed_value = _integer(seed, "seed", 0)
    n_rep = _integer(replications, "replications", 1)
    line_speed = _positive(speed, "speed")
    if progress is not None and not callable(progress):
        raise InvalidInputError("progress must be a callable taking the fraction done")
    windows = _windows(model, maintenance)
    restores = _restores(model, maintenance)
    line_stop = _common_stop(windows, warmup, horizon)
    ideal = [s.cycle_time / (s.speed * line_speed) for s in model.stations]
    capacities = [b.capacity for b in model.buffers]
    tasks = [_Replication(model, capacities, ideal, windows, restores, horizon, warmup,
                          line_stop, sequence)
             for sequence in np.random.SeedSequence(seed_value).spawn(n_rep)]

    if map is not None:
        runs: list[LineRun] = map(_replicate, tasks, progress=progress)
        return summarize(runs, horizon, warmup)
    runs = []
    for r, task in enumerate(tasks):
        def step(fraction: float, r: int = r) -> None:
            if progress is not None:
                progress((r + fraction) / n_rep)

        runs.append(task.run(step if progress is not None else None))
    return summarize(runs, horizon, warmup)


@dataclass(frozen=True)
class _Replication:
    """One replication of :func:`simulate_line`, as a value that can go to another process."""

    model: LineModel
    capacities: list[int]
    ideal: list[float]
    windows: list[list[tuple[float, float]]]
    restores: list[list[tuple[float, float]]]
    horizon: float
    warmup: float
    line_stop: float
    seed: np.random.SeedSequence

    def run(self, progress: Callable[[float], None] | None = None) -> LineRun:
        trace = run_replication(
            self.model.stations, self.capacities, self.ideal, self.windows, self.horizon,
            self.warmup, self.seed, progress, _PROGRESS_STEPS, self.restores)
        return evaluate_run(self.model.names, self.ideal, self.capacities, trace, self.warmup,
                            self.horizon, self.line_stop)


def _replicate(task: _Replication) -> LineRun:
    return task.run()

