"""The demo's what-if: maintenance of the first line's bottleneck now or at the next shift.

Once the demo has run ``after`` seconds, :class:`DemoWhatIf` runs, on a background thread and
through the service (so the scenarios are stored and shown at ``/scenarios``):

1. the line as it is, over the next ``horizon`` seconds: its machines as a serial line with
   their speeds and the faults and repairs their status history shows (the demo machines'
   nominal MTBF and MTTR where the history is still too short); this names the bottleneck;
2. the same with the bottleneck stopped ``duration`` seconds for maintenance now, and
   ``next_shift`` seconds from now, assuming maintenance makes it as reliable as new
   (``mtbf_new``);
3. a comparison of the three with paired 95 % intervals (common random numbers), and an
   optimization of the slot over the horizon (one every ``slot_every`` seconds).

:meth:`DemoWhatIf.view` says where it stands, for the display.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from holotwin.demo.devices import MachineParameters
from holotwin.errors import HolotwinError
from holotwin.service import TwinService

__all__ = ["DemoWhatIf", "WhatIfRow", "WhatIfView", "demo_line_scenario"]

_NOMINAL = MachineParameters()


class _Stopped(Exception):
    """Raised from a progress callback to cut a run short when the demo stops."""


@dataclass(frozen=True)
class WhatIfRow:
    """One scenario: good parts over the horizon (mean and 95 % half-width), the paired
    difference to the baseline (None for the baseline), OEE and bottleneck."""

    name: str
    good: float
    good_half_width: float | None
    vs_baseline: float | None
    vs_low: float | None
    vs_high: float | None
    oee: float
    bottleneck: str


@dataclass(frozen=True)
class WhatIfView:
    """What the display shows: ``status`` (waiting, running, done, failed), a ``message``,
    the compared scenarios, the best maintenance slots, the ids of the stored scenarios and
    how long it all took (s of wall time)."""

    status: str
    message: str
    rows: tuple[WhatIfRow, ...] = ()
    #: the best few maintenance slots (s from now), each with its good parts vs maintenance
    #: now (the search's baseline)
    best_slots: tuple[tuple[float, float], ...] = ()
    scenario_ids: tuple[str, ...] = ()
    took: float | None = None


@dataclass
class DemoWhatIf:
    """See the module docs; times in seconds."""

    service: TwinService
    line_id: str
    after: float = 20.0
    horizon: float = 7200.0
    duration: float = 900.0
    next_shift: float = 3600.0
    slot_every: float = 900.0
    replications: int = 5
    mtbf_new: float = 4 * 3600.0
    seed: int = 7
    _view: WhatIfView = field(init=False)
    _thread: threading.Thread | None = field(init=False, default=None)
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._view = WhatIfView("waiting", f"a what-if on {self.line_id} starts after "
                                           f"{self.after:g} s of history")

    def view(self) -> WhatIfView:
        with self._lock:
            return self._view

    def _show(self, **changes: Any) -> None:
        with self._lock:
            self._view = replace(self._view, **changes)

    def tick(self, elapsed: float) -> None:
        """Start the what-if once ``elapsed`` (s of demo) reaches ``after``."""
        if self._thread is None and elapsed >= self.after:
            lookback = max(elapsed, 1.0)
            self._thread = threading.Thread(target=self._run, args=(lookback,),
                                            name="holotwin-demo-whatif", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Cut a running what-if short (its current simulation ends first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until the what-if has finished (True) or ``timeout`` s have passed."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    # the work ---------------------------------------------------------------------------------
    def _progress(self, what: str) -> Callable[[float], None]:
        def progress(fraction: float) -> None:
            if self._stop.is_set():
                raise _Stopped
            self._show(message=f"{what}: {fraction:.0%}")
        return progress

    def scenario(self, name: str, lookback: float, **overrides: Any) -> dict[str, Any]:
        """The line scenario called ``name`` with these overrides (see demo_line_scenario)."""
        return demo_line_scenario(self.line_id, name, lookback=lookback, horizon=self.horizon,
                                  replications=self.replications, seed=self.seed, **overrides)

    def maintenance(self, station: str, start: float) -> dict[str, Any]:
        """Overrides: ``station`` stopped ``duration`` s from ``start`` (s from now), as
        reliable as new (``mtbf_new``) afterwards."""
        return {"stations": {station: {"mtbfNew": self.mtbf_new}},
                "maintenance": [{"station": station, "start": start,
                                 "duration": self.duration, "restore": True}]}

    def slot_search(self, station: str, lookback: float) -> dict[str, Any]:
        """The optimization of the start of ``station``'s maintenance: one slot every
        ``slot_every`` s over the horizon, the most good parts, the best three."""
        slots = [k * self.slot_every for k in range(
            int((self.horizon - self.duration) // self.slot_every) + 1)]
        return {"name": f"{self.line_id}: best slot to maintain {station}",
                "scenario": self.scenario("slot", lookback, **self.maintenance(station, 0.0)),
                "knobs": [{"path": "/overrides/maintenance/0/start", "values": slots}],
                "objective": {"kpi": "/good/mean", "goal": "max"}, "top": 3}

    def _run_one(self, spec: dict[str, Any], what: str) -> dict[str, Any]:
        created = self.service.create_scenario(spec)
        return self.service.run_scenario(created["id"], progress=self._progress(what))

    def _run(self, lookback: float) -> None:
        started = time.monotonic()
        try:
            self._show(status="running", message="simulating the line as it is")
            base = self._run_one(self.scenario("as is", lookback), "the line as it is")
            bottleneck = base["kpis"]["bottleneck"]
            now = self._run_one(self.scenario(f"maintain {bottleneck} now", lookback,
                                               **self.maintenance(bottleneck, 0.0)),
                                f"maintenance of {bottleneck} now")
            later = self._run_one(self.scenario(
                f"maintain {bottleneck} next shift (in {self.next_shift / 60:g} min)",
                lookback, **self.maintenance(bottleneck, self.next_shift)),
                f"maintenance of {bottleneck} at the next shift")
            table = self.service.compare_scenarios([base["id"], now["id"], later["id"]])
            rows = tuple(_row(r, baseline=k == 0) for k, r in enumerate(table["scenarios"]))
            self._show(rows=rows, scenario_ids=(base["id"], now["id"], later["id"]),
                       message=f"best slot for maintenance of {bottleneck}: searching")
            created = self.service.create_optimization(self.slot_search(bottleneck, lookback))
            optimized = self.service.run_optimization(
                created["id"], progress=self._progress(f"best slot for {bottleneck}"))
            results = optimized["results"]
            best = tuple((float(c["assignment"]["/overrides/maintenance/0/start"]),
                          c["objective"] - results["baseline"]["objective"])
                         for c in results["best"])
            self._show(status="done", best_slots=best, took=time.monotonic() - started,
                       message=f"{bottleneck} is the bottleneck; maintenance assumed to make it "
                               f"as reliable as new (MTBF {self.mtbf_new / 3600:g} h)")
        except _Stopped:
            self._show(status="stopped", message="stopped with the demo")
        except HolotwinError as exc:
            self._show(status="failed", message=exc.message)


def demo_line_scenario(line_id: str, name: str, *, lookback: float, horizon: float = 7200.0,
                       replications: int = 5, seed: int = 7, **overrides: Any
                       ) -> dict[str, Any]:
    """The demo's line scenario: the line over ``horizon`` s, its machines' faults and
    repairs from ``lookback`` s of history, the demo machines' nominal MTBF and MTTR where the
    history shows none, buffers of 5 parts, cycle times varying by 10 %."""
    return {"kind": "line", "name": f"{line_id}: {name}", "line": line_id, "horizon": horizon,
            "replications": replications, "seed": seed, "lookback": lookback,
            "defaults": {"mtbf": 1.0 / _NOMINAL.fault_rate, "mttr": _NOMINAL.mean_repair_time,
                         "cycleCv": 0.1, "buffer": 5},
            "overrides": overrides}


def _row(compared: dict[str, Any], *, baseline: bool) -> WhatIfRow:
    kpis, delta = compared["kpis"], compared["vsBaseline"]["good"]
    good = kpis["good"]
    half = None if good["high"] is None else (good["high"] - good["low"]) / 2
    return WhatIfRow(compared["scenario"], good["mean"], half,
                     None if baseline else delta["mean"], None if baseline else delta["low"],
                     None if baseline else delta["high"], kpis["oee"]["mean"],
                     kpis["bottleneck"])
