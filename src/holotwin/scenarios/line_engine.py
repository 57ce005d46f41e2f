"""The SimPy processes behind :func:`holotwin.scenarios.line.simulate_line`: one replication.

Each station is a SimPy process; each buffer is a pair of counters (``simpy.Container``):
``items``, the parts waiting in the buffer, and ``slots``, the free places in the buffer plus
the place in the station after it (``capacity + 1`` at the start). A station takes a slot
downstream before it passes a part on (blocking after service) and gives its slot upstream
back when the part has left it. With time-based failures a second process per station keeps
the failure clock and interrupts the part in process.

Every state change goes through :meth:`_StationSim.refresh`, which charges the time since the
last change to the state the station was in (clipped to the observed span) and records the
station's *active periods* (processing, down or in maintenance, as opposed to waiting) for the
bottleneck method. The conventions are documented in :mod:`holotwin.scenarios.line`.

>>> from holotwin.scenarios.line import Station
>>> trace = run_replication([Station("s", 10.0)], [], [10.0], [[]], 100.0, 0.0,
...                         np.random.SeedSequence(1))
>>> trace.stations[0].good, trace.stations[0].times
(10, [100.0, 0.0, 0.0, 0.0, 0.0])
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

if TYPE_CHECKING:
    from holotwin.scenarios.line import Station

__all__ = ["BUSY", "STATES", "RunTrace", "StationTrace", "run_replication"]

# Station states, in the order of StationTrace.times.
BUSY, BLOCKED, STARVED, DOWN, IDLE = range(5)
STATES = ("busy", "blocked", "starved", "down", "idle")
_WAITING = (BLOCKED, STARVED)
_BLOCK = 1024  # random numbers drawn at a time per stream

Steps = Generator[simpy.Event, Any, None]


def _tol(t: float) -> float:
    return 1e-9 * max(1.0, abs(t))


@dataclass
class StationTrace:
    """What one station did in the observed span: seconds per state (``STATES`` order), parts
    completed good and scrapped, failures started, and its active periods ``(start, end)``."""

    times: list[float]
    good: int = 0
    scrap: int = 0
    failures: int = 0
    periods: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class RunTrace:
    """One replication: a trace per station, and per buffer the time integral of its level
    (part-seconds) over the observed span."""

    stations: list[StationTrace]
    buffer_areas: list[float]


class _Draws:
    """Random numbers from one generator, drawn in blocks (far cheaper than one by one)."""

    __slots__ = ("_buf", "_draw", "_i")

    def __init__(self, draw: Callable[[int], np.ndarray]) -> None:
        self._draw = draw
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i >= len(self._buf):
            self._buf = self._draw(_BLOCK).tolist()
            self._i = 0
        value = self._buf[self._i]
        self._i += 1
        return value


class _Windows:
    """One station's maintenance windows (sorted, merged), with a tolerance so that a timeout
    landing one rounding error off a window boundary still counts as on it."""

    def __init__(self, spans: Sequence[tuple[float, float]]) -> None:
        self.starts = [s for s, _ in spans]
        self.ends = [e for _, e in spans]

    def end_if_inside(self, t: float) -> float | None:
        i = bisect_right(self.starts, t + _tol(t)) - 1
        if i >= 0 and t < self.ends[i] - _tol(self.ends[i]):
            return self.ends[i]
        return None

    def next_start(self, t: float) -> float:
        i = bisect_right(self.starts, t + _tol(t))
        return self.starts[i] if i < len(self.starts) else math.inf


class _Link:
    """A buffer at run time; tracks the time integral of its level over ``[t0, t1)``."""

    def __init__(self, env: simpy.Environment, capacity: int, t0: float, t1: float) -> None:
        self.env = env
        self.items = simpy.Container(env, init=0)
        self.slots = simpy.Container(env, init=capacity + 1)
        self.t0, self.t1 = t0, t1
        self.area = 0.0
        self._since = 0.0
        self._level = 0.0

    def track(self) -> None:
        """Call after every put to or get from ``items``."""
        now = self.env.now
        lo, hi = max(self._since, self.t0), min(now, self.t1)
        if hi > lo:
            self.area += self._level * (hi - lo)
        self._since = now
        self._level = float(self.items.level)


class _StationSim:
    def __init__(self, env: simpy.Environment, spec: Station, mean_cycle: float,
                 windows: Sequence[tuple[float, float]], seq: np.random.SeedSequence,
                 upstream: _Link | None, downstream: _Link | None, t0: float, t1: float,
                 restores: Sequence[tuple[float, float]] = ()) -> None:
        self.env = env
        self.up, self.down_link = upstream, downstream
        self.t0, self.t1 = t0, t1
        self.windows = _Windows(windows)
        self.trace = StationTrace(times=[0.0] * len(STATES))
        g_cycle, g_fail, g_repair, g_yield = (np.random.default_rng(s) for s in seq.spawn(4))
        cv = spec.cycle_cv
        if cv > 0.0:
            shape, scale = 1.0 / cv**2, mean_cycle * cv**2
            self.cycle: Callable[[], float] = _Draws(lambda n: g_cycle.gamma(shape, scale, n))
        else:
            self.cycle = lambda: mean_cycle
        mtbf, mttr = spec.mtbf, spec.mttr
        # (time, mtbf): from the end of a maintenance window on, failures come at a new rate
        self.restores = sorted(restores)
        self.fails = math.isfinite(mtbf) or any(math.isfinite(m) for _, m in self.restores)
        self.g_fail = g_fail
        self.ttf_draw = self._failure_draws(mtbf)
        if spec.repair == "exponential" and mttr > 0.0:
            self.repair_draw: Callable[[], float] = _Draws(
                lambda n: g_repair.exponential(mttr, n))
        else:
            self.repair_draw = lambda: mttr
        self.yield_ = spec.yield_
        self.quality = _Draws(lambda n: g_yield.random(n))
        self.op_failures = self.fails and spec.failures == "operation"
        self.simple = not self.fails and not windows
        self.ttf = self.ttf_draw() if self.op_failures else math.inf

        self.flow = STARVED if upstream is not None else BUSY
        self.is_down = False
        self.processing = False
        self.repaired = env.event()
        self.state = self._effective()
        self.since = 0.0
        active = self.state not in _WAITING
        self.active_start: float | None = 0.0 if active else None
        self.inactive_since = 0.0
        self.process = env.process(self._run())
        if self.fails and not self.op_failures:
            env.process(self._time_failures())
        for start, end in windows:
            env.process(self._mark(start, end))

    def _failure_draws(self, mtbf: float) -> Callable[[], float]:
        if not math.isfinite(mtbf):
            return lambda: math.inf
        g_fail = self.g_fail
        return _Draws(lambda n: g_fail.exponential(mtbf, n))

    def _restored(self) -> bool:
        """Take the failure rate of every maintenance window that has ended; True if one did
        (the time to the next failure is then drawn afresh: exponential times forget)."""
        changed = False
        now = self.env.now
        while self.restores and self.restores[0][0] <= now + _tol(now):
            _, mtbf = self.restores.pop(0)
            self.ttf_draw = self._failure_draws(mtbf)
            changed = True
        return changed

    # -- accounting ---------------------------------------------------------------------

    def _effective(self) -> int:
        if self.windows.starts and self.windows.end_if_inside(self.env.now) is not None:
            return IDLE
        return DOWN if self.is_down else self.flow

    def _charge(self, state: int, a: float, b: float) -> None:
        lo, hi = max(a, self.t0), min(b, self.t1)
        if hi > lo:
            self.trace.times[state] += hi - lo

    def refresh(self) -> None:
        """Charge the time since the last change and take the new effective state."""
        new = self._effective()
        if new == self.state:
            return
        now = self.env.now
        self._charge(self.state, self.since, now)
        was_active = self.state not in _WAITING
        active = new not in _WAITING
        if was_active and not active:
            self.inactive_since = now
        elif active and not was_active:
            # a wait of zero length (a hand-off with room) does not split an active period
            if self.active_start is None:
                self.active_start = now
            elif now > self.inactive_since:
                self.trace.periods.append((self.active_start, self.inactive_since))
                self.active_start = now
        self.state, self.since = new, now

    def finish(self) -> None:
        """Close the books at the end of the run (``env.now`` is the horizon)."""
        now = self.env.now
        self._charge(self.state, self.since, now)
        if self.state not in _WAITING and self.active_start is not None:
            self.trace.periods.append((self.active_start, now))
        elif self.active_start is not None:
            self.trace.periods.append((self.active_start, self.inactive_since))

    def _set_flow(self, flow: int) -> None:
        self.flow = flow
        self.refresh()

    def _mark(self, start: float, end: float) -> Steps:
        yield self.env.timeout(start)
        self.refresh()
        yield self.env.timeout(end - self.env.now)
        self.refresh()

    # -- behaviour ----------------------------------------------------------------------

    def _run(self) -> Steps:
        up, down = self.up, self.down_link
        while True:
            if up is not None:
                if up.items.level >= 1:
                    up.items.get(1)  # the only taker and there is a part: no need to wait
                else:
                    self._set_flow(STARVED)
                    yield up.items.get(1)
                up.track()
            self._set_flow(BUSY)
            yield from self._work(self.cycle())
            good = self.yield_ >= 1.0 or self.quality() < self.yield_
            if self.t0 < self.env.now <= self.t1:
                if good:
                    self.trace.good += 1
                else:
                    self.trace.scrap += 1
            if good and down is not None:
                if down.slots.level >= 1:
                    down.slots.get(1)
                else:
                    self._set_flow(BLOCKED)
                    yield down.slots.get(1)
                down.items.put(1)
                down.track()
            if up is not None:
                up.slots.put(1)

    def _work(self, duration: float) -> Steps:
        env = self.env
        if self.simple:
            yield env.timeout(duration)
            return
        remaining = duration
        while remaining > 0.0:
            while True:  # wait until the station may process
                end = self.windows.end_if_inside(env.now)
                if end is not None:
                    yield env.timeout(end - env.now)
                elif self.is_down:
                    yield self.repaired
                else:
                    break
            if self.op_failures and self.restores and self._restored():
                self.ttf = self.ttf_draw()
            now = env.now
            dt = min(remaining, self.windows.next_start(now) - now, self.ttf)
            self.processing = True
            try:
                yield env.timeout(dt)
                elapsed = dt
            except simpy.Interrupt:  # a time-based failure
                elapsed = env.now - now
            self.processing = False
            remaining -= elapsed
            if self.op_failures:
                self.ttf -= elapsed
                if self.ttf <= 0.0:
                    self._fail()
                    yield env.timeout(self.repair_draw())
                    self._repair()
                    self.ttf = self.ttf_draw()

    def _fail(self) -> None:
        if self.t0 < self.env.now <= self.t1:
            self.trace.failures += 1
        self.is_down = True
        self.repaired = self.env.event()
        self.refresh()

    def _repair(self) -> None:
        self.is_down = False
        self.refresh()
        self.repaired.succeed()

    def _time_failures(self) -> Steps:
        env = self.env
        while True:
            self._restored()
            ttf = self.ttf_draw()
            while True:  # the clock stops during maintenance
                end = self.windows.end_if_inside(env.now)
                if end is not None:
                    yield env.timeout(end - env.now)
                    if self._restored():
                        ttf = self.ttf_draw()
                    continue
                gap = self.windows.next_start(env.now) - env.now
                if ttf <= gap:
                    yield env.timeout(ttf)
                    break
                yield env.timeout(gap)
                ttf -= gap
            self._fail()
            if self.processing:
                self.process.interrupt("failure")
            yield env.timeout(self.repair_draw())
            self._repair()


def run_replication(
    stations: Sequence[Station],
    capacities: Sequence[int],
    mean_cycles: Sequence[float],
    windows: Sequence[Sequence[tuple[float, float]]],
    horizon: float,
    warmup: float,
    seed: np.random.SeedSequence,
    progress: Callable[[float], None] | None = None,
    steps: int = 1,
    restores: Sequence[Sequence[tuple[float, float]]] | None = None,
) -> RunTrace:
    """Run the line once from ``t = 0`` to ``horizon`` (s), observing ``(warmup, horizon]``.

    ``mean_cycles`` are the effective mean cycle times (s, speed factors applied),
    ``windows`` the merged maintenance windows per station, ``restores`` per station the
    ``(time, mtbf)`` at which maintenance changes its MTBF. ``progress`` (if given) is called
    ``steps`` times with the fraction of the horizon done.
    """
    env = simpy.Environment()
    links = [_Link(env, c, warmup, horizon) for c in capacities]
    sims = [
        _StationSim(env, spec, mean_cycles[i], windows[i], sub,
                    links[i - 1] if i > 0 else None, links[i] if i < len(links) else None,
                    warmup, horizon, restores[i] if restores else ())
        for i, (spec, sub) in enumerate(zip(stations, seed.spawn(len(stations)), strict=True))
    ]
    n = max(1, steps) if progress is not None else 1
    for k in range(1, n + 1):
        env.run(until=horizon * k / n if k < n else horizon)
        if progress is not None and k < n:
            progress(k / n)
    while env.peek() <= horizon:  # what happens at the horizon itself counts (parts made)
        env.step()
    if progress is not None:
        progress(1.0)
    for sim in sims:
        sim.finish()
    for link in links:
        link.track()
    return RunTrace([s.trace for s in sims], [link.area for link in links])
