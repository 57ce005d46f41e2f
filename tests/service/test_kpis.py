"""KPIs of twins from a constructed history, rolled up the demo plant (machine -> line ->
plant), with configuration per model, on both stores. Every expected value is worked out by
hand from the history below."""

from __future__ import annotations

import re
from typing import Any

import pytest

from holotwin.clock import ManualClock, to_iso
from holotwin.demo.plant import LINE_MODEL, MACHINE_MODEL, build_plant
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.service import TwinService
from holotwin.service.history import held_since, property_spells, status_spells

C0 = 1_700_000_000.0  # the plant is built
T0 = C0 + 1000.0  # the window is [T0, T0 + 1 h)
END = T0 + 3600.0
PRESS = "dtmi:test:kpi:Press;1"
STORAGE = "dtmi:test:kpi:Storage;1"
MODELS: list[dict[str, Any]] = [
    {"@id": PRESS, "@type": "Interface", "@context": "dtmi:dtdl:context;3",
     "extends": MACHINE_MODEL, "contents": [
         {"@type": "Telemetry", "name": "strokes", "schema": "double"},
         {"@type": "Telemetry", "name": "goodStrokes", "schema": "double"}]},
    {"@id": STORAGE, "@type": "Interface",
     "@context": ["dtmi:dtdl:context;3", "dtmi:dtdl:extension:quantitativeTypes;1"],
     "contents": [
        {"@type": ["Telemetry", "Power"], "name": "chargePower", "schema": "double",
         "unit": "kilowatt"},
        {"@type": ["Telemetry", "Power"], "name": "dischargePower", "schema": "double",
         "unit": "watt"}]},
]


def _patch(service: TwinService, clock: ManualClock, at: float, twin: str,
           **values: Any) -> None:
    clock.set(at)
    service.patch_twin(twin, [{"op": "add", "path": f"/{k}", "value": v}
                              for k, v in values.items()])


@pytest.fixture
def plant(any_service: TwinService, clock: ManualClock) -> TwinService:
    """The demo plant with one line of two machines and this history:

    machine-1-1 (60 parts/min, 120 from T0 + 2000 s on), in the window: fault until 50 s (it
    began 100 s before the window), running, fault 1000-1100, running, idle 2000-2300,
    running, fault from 3000 on; parts 500 before the window, 900 at 500 s, 1300 at 1500 s,
    reset and 100 at 2500 s, 500 at 2900 s (1300 made); power 10 kW read every minute but
    none between 1800 and 2400 s.

    machine-1-2 (30 parts/min): running all along; parts 0, 800 at 1800 s, 1700 at 3599 s.
    """
    s = any_service
    clock.set(C0)
    build_plant(s, lines=1, machines_per_line=2)
    _patch(s, clock, C0, "machine-1-1", speed=60.0)
    _patch(s, clock, C0, "machine-1-2", speed=30.0)
    _patch(s, clock, T0 - 100, "machine-1-1", status="fault")
    _patch(s, clock, T0 - 10, "machine-1-1", partsProduced=500)
    for at, values in ((50, {"status": "running"}), (500, {"partsProduced": 900}),
                       (1000, {"status": "fault"}), (1100, {"status": "running"}),
                       (1500, {"partsProduced": 1300}),
                       (2000, {"status": "idle", "speed": 120.0}),
                       (2300, {"status": "running"}), (2500, {"partsProduced": 100}),
                       (2900, {"partsProduced": 500}), (3000, {"status": "fault"})):
        _patch(s, clock, T0 + at, "machine-1-1", **values)
    _patch(s, clock, T0 + 1800, "machine-1-2", partsProduced=800)
    _patch(s, clock, T0 + 3599, "machine-1-2", partsProduced=1700)
    for minute in range(-2, 62):
        if 1800 < minute * 60 < 2400:
            continue
        s.publish_telemetry("machine-1-1", {"power": 10.0}, source_time=T0 + minute * 60)
    clock.set(END + 600)
    return s


# machine-1-1 by hand: running 950 + 900 + 700 s, down 50 + 100 + 600 s, idle 300 s
M1_RUN_TIME = 3600.0 - 750.0
M1_IDEAL = 950 + 900 + 300 * 2 + 700 * 2  # parts/s: 1 until 2000 s, 2 after
M1_PERFORMANCE = 1300 / M1_IDEAL
M1_ENERGY = 10.0 * (3600 - 600) / 3600  # kWh: the 600 s gap is not bridged
M2_PERFORMANCE = 1700 / 1800


def _kpis(service: TwinService, twin: str, **options: Any) -> dict[str, Any]:
    return service.twin_kpis(twin, T0, END, **options)


