"""The demo's battery packs: holotwin's estimate follows the simulated truth, the remaining
time is predicted, and an empty pack is swapped and estimated afresh."""

from __future__ import annotations

from holotwin.clock import ManualClock
from holotwin.demo.batteries import BATTERY_MODEL, BatteryFleet
from holotwin.demo.plant import build_plant
from holotwin.service import TwinService
from holotwin.service.tracker import BehaviorTracker


def test_the_pack_estimate_follows_the_truth_and_a_swap_starts_it_afresh(
    service: TwinService, clock: ManualClock
) -> None:
    layout = build_plant(service, lines=2, machines_per_line=1)
    packs = BatteryFleet(service, [line.id for line in layout.lines], seed=3)
    packs.start()
    assert service.get_behavior_binding(BATTERY_MODEL)["behavior"] == "battery-circuit"
    assert [r["$targetId"] for r in service.list_relationships("battery-2")] == ["line-2"]
    tracker = BehaviorTracker(service)
    for _ in range(120):
        clock.advance(1.0)
        packs.tick()
        tracker.run_once()
    views = {v.twin_id: v for v in packs.views()}
    for view in views.values():
        assert view.soc is not None and view.soc_std is not None
        assert abs(view.soc - view.true_soc) < 0.02 + 3 * view.soc_std, view
        assert view.time_to_empty is not None and view.time_to_empty_low is not None
        assert view.time_to_empty_low <= view.time_to_empty <= (view.time_to_empty_high or 0)
    # run the first pack down: it is swapped, and its estimate starts again from full
    before = service.get_estimate("battery-1")["measurements"]
    for _ in range(3000):
        clock.advance(1.0)
        packs.tick()
        if packs.swaps["battery-1"]:
            break
    assert packs.swaps["battery-1"] == 1
    assert service.get_twin("battery-1")["swaps"] == 1
    clock.advance(1.0)
    packs.tick()
    tracker.run_once()
    after = service.get_estimate("battery-1")
    assert after["measurements"] < before  # a fresh estimate, from the readings after the swap
    assert after["derived"]["soc"] > 0.9
