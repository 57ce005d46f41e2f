"""The machine simulation: deterministic with a seed, physical enough, follows its setpoint."""

from __future__ import annotations

import itertools
import random

import pytest

from holotwin.demo.devices import MachineParameters, MachineReading, SimulatedMachine

STEADY = MachineParameters(fault_rate=0.0, idle_rate=0.0)


def _run(seed: int, steps: int = 50, dt: float = 1.0) -> list[tuple[MachineReading, str, float]]:
    m = SimulatedMachine(random.Random(seed), start=100.0, speed=60.0)
    out = []
    for i in range(1, steps + 1):
        reading = m.step(100.0 + i * dt)
        out.append((reading, m.status, m.parts))
    return out


def test_a_seed_makes_a_run_repeatable() -> None:
    assert _run(3) == _run(3)
    assert _run(3) != _run(4)


def test_follows_the_target_speed_by_ramping_and_stops_exactly_on_it() -> None:
    m = SimulatedMachine(random.Random(0), start=0.0, speed=60.0, parameters=STEADY)
    m.set_target_speed(75.0)
    speeds = []
    for t in (0.25, 0.5, 0.75, 1.0, 2.0):
        m.step(t)
        speeds.append(m.speed)
    assert speeds == [65.0, 70.0, 75.0, 75.0, 75.0]  # 20 parts/min per second
    assert m.at_target
    m.set_target_speed(40.0)
    m.step(3.0)
    assert m.speed == 55.0 and not m.at_target


def test_target_speed_is_clamped_to_what_the_machine_can_do() -> None:
    m = SimulatedMachine(random.Random(0), start=0.0, speed=60.0)
    m.set_target_speed(-10.0)
    assert m.target_speed == 0.0
    m.set_target_speed(1e6)
    assert m.target_speed == m.params.max_speed


def test_makes_parts_and_hours_only_while_running() -> None:
    m = SimulatedMachine(random.Random(0), start=0.0, speed=60.0, parameters=STEADY)
    for t in range(1, 61):
        m.step(float(t))
    assert m.parts == pytest.approx(60.0)
    assert m.run_hours == pytest.approx(60 / 3600)
    idle = SimulatedMachine(random.Random(0), start=0.0, speed=60.0, status="idle",
                            parameters=MachineParameters(resume_rate=0.0))
    idle.step(60.0)
    assert idle.parts == 0.0 and idle.run_hours == 0.0 and idle.status == "idle"


def test_warms_up_with_load_and_cools_when_idle() -> None:
    p = MachineParameters(fault_rate=0.0, idle_rate=0.0, temperature_noise=0.0)
    m = SimulatedMachine(random.Random(0), start=0.0, speed=100.0, temperature=22.0, parameters=p)
    readings = [m.step(float(t)) for t in range(1, 601)]
    temps = [r.temperature for r in readings]
    assert all(b >= a for a, b in itertools.pairwise(temps))
    assert temps[-1] == pytest.approx(p.ambient + p.heating, abs=0.2)  # 10 time constants
    assert 3.0 < readings[-1].vibration < 4.0 and 11.5 < readings[-1].power < 13.0
    m.status = "idle"
    m.params = MachineParameters(resume_rate=0.0, temperature_noise=0.0)
    cooled = m.step(660.0)
    assert cooled.temperature < temps[-1] - 10


def test_faults_and_recovers() -> None:
    p = MachineParameters(fault_rate=1.0, idle_rate=0.0, mean_repair_time=5.0)
    m = SimulatedMachine(random.Random(2), start=0.0, speed=60.0, parameters=p)
    statuses = []
    for t in range(1, 200):
        reading = m.step(t * 0.5)
        statuses.append(m.status)
        if m.status == "fault":
            assert reading.vibration > 0 and m.load == 0.0 and m.production_rate == 0.0
    assert "fault" in statuses
    first = statuses.index("fault")
    assert "running" in statuses[first:]


def test_time_never_runs_backwards() -> None:
    m = SimulatedMachine(random.Random(0), start=10.0, speed=60.0, parameters=STEADY)
    m.step(5.0)
    assert m.t == 10.0 and m.parts == 0.0


def test_rejects_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="Unknown machine status 'broken'"):
        SimulatedMachine(random.Random(0), start=0.0, speed=60.0, status="broken")