def test_a_machine_by_hand(plant: TwinService) -> None:
    doc = _kpis(plant, "machine-1-1")
    assert doc["twinId"] == "machine-1-1" and doc["model"] == MACHINE_MODEL
    assert doc["start"] == to_iso(T0) and doc["end"] == to_iso(END)
    assert doc["children"] == [] and "own" not in doc
    k = doc["kpis"]
    assert k["observedTime"] == 3600.0 and k["plannedTime"] == 3600.0
    assert k["runningTime"] == pytest.approx(2550.0)
    assert k["downTime"] == pytest.approx(750.0)
    assert k["runTime"] == pytest.approx(M1_RUN_TIME)
    assert k["availability"] == pytest.approx(M1_RUN_TIME / 3600)
    assert k["failures"] == 2  # at 1000 s and 3000 s; the first was going on already
    # repairs: the fault that began before the window (150 s in all) and the one of 100 s
    assert k["repairs"] == 2 and k["repairTime"] == pytest.approx(250.0)
    assert k["mtbf"] == pytest.approx(2550.0 / 2) and k["mttr"] == pytest.approx(125.0)
    assert k["total"] == pytest.approx(1300.0)  # 400 + 400 + 100 (after the reset) + 400
    assert k["idealCount"] == pytest.approx(M1_IDEAL)
    assert k["performance"] == pytest.approx(M1_PERFORMANCE)
    assert k["quality"] == 1.0 and k["good"] is None
    assert k["oee"] == pytest.approx(M1_RUN_TIME / 3600 * M1_PERFORMANCE)
    assert k["energy"] == pytest.approx(M1_ENERGY)
    assert k["energyPerPart"] == pytest.approx(M1_ENERGY / 1300)
    notes = " | ".join(doc["notes"])
    assert "'partsProduced' was reset 1 time(s)" in notes
    assert "Quality taken as 1" in notes
    assert "'power' readings cover 3,000 s of 3,600 s" in notes


def test_a_line_and_the_plant_roll_up(plant: TwinService) -> None:
    line = _kpis(plant, "line-1")
    assert [c["twinId"] for c in line["children"]] == ["machine-1-1", "machine-1-2"]
    m2 = line["children"][1]["kpis"]
    assert m2["availability"] == 1.0 and m2["failures"] == 0 and m2["mtbf"] is None
    assert m2["total"] == 1700.0 and m2["performance"] == pytest.approx(M2_PERFORMANCE)
    assert m2["energy"] is None
    assert any("No 'power' readings" in n for n in line["children"][1]["notes"])
    assert line["own"]["availability"] is None  # the line twin has no status of its own
    k = line["kpis"]
    assert k["twins"] == 3
    assert k["availability"] == pytest.approx((M1_RUN_TIME + 3600) / 7200)
    assert k["failures"] == 2 and k["mtbf"] == pytest.approx((2550 + 3600) / 2)
    assert k["mttr"] == pytest.approx(125.0)
    assert k["total"] == pytest.approx(3000.0)
    net = M1_PERFORMANCE * M1_RUN_TIME + M2_PERFORMANCE * 3600
    assert k["performance"] == pytest.approx(net / (M1_RUN_TIME + 3600))
    assert k["oee"] == pytest.approx(net / 7200)
    assert k["energy"] == pytest.approx(M1_ENERGY)
    assert k["energyPerPart"] == pytest.approx(M1_ENERGY / 1300)  # only 1-1 has both
    whole = _kpis(plant, "plant")
    assert whole["children"][0]["twinId"] == "line-1"
    assert whole["kpis"]["twins"] == 4
    for key in ("availability", "mtbf", "mttr", "oee", "total", "energy"):
        assert whole["kpis"][key] == pytest.approx(k[key])


def test_depth_limits_the_rollup(plant: TwinService) -> None:
    alone = _kpis(plant, "plant", depth=0)
    assert alone["children"] == [] and alone["kpis"]["availability"] is None
    one = _kpis(plant, "plant", depth=1)
    assert [c["twinId"] for c in one["children"]] == ["line-1"]
    assert one["children"][0]["children"] == [] and one["kpis"]["twins"] == 2
    with pytest.raises(InvalidInputError, match="depth must be an integer from 0 to 10"):
        _kpis(plant, "plant", depth=11)


