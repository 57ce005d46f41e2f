"""The demo's what-if: the first line with its bottleneck maintained now or at the next
shift, compared with paired intervals, and the best slot; nothing live is changed."""

from __future__ import annotations

from holotwin.clock import ManualClock
from holotwin.demo.display import whatif_lines
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import build_plant
from holotwin.demo.whatif import DemoWhatIf
from holotwin.service import TwinService


def test_the_what_if_compares_maintenance_now_and_at_the_next_shift(
        service: TwinService, clock: ManualClock) -> None:
    fleet = DeviceFleet(service, build_plant(service, 1, 3))
    fleet.start()
    for _ in range(120):  # two minutes of history
        clock.advance(1.0)
        fleet.tick()
    etags = {t: service.get_twin(t)["$etag"] for t in ("line-1", "machine-1-1",
                                                        "machine-1-2", "machine-1-3")}
    whatif = DemoWhatIf(service, "line-1", after=60.0, horizon=1800.0, duration=300.0,
                        next_shift=900.0, slot_every=300.0, replications=3)
    whatif.tick(30.0)
    assert whatif.view().status == "waiting" and not whatif.wait(0.01)
    whatif.tick(120.0)
    assert whatif.wait(120.0)
    view = whatif.view()
    assert view.status == "done", view.message
    base, now, later = view.rows
    assert base.vs_baseline is None and base.name == "line-1: as is"
    slowest = min(("machine-1-1", "machine-1-2", "machine-1-3"),
                  key=lambda t: service.get_twin(t)["speed"])
    assert base.bottleneck == slowest and slowest in now.name
    # 300 s of the bottleneck's output lost, less what the buffers and the repair save
    rate = service.get_twin(slowest)["speed"] / 60.0
    for row in (now, later):
        assert row.vs_baseline is not None and row.vs_low is not None
        assert -300 * rate * 1.1 < row.vs_baseline < -300 * rate * 0.6
        assert row.vs_low <= row.vs_baseline <= (row.vs_high or 0.0)
    assert [start for start, _ in view.best_slots] != [] and len(view.best_slots) == 3
    assert {s["id"] for s in service.list_scenarios()} >= set(view.scenario_ids)
    assert len(service.list_optimizations()) == 1
    lines = whatif_lines(view)
    assert lines[0].startswith("what-if: machine-1-") and "vs as is" in lines[2]
    assert "best slots for maintenance:" in lines[-1]
    assert {t: service.get_twin(t)["$etag"] for t in etags} == etags  # nothing live changed


def test_stopping_the_demo_cuts_the_what_if_short(service: TwinService) -> None:
    build_plant(service, 1, 2)
    whatif = DemoWhatIf(service, "line-1", after=0.0, horizon=4 * 3600.0, replications=20)
    whatif.tick(1.0)
    whatif.stop(timeout=60.0)
    assert whatif.done and whatif.view().status == "stopped"
