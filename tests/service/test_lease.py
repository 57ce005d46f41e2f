"""Leases: of the servers on one store, one runs the analytics engine; both stores (a second
store object on the same database stands for a second server), stepped by hand on a manual
clock. The threaded version with webhooks is in tests/ingest/test_notify.py."""

from __future__ import annotations

import doctest
from collections.abc import Iterator
from typing import Any

import pytest

from holotwin.clock import ManualClock
from holotwin.errors import InvalidInputError
from holotwin.service import TwinService, lease
from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.lease import LEASE, Lease, LeaseLostError
from holotwin.store import Store
from tests.conftest import reopen

OVEN = "dtmi:test:Oven;1"
T0 = 1_700_000_000.0


@pytest.fixture
def servers(any_service: TwinService, clock: ManualClock
            ) -> Iterator[tuple[TwinService, TwinService]]:
    """Two services on one store, the second with its own store object (another server)."""
    any_service.add_models([{"@id": OVEN, "@type": "Interface",
                             "@context": "dtmi:dtdl:context;3", "contents": [
                                 {"@type": "Telemetry", "name": "temperature",
                                  "schema": "double"}]}])
    any_service.put_twin("oven-1", {"$metadata": {"$model": OVEN}})
    any_service.put_rule("hot", {"condition": "temperature > 80", "clear": "temperature < 75",
                                 "model": OVEN, "severity": "critical"})
    other = TwinService(reopen(any_service.store), clock)
    yield any_service, other
    other.close()


def feed(service: TwinService, values: list[float], t0: float) -> None:
    for k, v in enumerate(values):
        service.publish_telemetry("oven-1", {"temperature": v}, source_time=t0 + k)


def raised(service: TwinService) -> list[dict[str, Any]]:
    return [a for a in service.list_alerts() if a["rule"] == "hot"]


def test_the_module_examples_run() -> None:
    assert doctest.testmod(lease).failed == 0


def test_a_lease_has_one_holder_until_it_expires_or_is_released(
        store: Store, clock: ManualClock) -> None:
    other = reopen(store)
    try:
        a = Lease(store, clock, "analytics", "a")
        b = Lease(other, clock, "analytics", "b")
        assert a.hold() and not b.hold()
        assert b.status() == {"name": "analytics", "holder": "b", "holding": False,
                              "heldBy": "a", "expires": "2023-11-14T22:13:35.000000Z"}
        clock.advance(4.0)  # renewed only once a third of its 15 s has passed
        assert a.hold() and store.get_document(LEASE, "analytics")["renewed"] == T0
        clock.advance(2.0)
        assert a.hold() and store.get_document(LEASE, "analytics")["expires"] == T0 + 21.0
        clock.advance(14.9)
        assert not b.hold()
        clock.advance(0.2)  # a stopped renewing: its lease expired
        assert b.hold() and b.replaced is not None and b.replaced["holder"] == "a"
        assert not a.hold() and a.status()["heldBy"] == "b"
        with pytest.raises(LeaseLostError), store.transaction() as tx:  # a's writes: none
            tx.put_document("rule-state", "x", {"lost": True}, clock.now())
            a.check(tx)
        assert store.get_document("rule-state", "x") is None
        a.release()  # not a's: nothing happens
        assert not a.hold()
        b.release()  # a clean stop: the next holder takes it at once
        assert store.get_document(LEASE, "analytics") is None
        assert a.hold() and a.replaced is None
        with pytest.raises(InvalidInputError, match="positive"):
            Lease(store, clock, "x", duration=0)
    finally:
        other.close()


def test_of_two_engines_one_does_rounds_and_the_alert_is_raised_once(
        servers: tuple[TwinService, TwinService]) -> None:
    one, two = servers
    a, b = AnalyticsEngine(one), AnalyticsEngine(two)
    assert a.step() and not b.step()
    feed(one, [70, 90], T0)
    feed(two, [95], T0 + 2)  # written through either server
    for _ in range(3):
        assert a.step() and not b.step()
    assert b.rounds == 0 and a.raised == 1
    assert [x["state"] for x in raised(one)] == ["raised"]
    mine, theirs = a.status(), b.status()
    assert mine["rounds"] == 4 and mine["lease"]["holding"] is True
    assert theirs["rounds"] == 0 and theirs["lease"]["holding"] is False
    assert theirs["lease"]["heldBy"] == mine["lease"]["holder"] != theirs["lease"]["holder"]


def test_a_holder_that_stops_renewing_is_replaced(
        servers: tuple[TwinService, TwinService], clock: ManualClock) -> None:
    one, two = servers
    a, b = AnalyticsEngine(one), AnalyticsEngine(two)
    assert a.step() and not b.step()
    feed(one, [70, 90], T0)  # a does not come back to it: it hangs, or died
    clock.advance(15.0)
    assert b.step()  # took over; its first round starts from what is stored
    assert b.raised == 1 and len(raised(two)) == 1
    assert not a.step()  # a is back: it lost the lease and stands by
    feed(one, [70], T0 + 2)
    assert b.step() and not a.step()
    assert [x["state"] for x in raised(one)] == ["cleared"] and a.raised == 0


def test_a_holder_paused_past_its_lease_writes_nothing(
        servers: tuple[TwinService, TwinService], clock: ManualClock) -> None:
    """The new holder's clock is ahead: to the old one (paused in a round, say) its lease
    still looks valid, but its write checks the lease in the store and is refused."""
    one, _ = servers
    ahead = ManualClock(clock.now() + 16.0)
    two = TwinService(reopen(one.store), ahead)
    try:
        a, b = AnalyticsEngine(one), AnalyticsEngine(two)
        assert a.step()
        assert b.step()  # to b, a's lease has expired
        feed(one, [70, 90], T0)
        with pytest.raises(LeaseLostError):
            a.run_once()  # a's next round, as if it had been running
        assert raised(one) == [] and a.raised == 1  # counted, not written
        assert b.step() and b.raised == 1 and len(raised(one)) == 1
        assert not a.step()  # and a stands by
    finally:
        two.close()


def test_an_engine_without_a_lease_and_run_once_ignore_it(
        servers: tuple[TwinService, TwinService]) -> None:
    one, two = servers
    a, b = AnalyticsEngine(one), AnalyticsEngine(two, lease=None)
    assert a.step() and b.step()  # b opted out: it runs whoever holds the lease
    assert b.status()["lease"] is None
    assert AnalyticsEngine(two).run_once() == 1  # a round by hand takes no lease
    stored = one.store.get_document(LEASE, "analytics")
    assert stored is not None and stored["holder"] == a.status()["lease"]["holder"]