def test_planned_stops_from_the_configuration(plant: TwinService) -> None:
    doc = plant.put_kpi_config(MACHINE_MODEL, {"plannedStates": ["idle"]})
    assert doc["definedBy"] == MACHINE_MODEL and doc["config"]["plannedStates"] == ["idle"]
    k = _kpis(plant, "machine-1-1")["kpis"]
    assert k["plannedStopTime"] == 300.0 and k["plannedTime"] == 3300.0
    assert k["availability"] == pytest.approx((3300 - 750) / 3300)
    assert k["idealCount"] == pytest.approx(950 + 900 + 700 * 2)  # idle is not run time
    # a fixed ideal cycle time instead of the speed: 0.5 s a part
    plant.put_kpi_config(MACHINE_MODEL, {"idealCycleTime": 0.5})
    k = _kpis(plant, "machine-1-1")["kpis"]
    assert k["idealCount"] == pytest.approx(M1_RUN_TIME * 2)
    plant.delete_kpi_config(MACHINE_MODEL)
    assert plant.get_kpi_config(MACHINE_MODEL)["definedBy"] is None
    with pytest.raises(NotFoundError):
        plant.delete_kpi_config(MACHINE_MODEL)


def test_only_the_configured_relationships_lead_down(plant: TwinService) -> None:
    plant.put_kpi_config(LINE_MODEL, {"relationships": ["hasMachine"]})
    assert len(_kpis(plant, "line-1")["children"]) == 2
    plant.put_kpi_config("dtmi:holotwin:demo:Plant;1", {"relationships": []})
    assert _kpis(plant, "plant")["children"] == []


