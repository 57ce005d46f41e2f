"""Leases in the store: work that must run on one server at a time (:class:`Lease`).

A lease is the document ``("lease", name)``: ``{"holder", "acquired", "renewed",
"expires"}``, times in epoch seconds of the service's clock. :meth:`Lease.hold` takes a lease
that is free, released or expired, and renews one its holder has once a third of its duration
has passed; both are compare-and-set writes
(:meth:`~holotwin.store.Transaction.compare_and_set_document`), so of several servers racing
for a lease exactly one gets it. A holder that stops renewing (it died, or lost the store)
loses the lease when it expires; :meth:`Lease.release` frees it at once (a clean stop).

A holder's writes check the lease in their own transaction (:meth:`Lease.check`), so a holder
that was paused past the expiry (and replaced meanwhile) commits nothing. Servers compare
``expires`` with their own clocks, which must agree to well within the lease's duration.

>>> from holotwin.clock import ManualClock
>>> from holotwin.store import SqliteStore
>>> store, clock = SqliteStore(":memory:"), ManualClock(100.0)
>>> a, b = Lease(store, clock, "analytics", "a"), Lease(store, clock, "analytics", "b")
>>> a.hold(), b.hold()
(True, False)
>>> clock.advance(15.0)          # a did not renew: its lease expired
>>> b.hold(), a.hold()
(True, False)
>>> b.release(); a.hold()
True
>>> store.close()
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

from holotwin.clock import Clock, to_iso
from holotwin.errors import HolotwinError, InvalidInputError
from holotwin.store.base import Store, Transaction

__all__ = ["LEASE", "Lease", "LeaseLostError", "holder_id"]

LEASE = "lease"


class LeaseLostError(HolotwinError):
    """Another holder has the lease ``name`` now (``holder``: who, when known)."""

    code = "LeaseLost"

    def __init__(self, name: str, holder: str | None = None) -> None:
        by = f" (held by {holder})" if holder else ""
        super().__init__(f"Lost the lease '{name}'{by}")
        self.name = name
        self.holder = holder


def holder_id() -> str:
    """A holder id that names the host and process: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Lease:
    """The lease ``name`` in ``store`` as ``holder`` sees it (see the module docs);
    ``duration`` in seconds."""

    def __init__(self, store: Store, clock: Clock, name: str, holder: str | None = None,
                 duration: float = 15.0) -> None:
        if not duration > 0:
            raise InvalidInputError(f"A lease's duration must be positive, got {duration!r}")
        self.store = store
        self.clock = clock
        self.name = name
        self.holder = holder or holder_id()
        self.duration = float(duration)
        #: the document this holder wrote last, while it has the lease; the document read
        #: last (whoever holds it); the other holder's document a take replaced
        self.held: dict[str, Any] | None = None
        self.seen: dict[str, Any] | None = None
        self.replaced: dict[str, Any] | None = None

    def hold(self, take: bool = True) -> bool:
        """Renew the lease if this holder has it and a third of its time has passed, or take
        it if it is free or expired (only with ``take``); whether this holder has it now."""
        now = self.clock.now()
        held = self.held
        if held is not None and now < held["renewed"] + self.duration / 3:
            return True
        current = self.store.get_document(LEASE, self.name)
        mine = current is not None and current.get("holder") == self.holder
        if current is not None and not mine and now < float(current.get("expires", 0.0)):
            self.held, self.seen = None, current
            return False
        if not take and not mine:
            self.held, self.seen = None, current
            return False
        acquired = current.get("acquired", now) if current is not None and mine else now
        new = {"holder": self.holder, "acquired": acquired, "renewed": now,
               "expires": now + self.duration}
        with self.store.transaction() as tx:
            won = tx.compare_and_set_document(LEASE, self.name, current, new, now)
        if not won:  # another holder got there first
            self.held, self.seen = None, self.store.get_document(LEASE, self.name)
            return False
        if held is None:
            self.replaced = current if current is not None and not mine else None
        self.held = self.seen = new
        return True

    def check(self, tx: Transaction) -> None:
        """Inside a write transaction: raise :class:`LeaseLostError` (the transaction then
        writes nothing) unless this holder has the lease, unexpired; the lease stays locked
        until the transaction ends, so nobody takes it meanwhile."""
        held = self.held
        now = self.clock.now()
        if held is None or now >= held["expires"] or not tx.compare_and_set_document(
                LEASE, self.name, held, held, now):
            self.held = None
            raise LeaseLostError(self.name)

    def release(self) -> None:
        """Give the lease up (if this holder has it): another holder can take it at once."""
        held, self.held = self.held, None
        if held is None:
            return
        with self.store.transaction() as tx:
            tx.compare_and_set_document(LEASE, self.name, held, None, self.clock.now())
        self.seen = None

    def status(self) -> dict[str, Any]:
        """Who holds the lease, as this holder saw it last (no store access)."""
        seen = self.seen
        return {"name": self.name, "holder": self.holder, "holding": self.held is not None,
                "heldBy": seen.get("holder") if seen else None,
                "expires": to_iso(float(seen["expires"])) if seen else None}
