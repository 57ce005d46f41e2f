"""The demo's injected faults raise real alerts through the analytics engine, and the KPIs show
the stop; before the faults nothing is raised."""

from __future__ import annotations

from holotwin.clock import ManualClock, from_iso
from holotwin.demo.analytics import DemoFault, ensure_demo_analytics
from holotwin.demo.batteries import BatteryFleet
from holotwin.demo.display import alert_lines
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import build_plant
from holotwin.service import TwinService
from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.tracker import BehaviorTracker


def test_injected_faults_raise_alerts_and_cost_availability(service: TwinService,
                                                             clock: ManualClock) -> None:
    layout = build_plant(service, 1, 3)
    fleet = DeviceFleet(service, layout)
    fleet.start()
    batteries = BatteryFleet(service, ["line-1"])
    batteries.start()
    ensure_demo_analytics(service)
    ensure_demo_analytics(service)  # idempotent, and a user's change would be kept
    assert len(service.list_rules()) == 3 and len(service.list_detectors()) == 1
    for machine in fleet.machines.values():  # only the injected fault stops a machine here
        machine.params = type(machine.params)(fault_rate=0.0, idle_rate=0.0)
    fault = DemoFault(service, fleet.machines, "line-1", "machine-1-2", batteries,
                      after=60.0, battery_after=20.0, refresh=1)
    tracker, engine = BehaviorTracker(service), AnalyticsEngine(service)
    start = clock.now()
    raised_at: dict[str, float] = {}
    for second in range(1, 301):
        clock.advance(1.0)
        fleet.tick()
        batteries.tick()
        fault.tick(float(second))
        tracker.run_once()
        engine.run_once()
        for alert in service.list_alerts():
            raised_at.setdefault(f"{alert['rule']}/{alert['twinId']}",
                                 from_iso(alert["raisedAt"]) - start)
        if second == 59:
            assert service.list_alerts() == [], "an alert before any fault"
            kpis_before = service.twin_kpis("line-1", start, clock.now(), depth=1)
    assert set(raised_at) == {"vibration-high/machine-1-2", "machine-stopped/machine-1-2",
                              "battery-model-mismatch/battery-1"}
    # the threshold rule fires before the trip, the stop rule 30 s into it
    assert 60 < raised_at["vibration-high/machine-1-2"] < raised_at[
        "machine-stopped/machine-1-2"] - 30
    assert 80 <= raised_at["battery-model-mismatch/battery-1"] < 140
    view = fault.view()
    assert view.status in ("tripped", "repaired")
    availability, oee = view.kpis["machine-1-2"]
    assert availability is not None and oee is not None and availability < 0.9
    assert kpis_before["kpis"]["availability"] == 1.0
    assert view.kpis["line-1"][0] is not None and view.kpis["line-1"][0] < 1.0
    lines = alert_lines(view)
    assert lines[0].startswith("fault: ") and "KPIs over the last 5 min" in lines[-1]