@pytest.mark.parametrize(("raw", "message"), [
    ({"relationships": ["feeds"]},
     "relationships: 'feeds' is not a relationship of dtmi:holotwin:demo:Line;1"),
    ({"counters": {"total": "parts"}},
     "counters.total 'parts' is not a property or telemetry of dtmi:holotwin:demo:Line;1"),
    ({"properties": {"status": "state"}},
     "properties.status 'state' is not a property of dtmi:holotwin:demo:Line;1"),
])
def test_a_configuration_names_only_what_its_model_has(plant: TwinService, raw: Any,
                                                       message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        plant.put_kpi_config(LINE_MODEL, raw)
    with pytest.raises(NotFoundError):
        plant.put_kpi_config("dtmi:test:Nope;1", {})


def test_telemetry_counters_with_a_good_counter_and_an_inherited_config(
        any_service: TwinService, clock: ManualClock) -> None:
    s = any_service
    clock.set(C0)
    build_plant(s, lines=1, machines_per_line=1)
    s.add_models(MODELS[:1])
    s.put_twin("press-1", {"$metadata": {"$model": PRESS}, "status": "running",
                           "speed": 60.0})
    # a config on the base model applies to the press until the press has its own
    s.put_kpi_config(MACHINE_MODEL, {"plannedStates": ["idle"]})
    assert s.get_kpi_config(PRESS)["definedBy"] == MACHINE_MODEL
    s.put_kpi_config(PRESS, {"counters": {"total": "strokes", "good": "goodStrokes"},
                             "energy": {"power": None, "maxGap": 120}})
    assert s.get_kpi_config(PRESS)["definedBy"] == PRESS
    # strokes once a second, read every 100 s from T0 - 100 s; reset to 0 at T0 + 1000 s
    # (the strokes since the reading before are lost: a reset counts from 0); a gap of 400 s
    # (> maxGap) across the window's end: that step is left out
    for at in range(-100, 3400, 100):
        strokes = float(at + 200 if at < 1000 else at - 1000)
        s.publish_telemetry("press-1", {"strokes": strokes, "goodStrokes": strokes * 0.9},
                            source_time=T0 + at)
    s.publish_telemetry("press-1", {"strokes": 2700.0, "goodStrokes": 2430.0},
                        source_time=END + 100)
    clock.set(END + 600)
    doc = s.twin_kpis("press-1", T0, END)
    k = doc["kpis"]
    # 0..900 s: 900 strokes; the reset at 1000 s: 0; 1000..3300 s: 2300; 3300..3700 left out
    assert k["total"] == pytest.approx(900 + 0 + 2300)
    assert k["good"] == pytest.approx(0.9 * 3200)
    assert k["quality"] == pytest.approx(0.9)
    assert k["plannedStopTime"] == 0.0  # the press's own config, not the machine's
    assert k["performance"] == pytest.approx(3200 / 3600)  # 60 parts/min: 3600 ideal
    assert k["oee"] == pytest.approx(3200 / 3600 * 0.9)
    notes = " | ".join(doc["notes"])
    assert "'strokes' was reset 1 time(s)" in notes
    assert "'strokes': 1 step(s) across the window's edges longer than 120 s left out" in notes
    assert "Quality taken as 1" not in notes


def test_efficiency_from_two_power_signals_in_their_own_units(
        any_service: TwinService, clock: ManualClock) -> None:
    s = any_service
    clock.set(C0)
    s.add_models(MODELS[1:])
    s.put_twin("storage-1", {"$metadata": {"$model": STORAGE}})
    s.put_kpi_config(STORAGE, {"energy": {"power": "chargePower",
                                          "output": "dischargePower"}})
    for minute in range(0, 61):
        s.publish_telemetry("storage-1", {"chargePower": 50.0, "dischargePower": 45_000.0},
                            source_time=T0 + minute * 60)
    clock.set(END)
    k = s.twin_kpis("storage-1", T0, END)["kpis"]
    assert k["energy"] == pytest.approx(50.0) and k["outputEnergy"] == pytest.approx(45.0)
    assert k["efficiency"] == pytest.approx(0.9)
    assert k["availability"] is None and k["oee"] is None  # no status, no counter
    watts = s.put_kpi_config(STORAGE, {"energy": {"power": "chargePower", "unit": "watt"}})
    assert watts["config"]["energy"]["unit"] == "watt"
    assert s.twin_kpis("storage-1", T0, END)["kpis"]["energy"] == pytest.approx(0.05)


def test_a_cycle_and_a_twin_reached_twice_count_once(service: TwinService,
                                                     plant_models: list[dict[str, Any]]
                                                     ) -> None:
    service.add_models(plant_models)
    line = "dtmi:test:Line;1"
    for twin in ("a", "b"):
        service.put_twin(twin, {"$metadata": {"$model": line}, "name": twin})
    service.put_twin("m", {"$metadata": {"$model": "dtmi:test:Machine;1"}, "serial": "m"})
    service.put_relationship("a", "a-b", {"$relationshipName": "feeds", "$targetId": "b"})
    service.put_relationship("b", "b-a", {"$relationshipName": "feeds", "$targetId": "a"})
    service.put_relationship("a", "a-m", {"$relationshipName": "contains", "$targetId": "m"})
    service.put_relationship("b", "b-m", {"$relationshipName": "contains", "$targetId": "m"})
    now = service.clock.now()
    doc = service.twin_kpis("a", now - 60, now, depth=10)
    assert doc["kpis"]["twins"] == 3
    # depth first: a -> b -> (a again, m), then a's own m again
    [b] = doc["children"]
    assert b["twinId"] == "b" and [c["twinId"] for c in b["children"]] == ["m"]
    assert any("'a' is counted once" in n for n in b["notes"])
    assert any("'m' is counted once" in n for n in doc["notes"])


def test_bad_windows_and_unknown_twins(plant: TwinService, clock: ManualClock) -> None:
    with pytest.raises(NotFoundError):
        plant.twin_kpis("nope", T0, END)
    with pytest.raises(InvalidInputError, match=r"'end' .* must be after 'start'"):
        plant.twin_kpis("machine-1-1", END, T0)
    with pytest.raises(InvalidInputError, match="finite"):
        plant.twin_kpis("machine-1-1", float("-inf"), END)
    now = clock.now()
    with pytest.raises(InvalidInputError, match="is in the future"):
        plant.twin_kpis("machine-1-1", now + 10, now + 20)
    # a window reaching past now ends now, and says so
    doc = plant.twin_kpis("machine-1-2", now - 600, now + 600)
    assert doc["end"] == to_iso(now) and "The window ends now" in doc["notes"][0]
    assert doc["kpis"]["observedTime"] == 600.0
    # by default: the hour up to now
    default = plant.twin_kpis("machine-1-2")
    assert default["start"] == to_iso(now - 3600) and default["end"] == to_iso(now)


def test_history_helpers(plant: TwinService) -> None:
    spells, cut = status_spells(plant.store, "machine-1-1", "status", T0, T0 + 1200)
    assert not cut
    assert [(a - T0, b - T0, v) for a, b, v in spells] == [
        (0, 50, "fault"), (50, 1000, "running"), (1000, 1100, "fault"),
        (1100, 1200, "running")]
    both, _ = property_spells(plant.store, "machine-1-1", ["status", "speed"], T0, END)
    assert both["status"] == status_spells(plant.store, "machine-1-1", "status", T0, END)[0]
    assert [v for _, _, v in both["speed"]] == [60.0, 120.0]
    since, deep = held_since(plant.store, "machine-1-1", "status", ("fault",), T0)
    assert since == T0 - 100 and not deep
    assert held_since(plant.store, "machine-1-1", "status", ("fault",), T0 + 500) == (
        None, False)
    # looking back at most 1 change: the start is not found, and it says so
    assert held_since(plant.store, "machine-1-1", "status", ("fault",), T0, 1) == (
        T0 - 10, True)
