"""WindTurbine against its power curve, its lags in closed form and its gearbox heat balance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from holotwin.behaviors import WindTurbine

AREA = math.pi * 40.0**2
RATED_WIND = (2 * 2e6 / (1.225 * AREA * 0.45)) ** (1 / 3)


def test_power_curve_at_cut_in_rated_and_cut_out() -> None:
    turbine = WindTurbine()
    assert turbine.rated_wind_speed()[0] == pytest.approx(RATED_WIND, rel=1e-14)
    assert RATED_WIND == pytest.approx(11.30, abs=0.01)
    winds = np.array([0.0, 2.999, 3.0, RATED_WIND, 15.0, 24.999, 25.0, 30.0])
    power = turbine.power_curve(winds)
    expected = [0.0, 0.0, 0.5 * 1.225 * AREA * 0.45 * 27.0, 2e6, 2e6, 2e6, 0.0, 0.0]
    np.testing.assert_allclose(power, expected, rtol=1e-12)
    # the cubic region: twice the wind, eight times the power
    assert turbine.power_curve(np.array([8.0]))[0] == \
        pytest.approx(8 * turbine.power_curve(np.array([4.0]))[0], rel=1e-12)


def test_rotor_speed_tracks_the_tip_speed_ratio_up_to_rated() -> None:
    turbine = WindTurbine()
    speeds = turbine.rotor_speed_target(np.array([2.0, 6.0, RATED_WIND, 20.0, 26.0]))
    rated = 8.0 * RATED_WIND / 40.0
    np.testing.assert_allclose(speeds, [0.0, 8.0 * 6.0 / 40.0, rated, rated, 0.0], rtol=1e-12)
    assert rated * 60 / (2 * math.pi) == pytest.approx(21.6, abs=0.05)  # rpm


def test_power_and_rotor_speed_lags_are_exact() -> None:
    turbine = WindTurbine()
    x = turbine.initial_state()
    u = np.array([[8.0, 288.15]])
    for _ in range(7):
        x = turbine.next_state(x, u, 1.0)
    target = turbine.power_curve(np.array([8.0]))[0]
    assert x[0, 0] == pytest.approx(target * (1 - math.exp(-7.0 / 5.0)), rel=1e-13)
    assert x[0, 1] == pytest.approx(1.6 * (1 - math.exp(-7.0 / 10.0)), rel=1e-13)


def test_gearbox_oil_settles_to_its_heat_balance_exponentially() -> None:
    turbine = WindTurbine()
    ambient = 288.15
    settled = ambient + (40.0 / 60e3) * 0.03 * 2e6  # T_a + R_th (1 - η) P
    assert settled - ambient == pytest.approx(40.0, rel=1e-12)
    assert turbine.derive(np.array([[2e6, 2.26, 300.0]]))[0, 0] == pytest.approx(60e3)
    tau = (40.0 / 60e3) * 7.5e6
    x = np.array([[2e6, 8.0 * RATED_WIND / 40.0, ambient]])  # already at rated power
    u = np.array([[15.0, ambient]])
    for k in range(1, 25):
        x = turbine.next_state(x, u, 600.0)
        expected = settled + (ambient - settled) * math.exp(-600.0 * k / tau)
        assert x[0, 2] == pytest.approx(expected, rel=1e-13)


def test_over_temperature_on_a_hot_day_at_the_analytic_time() -> None:
    turbine = WindTurbine()
    ambient = 318.15  # 45 °C: the oil would settle at 358.15 K, over the 353.15 K limit
    settled, tau, limit = ambient + 40.0, (40.0 / 60e3) * 7.5e6, 353.15
    crossing = -tau * math.log((limit - settled) / (ambient - settled))
    x = np.array([[2e6, 2.26, ambient]])
    u = np.array([[15.0, ambient]])
    t = 0.0
    while not turbine.threshold_met(x)[0, 0]:
        x = turbine.next_state(x, u, 10.0)
        t += 10.0
        assert t < 10 * tau
    assert crossing <= t < crossing + 10.0
    assert turbine.event_state(x)[0, 0] <= 0.0
    assert turbine.event_state(np.array([[0.0, 0.0, 293.15]]))[0, 0] == 1.0


def test_the_turbine_parks_above_cut_out_and_the_oil_cools() -> None:
    turbine = WindTurbine()
    x = np.array([[2e6, 2.26, 330.0]])
    for _ in range(100):
        x = turbine.next_state(x, np.array([[28.0, 288.15]]), 600.0)
    assert x[0, 0] == pytest.approx(0.0, abs=1e-6) and x[0, 1] == pytest.approx(0.0, abs=1e-9)
    assert x[0, 2] == pytest.approx(288.15, abs=1e-3)
