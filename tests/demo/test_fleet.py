"""The demo plant and its devices against a real service on a manual clock (no waiting)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from holotwin.clock import ManualClock
from holotwin.demo import DemoOptions, DeviceFleet, build_plant, demo_models, run_demo
from holotwin.demo.plant import LINE_MODEL, MACHINE_MODEL, PLANT_MODEL
from holotwin.service import TwinService


def test_demo_models_ship_in_the_package(service: TwinService) -> None:
    docs = demo_models()
    assert {d["@id"] for d in docs} == {PLANT_MODEL, LINE_MODEL, MACHINE_MODEL}
    service.add_models(docs)
    machine = service.registry.require(MACHINE_MODEL)
    assert machine.properties["speed"].writable
    assert set(machine.telemetry) == {"temperature", "vibration", "power"}
    assert machine.telemetry["temperature"].unit == "degreeCelsius"


def test_build_plant_is_idempotent_and_grows(service: TwinService) -> None:
    first = build_plant(service, lines=1, machines_per_line=2)
    assert first.created == 4  # plant, line, two machines
    assert first.machine_ids == ["machine-1-1", "machine-1-2"]
    events = service.last_event_seq()
    again = build_plant(service, lines=1, machines_per_line=2)
    assert again.created == 0 and again.machine_ids == first.machine_ids
    assert service.last_event_seq() == events  # nothing written
    bigger = build_plant(service, lines=2, machines_per_line=3)
    assert bigger.created == 1 + 1 + 3  # line-2, machine-1-3, machine-2-1..3
    assert [r["$targetId"] for r in service.list_relationships("plant")] == ["line-1", "line-2"]
    assert len(service.list_relationships("line-2")) == 3
    assert service.list_twins(MACHINE_MODEL, limit=100)[0]["status"] == "running"


def _fleet(service: TwinService, machines: int = 2, report_every: int = 3) -> DeviceFleet:
    fleet = DeviceFleet(service, build_plant(service, 1, machines), report_every=report_every)
    fleet.start()
    return fleet


def test_ticks_send_telemetry_and_report_properties(
    service: TwinService, clock: ManualClock
) -> None:
    fleet = _fleet(service)
    start = clock.now()
    revision = service.get_twin("machine-1-1")["$metadata"]["$revision"]
    for _ in range(6):
        clock.advance(1.0)
        result = fleet.tick()
        assert result.telemetry_points == 2 * 3
    temps = service.telemetry_history("machine-1-1", "temperature", start, clock.now() + 1)
    assert len(temps) == 6 and temps[-1].time == clock.now()
    twin = service.get_twin("machine-1-1")
    assert twin["$metadata"]["$revision"] > revision
    assert twin["partsProduced"] > 0 and twin["runHours"] > 0
    assert service.get_twin("line-1")["throughput"] > 0
    views = {v.twin_id: v for v in fleet.views()}
    assert views["machine-1-1"].revision == twin["$metadata"]["$revision"]
    assert views["machine-1-1"].temperature == temps[-1].value


def test_a_device_follows_and_acknowledges_the_desired_speed(
    service: TwinService, clock: ManualClock
) -> None:
    fleet = _fleet(service, report_every=100)  # only the ack can report
    speed = service.get_twin("machine-1-2")["speed"]
    twin = service.set_desired("machine-1-2", {"speed": speed + 30})
    assert twin["$metadata"]["speed"]["ackCode"] == 202
    clock.advance(1.0)
    fleet.tick()
    assert fleet.machines["machine-1-2"].speed == speed + 20  # ramping
    view = next(v for v in fleet.views() if v.twin_id == "machine-1-2")
    assert view.desired_speed == speed + 30
    assert service.get_twin("machine-1-2")["speed"] == speed  # not reported while ramping
    clock.advance(1.0)
    fleet.tick()
    twin = service.get_twin("machine-1-2")
    meta = twin["$metadata"]["speed"]
    assert twin["speed"] == speed + 30
    assert meta["ackVersion"] == meta["desiredVersion"] == 1 and meta["ackCode"] == 200


def test_a_restarted_fleet_continues_from_the_twins(
    service: TwinService, clock: ManualClock
) -> None:
    fleet = _fleet(service, machines=1)
    for _ in range(30):
        clock.advance(1.0)
        fleet.tick()
    fleet.stop()
    parts = service.get_twin("machine-1-1")["partsProduced"]
    assert parts == int(fleet.machines["machine-1-1"].parts) > 0
    latest = {p.signal: p.value for p in service.latest_telemetry("machine-1-1")}
    again = _fleet(service, machines=1)
    assert again.machines["machine-1-1"].parts == parts
    temperature = latest["temperature"]
    assert temperature is not None and temperature > 22.0
    assert again.machines["machine-1-1"].temperature == temperature


def test_a_twin_deleted_through_the_api_drops_its_device(
    service: TwinService, clock: ManualClock
) -> None:
    fleet = _fleet(service)
    service.delete_relationship("line-1", "line-1-hasMachine-machine-1-2")
    service.delete_twin("machine-1-2")
    clock.advance(1.0)
    assert fleet.tick().telemetry_points == 3
    assert list(fleet.machines) == ["machine-1-1"]
    fleet.stop()


class _FakeTime:
    """Wall time that moves only when the runner sleeps; the service clock moves with it."""

    def __init__(self, clock: ManualClock, interrupt_after: int | None = None) -> None:
        self.now, self.clock, self.sleeps, self.interrupt_after = 0.0, clock, 0, interrupt_after

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.interrupt_after is not None and self.sleeps > self.interrupt_after:
            raise KeyboardInterrupt
        self.now += seconds
        self.clock.advance(seconds)

    def monotonic(self) -> float:
        return self.now


def test_run_demo_for_a_duration_prints_progress_and_a_summary(
    service: TwinService, clock: ManualClock
) -> None:
    out = io.StringIO()
    fake = _FakeTime(clock)
    summary = run_demo(service, DemoOptions(server=False, duration=12, interval=0.5),
                       Console(file=out, width=200), location="/data", sleep=fake.sleep,
                       monotonic=fake.monotonic)
    text = out.getvalue()
    assert summary.ticks == 24 and summary.elapsed == 12 and not summary.interrupted
    assert summary.telemetry_points == 24 * (4 * 3 + 3)  # machines and the battery pack
    assert summary.events == service.last_event_seq() - _setup_events(service)
    assert "not started (--no-server)" in text
    assert text.count("telemetry points, ") == 2  # a progress line at 5 s and at 10 s
    assert "Demo stopped after 12.0 s: 24 ticks" in text
    assert "The plant is kept in /data" in text
    assert text.count("  battery-1: ") == 2  # the pack's estimate with each progress line


def _setup_events(service: TwinService) -> int:
    """Events written while building the plant (before the demo counts)."""
    return len([e for e in service.read_events(0, 10_000)
                if e.kind in ("twin.created", "relationship.created")])


def test_ctrl_c_stops_the_demo_cleanly(service: TwinService, clock: ManualClock) -> None:
    out = io.StringIO()
    fake = _FakeTime(clock, interrupt_after=5)
    summary = run_demo(service, DemoOptions(server=False, interval=1.0), Console(file=out),
                       sleep=fake.sleep, monotonic=fake.monotonic)
    assert summary.interrupted and summary.ticks == 6
    assert "Demo stopped after 5.0 s: 6 ticks" in out.getvalue()
    # the devices reported their last state on the way out
    twin = service.get_twin("machine-1-1")
    assert twin["partsProduced"] == int(twin["speed"] / 60 * 5) > 0
    assert service.store.count_twins() == 7


@pytest.mark.parametrize("interval", [0.0, -1.0])
def test_demo_options_reject_a_bad_interval(interval: float) -> None:
    with pytest.raises(ValueError, match="interval must be positive"):
        DemoOptions(interval=interval)
