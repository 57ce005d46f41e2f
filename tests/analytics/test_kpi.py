"""KPIs from history (core): status times, counters with resets and gaps, energy, OEE, rollup
of a line and a plant, and the configuration; every expected value worked out by hand."""

from __future__ import annotations

import doctest
import math
import re

import pytest

from holotwin.analytics import kpi
from holotwin.analytics.kpi import (
    FIGURES,
    counter_increase,
    ideal_count,
    integrate,
    integrate_held,
    parse_kpi_config,
    rollup,
    status_times,
    twin_figures,
)
from holotwin.errors import InvalidInputError


def test_doctests() -> None:
    results = doctest.testmod(kpi, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 10 and results.failed == 0


# status ------------------------------------------------------------------------------------
HISTORY = [  # 0-1000 s, the twin created at 100 s in a fault carried over from its install
    (0.0, 100.0, None), (100.0, 150.0, "fault"), (150.0, 400.0, "running"),
    (400.0, 450.0, "fault"), (450.0, 470.0, "estop"),  # one fault, two fault states
    (470.0, 600.0, "running"), (600.0, 700.0, "idle"), (700.0, 800.0, "maintenance"),
    (800.0, 950.0, "running"), (950.0, 1000.0, "fault"),
]


def test_status_times_by_hand() -> None:
    t = status_times(HISTORY, 0.0, 1000.0, fault_states=("fault", "estop"))
    assert t.observed == 900.0
    assert t.running == 250.0 + 130.0 + 150.0
    assert t.down == 50.0 + 70.0 + 50.0
    assert t.planned_stop == 0.0 and t.planned == 900.0
    assert t.run_time == 900.0 - 170.0  # idle and maintenance are run time unless planned
    assert t.availability == pytest.approx(730.0 / 900.0)
    # faults starting at 100 (the twin appears in it), 400 (fault then estop: one), 950
    assert t.failures == 3
    assert t.repairs == 2 and t.repair_time == 50.0 + 70.0  # the one at 950 is still on
    assert t.mtbf == pytest.approx(530.0 / 3)
    assert t.mttr == pytest.approx(60.0)


def test_planned_stops_leave_planned_time() -> None:
    t = status_times(HISTORY, 0.0, 1000.0, fault_states=("fault", "estop"),
                     planned_states=("maintenance",))
    assert t.planned_stop == 100.0 and t.planned == 800.0
    assert t.run_time == 630.0 and t.availability == pytest.approx(630.0 / 800.0)


def test_a_window_cuts_spells_and_a_fault_at_its_start_is_not_a_failure() -> None:
    t = status_times(HISTORY, 420.0, 900.0, fault_states=("fault", "estop"))
    assert t.observed == 480.0 and t.down == 50.0
    assert t.failures == 0
    # the fault going on at 420 ended at 470: one repair, as long as the window shows it...
    assert t.repairs == 1 and t.repair_time == 50.0
    # ... or as long as it was, when the caller knows when it began
    assert status_times(HISTORY, 420.0, 900.0, fault_states=("fault", "estop"),
                        fault_since=400.0).repair_time == 70.0


def test_no_failures_no_mtbf_no_status_no_availability() -> None:
    t = status_times([(0.0, 100.0, "running")], 0.0, 100.0)
    assert t.mtbf is None and t.mttr is None and t.availability == 1.0
    empty = status_times([(0.0, 100.0, None)], 0.0, 100.0)
    assert empty.observed == 0.0 and empty.availability is None


# counters ----------------------------------------------------------------------------------
def test_counter_resets_count_from_zero() -> None:
    c = counter_increase([0.0, 10.0, 20.0, 30.0, 40.0], [1000, 1010, 3, 3, 8], 0.0, 50.0)
    assert c.count == 10 + 3 + 0 + 5 and c.resets == 1 and c.readings == 5


def test_counter_edges_count_in_proportion_and_long_gaps_at_edges_are_left_out() -> None:
    # 100 parts from -50 to 50: half of them in the window; 100 more from 150 to 250
    c = counter_increase([-50.0, 50.0, 150.0, 250.0], [0, 100, 100, 200], 0.0, 200.0,
                         max_gap=300.0)
    assert c.count == pytest.approx(50 + 0 + 50) and c.unbridged == 0
    # the same with a largest gap of 60 s: neither edge step is bridged, the inner one is
    c = counter_increase([-50.0, 50.0, 150.0, 250.0], [0, 100, 120, 200], 0.0, 200.0,
                         max_gap=60.0)
    assert c.count == pytest.approx(20.0) and c.unbridged == 2
    # a long step inside the window still counts in full: a counter loses nothing in a gap
    assert counter_increase([0.0, 5000.0], [0, 70], 0.0, 6000.0, max_gap=60.0).count == 70


def test_counter_skips_what_is_not_a_number() -> None:
    c = counter_increase([0.0, 1.0, 2.0, 3.0], [1, None, math.nan, 4], 0.0, 10.0)
    assert c.count == 3 and c.readings == 2


# energy ------------------------------------------------------------------------------------
def test_trapezoid_with_edges_cut_and_a_gap_not_bridged() -> None:
    # 0 -> 20 kW over 0..100 s (a ramp), 20 kW to 200 s, no reading 200..800, 10 kW after
    times = [0.0, 100.0, 200.0, 800.0, 900.0]
    power = [0.0, 20.0, 20.0, 10.0, 10.0]
    e = integrate(times, power, 50.0, 850.0, max_gap=300.0)
    # 50..100 under the ramp: (10 + 20) / 2 * 50; 100..200: 20 * 100; 800..850: 10 * 50
    assert e.value == pytest.approx(750.0 + 2000.0 + 500.0)
    assert e.covered == 50.0 + 100.0 + 50.0 and e.gaps == 1
    bridged = integrate(times, power, 50.0, 850.0, max_gap=1000.0)
    assert bridged.value == pytest.approx(3250.0 + 15.0 * 600.0) and bridged.gaps == 0


def test_no_reading_no_energy() -> None:
    assert integrate([], [], 0.0, 10.0, max_gap=60.0).covered == 0.0
    one = integrate([5.0], [3.0], 0.0, 10.0, max_gap=60.0)
    assert one.value == 0.0 and one.covered == 0.0


def test_a_held_power_integrates_as_held() -> None:
    e = integrate_held([(0.0, 3600.0, 2.5), (3600.0, 7200.0, "off")], 1800.0, 7200.0)
    assert e.value == 2.5 * 1800.0 and e.covered == 1800.0


# ideal count and figures -------------------------------------------------------------------
def test_ideal_count_follows_the_rate_over_run_time() -> None:
    status = [(0.0, 600.0, "running"), (600.0, 660.0, "fault"), (660.0, 900.0, "idle"),
              (900.0, 1200.0, "break")]
    rates = [(0.0, 300.0, 60.0), (300.0, 800.0, 30.0), (800.0, 1200.0, None)]
    # 300 s at 1/s, 300 s at 0.5/s, 140 s at 0.5/s, 100 s of idle with no rate known
    ideal, unknown = ideal_count(status, rates, 0.0, 1200.0, planned_states=("break",))
    assert ideal == pytest.approx(300 + 150 + 70) and unknown == pytest.approx(100.0)
    fixed, none = ideal_count(status, rates, 0.0, 1200.0, planned_states=("break",),
                              ideal_cycle_time=4.0)
    assert fixed == pytest.approx(840.0 / 4.0) and none == 0.0
    # a setpoint of 0 makes nothing
    assert ideal_count([(0.0, 10.0, "running")], [(0.0, 10.0, 0)], 0.0, 10.0) == (0.0, 0.0)


def test_figures_of_a_machine() -> None:
    t = status_times([(0.0, 3000.0, "running"), (3000.0, 3600.0, "fault")], 0.0, 3600.0)
    f, notes = twin_figures(t, total=2000.0, good=1900.0, ideal=2500.0, energy=50.0,
                            output_energy=40.0)
    assert set(f) == set(FIGURES) and notes == []
    assert f["availability"] == pytest.approx(3000 / 3600)
    assert f["performance"] == pytest.approx(0.8) and f["quality"] == pytest.approx(0.95)
    assert f["oee"] == pytest.approx(3000 / 3600 * 0.8 * 0.95)
    assert f["netRunTime"] == pytest.approx(2400.0)
    assert f["fullyProductiveTime"] == pytest.approx(2280.0)
    assert f["scrap"] == 100.0 and f["energyPerPart"] == pytest.approx(0.025)
    assert f["efficiency"] == pytest.approx(0.8)


def test_figures_without_parts_rate_or_run_time() -> None:
    down = status_times([(0.0, 100.0, "fault")], 0.0, 100.0)
    f, _ = twin_figures(down, total=0.0, ideal=0.0)
    assert f["availability"] == 0.0 and f["performance"] is None and f["oee"] == 0.0
    assert f["quality"] is None  # no part: no quality
    up = status_times([(0.0, 100.0, "running")], 0.0, 100.0)
    f, _ = twin_figures(up, total=0.0, ideal=100.0)
    assert f["performance"] == 0.0 and f["oee"] == 0.0
    f, _ = twin_figures(up, total=10.0, ideal=None)  # no rate known: no performance
    assert f["performance"] is None and f["oee"] is None and f["quality"] == 1.0
    f, _ = twin_figures(up)
    assert f["oee"] is None and f["total"] is None and f["availability"] == 1.0
    f, notes = twin_figures(up, total=10.0, good=12.0, ideal=10.0)
    assert f["good"] == 10.0 and f["quality"] == 1.0 and "12 good parts of 10" in notes[0]
    f, _ = twin_figures(None, total=10.0, energy=2.0)
    assert f["availability"] is None and f["oee"] is None and f["energyPerPart"] == 0.2


# rollup ------------------------------------------------------------------------------------
def _machine(spells: list[tuple[float, float, str]], total: float, ideal: float,
             energy: float | None = None) -> dict[str, float | None]:
    f, _ = twin_figures(status_times(spells, 0.0, 1000.0), total=total, ideal=ideal,
                        energy=energy)
    return f


def test_rollup_of_a_line_and_a_plant() -> None:
    # line 1: m1 up 900 s (fault 100-200), 720 of 900 ideal parts; m2 up all along, 500 of
    # 1000; line 2: m3 up 500 s (fault 500-1000, repaired never), 500 of 500 (P = 1)
    m1 = _machine([(0.0, 100.0, "running"), (100.0, 200.0, "fault"),
                   (200.0, 1000.0, "running")], 720.0, 900.0, energy=3.0)
    m2 = _machine([(0.0, 1000.0, "running")], 500.0, 1000.0, energy=1.0)
    m3 = _machine([(0.0, 500.0, "running"), (500.0, 1000.0, "fault")], 500.0, 500.0)
    line = rollup([m1, m2])
    assert line["twins"] == 2
    assert line["availability"] == pytest.approx(1900 / 2000)
    assert line["failures"] == 1 and line["mtbf"] == pytest.approx(1900.0)
    assert line["repairs"] == 1 and line["mttr"] == pytest.approx(100.0)
    # net run times 720 and 500, planned 1000 each: OEE weighted by production time
    assert line["performance"] == pytest.approx(1220 / 1900)
    assert line["oee"] == pytest.approx(1220 / 2000)
    assert line["oee"] == pytest.approx(line["availability"] * line["performance"]
                                        * line["quality"])
    assert line["total"] == 1220.0 and line["energy"] == 4.0
    assert line["energyPerPart"] == pytest.approx(4.0 / 1220)
    plant = rollup([m1, m2, m3])
    assert plant["availability"] == pytest.approx(2400 / 3000)
    assert plant["failures"] == 2 and plant["mtbf"] == pytest.approx(2400 / 2)
    assert plant["mttr"] == pytest.approx(100.0)  # m3's fault is not repaired yet
    assert plant["oee"] == pytest.approx((720 + 500 + 500) / 3000)
    # energy per part only over the machines that have both
    assert plant["energyPerPart"] == pytest.approx(4.0 / 1220)
    assert plant["efficiency"] is None and plant["performanceUncapped"] is None


def test_rollup_leaves_out_what_no_twin_knows() -> None:
    empty, _ = twin_figures(None)
    g = rollup([empty, empty])
    assert g["twins"] == 2 and all(g[k] is None for k in FIGURES)


# configuration -----------------------------------------------------------------------------
def test_default_configuration_fits_the_demo_machine() -> None:
    c = parse_kpi_config(None)
    assert c == parse_kpi_config({}) == parse_kpi_config(c)
    assert c["properties"] == {"status": "status", "rate": "speed"}
    assert c["runStates"] == ["running"] and c["faultStates"] == ["fault"]
    assert c["plannedStates"] == [] and c["idealCycleTime"] is None
    assert c["counters"] == {"total": "partsProduced", "good": None, "reject": None}
    assert c["energy"] == {"power": "power", "output": None, "unit": None, "maxGap": 300.0}
    assert c["relationships"] is None


@pytest.mark.parametrize(("raw", "message"), [
    ([], "a KPI configuration must be a JSON object"),
    ({"speed": "x"}, "Unknown member 'speed' of a KPI configuration"),
    ({"properties": {"state": "x"}}, "Unknown member 'state' of 'properties'"),
    ({"properties": {"status": ""}}, "properties.status must be a non-empty name"),
    ({"runStates": []}, "'runStates' must be a non-empty list"),
    ({"faultStates": "fault"}, "'faultStates' must be a list of non-empty strings"),
    ({"plannedStates": ["idle"], "faultStates": ["idle"]},
     "State 'idle' is in both faultStates and plannedStates"),
    ({"idealCycleTime": 0}, "'idealCycleTime' must be a positive number of seconds, got 0"),
    ({"idealCycleTime": True}, "'idealCycleTime' must be a positive number"),
    ({"counters": {"good": "ok", "reject": "bad"}}, "Set counters.good or counters.reject"),
    ({"counters": {"total": None, "good": "ok"}}, "need counters.total"),
    ({"counters": {"total": 3}}, "counters.total must be a non-empty name or null, got 3"),
    ({"energy": {"unit": "kWh"}}, "energy.unit 'kWh' is not a power unit"),
    ({"energy": {"maxGap": -1}}, "energy.maxGap must be a positive number of seconds"),
    ({"energy": {"power": None, "output": "out"}}, "energy.output needs energy.power"),
    ({"relationships": [1]}, "'relationships' must be a list of non-empty strings"),
])
def test_bad_configurations_say_what_is_wrong(raw: object, message: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(message)):
        parse_kpi_config(raw)
