"""KPI reports kept fresh for dashboards: :class:`KpiReports`.

A KPI report over the last hour reads every change and reading of that hour for each twin
below the one asked about: for a plant of 500 machines that report their counters every few
seconds, seconds of work, and more the longer the history. A dashboard asks for the same
report every few seconds, from every screen that shows it. So the server keeps the reports it
is asked for with a ``maxAge`` (``GET /digitaltwins/{id}/kpis?maxAge=60``):

- a report computed at most ``maxAge`` seconds ago is answered from memory;
- an older one is answered too, while a background thread computes it again (a dashboard then
  shows figures up to one computation late, with their ``computedAt``); only a report asked
  for the first time, or not asked for in :attr:`KpiReports.keep_for` seconds, is computed
  while the request waits;
- the thread also keeps each report fresh while it is asked for (it computes it again when
  half its ``maxAge`` has passed), and forgets it when nobody asked for :attr:`keep_for`
  seconds;
- at start it computes the reports of the graph's roots (the plant), with the dashboard's
  depth, so that the first visit does not wait either.

Reports are computed with :meth:`~holotwin.service.TwinService.twin_kpis` over the hour up
to the time of computing, and carry ``computedAt``.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from holotwin.clock import to_iso
from holotwin.errors import HolotwinError, InvalidInputError
from holotwin.service.graph import twin_graph
from holotwin.service.tracker import LogFollower

if TYPE_CHECKING:
    from holotwin.service.service import TwinService

__all__ = ["KpiReports"]

log = logging.getLogger("holotwin.kpis")

MAX_AGE_LIMIT = 3600.0  # s: the longest maxAge accepted
WARM_MAX_AGE = 30.0  # s: the age the overview's report is kept to until someone asks (its maxAge)


@dataclass
class _Report:
    report: dict[str, Any]
    computed: float  # service clock
    asked: float
    max_age: float


class KpiReports(LogFollower):
    """The reports of (twin, depth) asked for with a maximum age; see the module docs. The
    background thread is a :class:`~holotwin.service.tracker.LogFollower`'s: its first round
    computes the roots' reports, each later one (every ``poll_interval``, or when a stale
    report was asked for) those due."""

    task = "holotwin-kpis"
    what = "KPI reports"
    logger = log
    wake_on_commit = False  # it reads no log: woken by the clock and by stale asks

    def __init__(self, service: TwinService, keep_for: float = 300.0, warm_depth: int = 2,
                 poll_interval: float = 1.0) -> None:
        super().__init__(service, poll_interval)
        self.keep_for = keep_for
        self.warm_depth = warm_depth
        self._reports: dict[tuple[str, int], _Report] = {}
        self._computing: dict[tuple[str, int], threading.Event] = {}  # set when done
        self._lock = threading.Lock()
        #: reports computed so far (in the background or while a request waited)
        self.computed = 0

    @staticmethod
    def check_max_age(max_age: float) -> float:
        if not 0 <= max_age <= MAX_AGE_LIMIT:
            raise InvalidInputError(f"maxAge must be seconds from 0 to {MAX_AGE_LIMIT:g}, got "
                                    f"{max_age!r}")
        return max_age

    def get(self, twin_id: str, depth: int, max_age: float) -> dict[str, Any]:
        """The report of ``twin_id`` rolled up ``depth`` levels, at most ``max_age`` seconds
        old, or older while it is being computed again (see the module docs)."""
        self.check_max_age(max_age)
        now = self.service.clock.now()
        key = (twin_id, depth)
        with self._lock:
            kept = self._reports.get(key)
            if kept is not None and now - kept.asked <= self.keep_for:
                kept.asked, kept.max_age = now, max_age
                if now - kept.computed > max_age:
                    self.wake()  # stale: the thread computes it again
                return kept.report
            running = self._computing.get(key)
        if running is not None:  # being computed (the first round, another request): wait
            running.wait()
            with self._lock:
                kept = self._reports.get(key)
                if kept is not None:
                    kept.asked = now
                    return kept.report
        return self._compute(key, max_age, asked=now)

    def _compute(self, key: tuple[str, int], max_age: float, asked: float) -> dict[str, Any]:
        twin_id, depth = key
        done = threading.Event()
        with self._lock:
            self._computing[key] = done
        try:
            computed = self.service.clock.now()
            report = {**self.service.twin_kpis(twin_id, depth=depth),
                      "computedAt": to_iso(computed)}
            with self._lock:
                kept = self._reports.get(key)
                self._reports[key] = _Report(report, computed,
                                             max(asked, kept.asked) if kept else asked, max_age)
                self.computed += 1
        finally:
            with self._lock:
                if self._computing.get(key) is done:
                    del self._computing[key]
            done.set()
        return report

    def run_once(self) -> int:
        """The first round: :meth:`warm`; then :meth:`refresh`. How many reports it computed."""
        done = 0
        if self._position is None:
            done += self.warm()
            self._position = 0
        done += self.refresh()
        self.rounds += 1
        return done

    def refresh(self) -> int:
        """Compute again the reports due (asked for lately and past half their age), forget
        those nobody asked for; how many it computed."""
        now = self.service.clock.now()
        with self._lock:
            for key in [k for k, r in self._reports.items() if now - r.asked > self.keep_for]:
                del self._reports[key]
            due = [(k, r.max_age, r.asked) for k, r in self._reports.items()
                   if now - r.computed >= r.max_age / 2]
        done = 0
        for key, max_age, asked in due:
            try:
                self._compute(key, max_age, asked)
                done += 1
            except HolotwinError as exc:  # the twin was deleted, the store is down, ...
                self.logger.warning("KPI report of %s: %s", key[0], exc.message)
                with self._lock:
                    self._reports.pop(key, None)
        return done

    def warm(self) -> int:
        """Compute the report the plant overview shows first: of the root it picks (a twin no
        relationship targets, with a Plant model, else with the most twins below it) at the
        dashboard's depth; how many (0 or 1)."""
        root = default_root(twin_graph(self.service.store))
        if root is None:
            return 0
        self._compute((root, self.warm_depth), WARM_MAX_AGE, self.service.clock.now())
        return 1


def default_root(graph: dict[str, Any]) -> str | None:
    """The root twin the plant overview shows at first (as its ``rootsOf`` picks it)."""
    ids = {t["id"] for t in graph["twins"]}
    out: dict[str, list[str]] = {}
    targets: set[str] = set()
    for r in graph["relationships"]:
        if r["source"] in ids and r["target"] in ids and r["source"] != r["target"]:
            targets.add(r["target"])
            out.setdefault(r["source"], []).append(r["target"])

    def below(root: str) -> int:
        seen, stack = {root}, [root]
        while stack:
            for nxt in out.get(stack.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return len(seen) - 1

    def is_plant(model: str) -> bool:
        return model.rsplit(":", 1)[-1].split(";")[0] == "Plant"

    roots = [t for t in graph["twins"] if t["id"] not in targets and t["id"] in out]
    if not roots:
        return None
    best = min(roots, key=lambda t: (not is_plant(t["model"]), -below(t["id"]), t["id"]))
    return str(best["id"])
