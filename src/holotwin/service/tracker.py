"""Keeping estimates in step with telemetry as it arrives: :class:`BehaviorTracker`.

The tracker follows the change log (``telemetry`` events after its position; woken by every
commit through a service listener, and polling for writes of other replicas), collects the
twins whose new readings touch a signal of a behavior binding, and calls
:meth:`~holotwin.service.TwinService.update_estimates` for them in one batch. The estimates it
writes produce telemetry events of their own (``estimate.*``, ``residual.*`` signals), which it
ignores, as it does the anomaly scores of analytics (``anomaly.*``).

At start it updates every twin that has a binding, so readings that arrived while it was not
running are used. A failing update is logged and retried with a growing delay; its readings
are read again from the store, so nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from holotwin.errors import HolotwinError

if TYPE_CHECKING:
    from holotwin.service.service import TwinService

__all__ = ["BehaviorTracker", "LogFollower"]

log = logging.getLogger("holotwin.behaviors")

_DERIVED_PREFIXES = ("estimate.", "timeToEvent.", "residual.", "anomaly.")


class LogFollower(ABC):
    """A background worker that follows the change log: :meth:`run_once` does one round;
    the thread runs a round when a commit wakes it (a service listener) or every
    ``poll_interval`` seconds (writes of other replicas), and retries a failing round with a
    growing delay (its input stays in the store, so nothing is lost)."""

    #: the thread's name, what the log says a failure is of, and the log it goes to
    task = "holotwin-follower"
    what = "Follower"
    logger = log

    def __init__(self, service: TwinService, poll_interval: float = 1.0,
                 page_size: int = 1000) -> None:
        self.service = service
        self.poll_interval = poll_interval
        self.page_size = page_size
        self._position: int | None = None  # None: the first round starts from what is stored
        self._cond = threading.Condition()
        self._woken = False
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._retry_delay = 0.2
        #: rounds so far; the last error
        self.rounds = 0
        self.last_error: str | None = None

    @abstractmethod
    def run_once(self) -> int:
        """One round; returns how much it did."""

    def wake(self, seq: int = 0) -> None:
        with self._cond:
            self._woken = True
            self._cond.notify()

    def failed(self) -> None:
        """Called after a round failed (``last_error`` says why), before the retry (drop
        state that ran ahead)."""
        return None

    def _due(self) -> bool:
        """Whether a round is due now, without waiting (called holding ``_cond``)."""
        return self._woken or self._position is None

    # background thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is not None:
            return
        self._stopping = False
        self.service.add_listener(self.wake)
        self._worker = threading.Thread(target=self._run, name=self.task, daemon=True)
        self._worker.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._due() and not self._stopping:
                    self._cond.wait(timeout=self.poll_interval)
                self._woken = False
                if self._stopping:
                    return
            try:
                self.run_once()
                self._retry_delay = 0.2
                self.last_error = None
            except Exception as exc:  # noqa: BLE001 - keep going; the input stays stored
                reason = exc.message if isinstance(exc, HolotwinError) else repr(exc)
                self.last_error = reason
                self.failed()
                self.logger.warning("%s: %s; retrying in %.1f s", self.what, reason,
                                    self._retry_delay)
                with self._cond:
                    self._cond.wait(timeout=self._retry_delay)
                self._retry_delay = min(self._retry_delay * 2, 10.0)

    def stop(self, timeout: float = 5.0) -> None:
        worker = self._worker
        if worker is None:
            return
        self.service.remove_listener(self.wake)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        worker.join(timeout)
        self._worker = None


class BehaviorTracker(LogFollower):
    """Follows telemetry events and updates estimates; see the module docs."""

    task = "holotwin-behaviors"
    what = "Behavior estimates"

    def __init__(self, service: TwinService, poll_interval: float = 1.0,
                 page_size: int = 1000) -> None:
        super().__init__(service, poll_interval, page_size)
        #: twins updated so far
        self.updated = 0

    def run_once(self) -> int:
        """Update the twins with new readings since the last round; return how many."""
        service = self.service
        if self._position is None:
            position = service.last_event_seq()
            bound = self._bound_twins()
        else:
            position, bound = self._touched(self._position)
        updated = service.update_estimates(bound) if bound else 0
        self._position = position
        self.rounds += 1
        self.updated += updated
        return updated

    def _bound_twins(self) -> set[str]:
        service = self.service
        models = set(service.store.list_documents("behavior-binding"))
        if not models:
            return set()
        family = set().union(*(service.registry.descendants(m) for m in models))
        twins: set[str] = set()
        after = None
        while True:
            page = service.store.list_twins(model_ids=sorted(family), after=after, limit=1000)
            twins.update(t.id for t in page)
            if len(page) < 1000:
                return twins
            after = page[-1].id

    def _touched(self, position: int) -> tuple[int, set[str]]:
        twins: set[str] = set()
        while True:
            events = self.service.read_events(position, self.page_size, kinds=["telemetry"])
            for event in events:
                values = event.data.get("values") or {}
                if any(not str(k).startswith(_DERIVED_PREFIXES) for k in values):
                    twins.add(event.twin_id)
                position = event.seq
            if len(events) < self.page_size:
                return position, twins
