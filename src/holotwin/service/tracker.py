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

Unlike the analytics engine it takes no lease: several servers on one store may each run a
tracker, because an update writes a twin's estimate only if the estimate it started from is
still the stored one, and readings are unique per (twin, signal, time). A second tracker
doubles the work, not its effect.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from holotwin.errors import HolotwinError
from holotwin.service.lease import Lease, LeaseLostError

if TYPE_CHECKING:
    from holotwin.service.service import TwinService
    from holotwin.store.base import Transaction

__all__ = ["BehaviorTracker", "LogFollower"]

log = logging.getLogger("holotwin.behaviors")

_DERIVED_PREFIXES = ("estimate.", "timeToEvent.", "residual.", "anomaly.")


class LogFollower(ABC):
    """A background worker that follows the change log: :meth:`run_once` does one round;
    the thread runs a round when a commit wakes it (a service listener) or every
    ``poll_interval`` seconds (writes of other replicas), and retries a failing round with a
    growing delay (its input stays in the store, so nothing is lost).

    With ``lease`` (a name) the thread does rounds only while it holds that lease in the store
    (:class:`~holotwin.service.lease.Lease`, ``lease_time`` seconds, renewed while it runs):
    of the followers of one store with the same lease, on any number of servers, one does
    the work and the others stand by, looking at the lease every ``poll_interval``, and take
    over when the holder stops (:meth:`stop` releases it) or its lease expires. A round's
    writes call :meth:`_fence` in their transaction, and a long round :meth:`_keep_lease`
    between steps, so a holder that lost the lease stops and writes nothing more.
    :meth:`step` is what the thread does each time (tests call it to go step by step);
    :meth:`run_once` called directly (tests, scripts) ignores the lease.
    """

    #: the thread's name, what the log says a failure is of, and the log it goes to
    task = "holotwin-follower"
    what = "Follower"
    logger = log
    #: whether every commit wakes the thread (a follower that does not read the log: False)
    wake_on_commit = True

    def __init__(self, service: TwinService, poll_interval: float = 1.0,
                 page_size: int = 1000, *, lease: str | None = None,
                 lease_time: float = 15.0) -> None:
        self.service = service
        self.poll_interval = poll_interval
        self.page_size = page_size
        self._position: int | None = None  # None: the first round starts from what is stored
        self._cond = threading.Condition()
        self._woken = False
        self._stopping = False
        self._worker: threading.Thread | None = None
        self._retry_delay = 0.2
        self._lease = None if lease is None else Lease(service.store, service.clock, lease,
                                                       duration=lease_time)
        self._fenced = False  # the thread is running under the lease
        self._leading: bool | None = None  # at the last look at the lease (None: not yet)
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
        """Called after a round failed (``last_error`` says why) or the lease was lost,
        before the next round (drop state that ran ahead)."""
        return None

    def _due(self) -> bool:
        """Whether a round is due now, without waiting (called holding ``_cond``)."""
        return self._woken or self._position is None

    def status(self) -> dict[str, Any]:
        """For a health check: running, rounds, the last error and the lease (its name, this
        follower's holder id, whether it holds it, who does and until when, as last seen)."""
        return {"running": self._worker is not None, "rounds": self.rounds,
                "lastError": self.last_error,
                "lease": None if self._lease is None else self._lease.status()}

    # the lease ---------------------------------------------------------------------------
    def _fence(self, tx: Transaction) -> None:
        """In a round's write transaction: raise LeaseLostError (nothing is written) if the
        thread runs under a lease it no longer holds."""
        if self._fenced and self._lease is not None:
            self._lease.check(tx)

    def _keep_lease(self) -> None:
        """Between steps of a long round: renew the lease when due; raise LeaseLostError if
        it is lost."""
        if self._fenced and self._lease is not None and not self._lease.hold(take=False):
            raise LeaseLostError(self._lease.name, self._holder_seen())

    def _holder_seen(self) -> str | None:
        seen = self._lease.seen if self._lease is not None else None
        return str(seen["holder"]) if seen else None

    def _lead(self) -> bool:
        """Take or renew the lease (True without one); say so when that changes."""
        lease = self._lease
        if lease is None:
            return True
        holding = lease.hold()
        if holding and self._leading is not True:
            replaced = lease.replaced
            if replaced is not None:
                self.logger.warning("%s: took over the lease '%s' from %s (it expired)",
                                    self.what, lease.name, replaced.get("holder"))
            elif self._leading is False:
                self.logger.warning("%s: took the lease '%s' (its holder released it)",
                                    self.what, lease.name)
            else:
                self.logger.info("%s: holds the lease '%s' as %s", self.what, lease.name,
                                 lease.holder)
            self._position = None  # start from what is stored
        elif not holding and self._leading is not False:
            self._stand_by(lease)
        self._leading = holding
        return holding

    def _stand_by(self, lease: Lease) -> None:
        seen = lease.status()
        self.logger.warning("%s: standing by; the lease '%s' is held by %s until %s",
                            self.what, lease.name, seen["heldBy"], seen["expires"])
        if self._leading:  # lost it: what ran ahead is someone else's now
            self._position = None
            self.failed()
        self._leading = False

    # background thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is not None:
            return
        self._stopping = False
        self._leading = None
        if self.wake_on_commit:
            self.service.add_listener(self.wake)
        self._worker = threading.Thread(target=self._run, name=self.task, daemon=True)
        self._worker.start()

    def step(self) -> bool:
        """What the thread does when it wakes: take or renew the lease (if any), then do a
        round if this follower holds it; whether it did. Raises what the round raises."""
        lease = self._lease
        self._fenced = lease is not None
        try:
            if not self._lead():
                return False
            self.run_once()
        except LeaseLostError:
            if lease is None:
                raise
            lease.held = None
            if not self._stopping:  # else stop() released it
                self._stand_by(lease)
            self._leading = False
            return False
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._leading is False:  # standing by: commits wake only the holder
                    self._cond.wait_for(lambda: self._stopping, timeout=self.poll_interval)
                elif not self._due() and not self._stopping:
                    self._cond.wait(timeout=self._idle())
                self._woken = False
                if self._stopping:
                    return
            try:
                self.step()
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

    def _idle(self) -> float:
        """How long the thread waits for a wake-up: the poll interval, and short enough to
        renew a lease in time."""
        if self._lease is None:
            return self.poll_interval
        return min(self.poll_interval, self._lease.duration / 3)

    def stop(self, timeout: float = 5.0) -> None:
        worker = self._worker
        if worker is None:
            return
        if self.wake_on_commit:
            self.service.remove_listener(self.wake)
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        worker.join(timeout)
        self._worker = None
        self._fenced = worker.is_alive()  # a round still running stays fenced
        if self._lease is not None and self._lease.held is not None:
            try:
                self._lease.release()  # the next holder need not wait for it to expire
            except HolotwinError as exc:
                self.logger.warning("%s: could not release the lease '%s' (%s); another "
                                    "server takes it over when it expires", self.what,
                                    self._lease.name, exc.message)
        self._leading = None


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
