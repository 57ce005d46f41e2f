"""RotatingMachine against ISO 281's L10 life, its damage law in closed form and its heat
balance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holotwin.behaviors import RotatingMachine

RPM_1000 = 2 * math.pi * 1000 / 60


def test_rating_life_is_iso_281_l10() -> None:
    machine = RotatingMachine()
    life = machine.rating_life(np.array([3000.0, 6000.0]), np.array([RPM_1000, RPM_1000]))
    # L10h = 10⁶ / (60 n) (C / P)^p hours
    assert life[0] / 3600 == pytest.approx(1e6 / (60 * 1000) * 10.0**3, rel=1e-12)
    assert life[0] / life[1] == pytest.approx(8.0, rel=1e-12)
    roller = RotatingMachine(life_exponent=10 / 3)
    assert roller.rating_life(np.array([3000.0]), np.array([RPM_1000]))[0] / 3600 == \
        pytest.approx(1e6 / 60e3 * 10.0 ** (10 / 3), rel=1e-12)
    idle = machine.rating_life(np.array([0.0, 3000.0]), np.array([RPM_1000, 0.0]))
    assert np.isinf(idle).all()


@pytest.mark.parametrize("eps", [0.01, 0.1])
def test_damage_follows_its_closed_form_and_fails_at_l10(eps: float) -> None:
    machine = RotatingMachine(initial_defect=eps)
    life = float(machine.rating_life(np.array([3000.0]), np.array([RPM_1000]))[0])
    x = np.array([[RPM_1000, 293.15, 0.0]])
    u = np.array([[RPM_1000, 3000.0, 293.15]])
    steps = 100
    for k in range(1, steps + 1):
        x = machine.next_state(x, u, life / steps)
        t = k * life / steps
        expected = eps * (math.exp(t * math.log1p(1 / eps) / life) - 1)
        assert x[0, 2] == pytest.approx(expected, rel=1e-10)
        if k < steps:
            assert not machine.threshold_met(x)[0, 0]
    assert machine.event_state(x)[0, 0] == pytest.approx(0.0, abs=1e-10)  # D = 1 at L10
    assert machine.threshold_met(machine.next_state(x, u, 1e-6 * life))[0, 0]


def test_speed_and_damage_are_exact_whatever_the_step() -> None:
    machine = RotatingMachine(load_rating=5000.0)  # a short life, so damage moves
    u = np.array([[RPM_1000, 3000.0, 293.15]])
    one = machine.next_state(np.array([[0.0, 293.15, 0.2]]), u, 30.0)
    many = np.array([[0.0, 293.15, 0.2]])
    for _ in range(300):
        many = machine.next_state(many, u, 0.1)
    assert one[0, 0] == pytest.approx(RPM_1000 * (1 - math.exp(-30.0 / 5.0)), rel=1e-14)
    np.testing.assert_allclose(one[0, [0, 2]], many[0, [0, 2]], rtol=1e-11)


def test_temperature_settles_at_the_friction_heat_balance() -> None:
    machine = RotatingMachine(friction_growth=0.0)
    u = np.array([[RPM_1000, 3000.0, 293.15]])
    x = np.array([[RPM_1000, 293.15, 0.0]])
    for _ in range(100):
        x = machine.next_state(x, u, 1000.0)  # 50 thermal time constants
    friction_torque = 0.5 * 0.0015 * 3000.0 * 0.05  # M = μ P d / 2
    assert x[0, 1] == pytest.approx(293.15 + 2.0 * friction_torque * RPM_1000, rel=1e-12)
    # the temperature lag is exact at steady speed
    start = np.array([[RPM_1000, 293.15, 0.0]])
    after = machine.next_state(start, u, 2000.0)
    rise = 2.0 * friction_torque * RPM_1000
    assert after[0, 1] - 293.15 == pytest.approx(rise * (1 - math.exp(-1.0)), rel=1e-12)


def test_damage_raises_vibration_and_temperature() -> None:
    machine = RotatingMachine()
    ref = 50 * math.pi
    x = np.array([[ref, 320.0, 0.0], [ref, 320.0, 1.0], [2 * ref, 320.0, 1.0]])
    vibration = machine.output(x)[:, 2]
    np.testing.assert_allclose(vibration, [0.5, 20.5, 4 * 20.5], rtol=1e-12)
    assert machine.derive(x)[:, 0].tolist() == [1.0, 0.0, 0.0]
    u = np.array([[ref, 3000.0, 293.15]] * 2)
    hot = np.array([[ref, 293.15, 0.0], [ref, 293.15, 0.5]])
    for _ in range(50):
        hot = machine.next_state(hot, u, 1000.0)
    assert hot[1, 1] - 293.15 > 1.9 * (hot[0, 1] - 293.15)  # friction × (1 + 2 D) at D ≥ 0.5
