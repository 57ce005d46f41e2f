"""BuildingZone against the analytic solution of its linear ODE and its steady state."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import BuildingZone

CI, CE, RIE, REA = 2e6, 2e7, 0.002, 0.01


def _analytic(x0: np.ndarray, u: np.ndarray, times: np.ndarray) -> np.ndarray:
    """T(t) = T_ss + exp(A t) (T0 - T_ss) for the two temperatures under constant input, at
    each of ``times``: ``(len(times), 2)``."""
    a = np.array([[-1 / (CI * RIE), 1 / (CI * RIE)],
                  [1 / (CE * RIE), -1 / (CE * RIE) - 1 / (CE * REA)]])
    q = u[0] + 5.0 * u[2] + u[3]
    steady = np.array([u[1] + (RIE + REA) * q, u[1] + REA * q])
    rates, vectors = np.linalg.eig(a)  # exp(A t) = V diag(exp(λ t)) V⁻¹
    modes = np.linalg.solve(vectors, x0 - steady)
    return np.asarray(steady + (np.exp(np.outer(times, rates)) * modes) @ vectors.T)


def test_steady_state_is_the_series_resistance_balance() -> None:
    zone = BuildingZone()
    u = np.array([[1500.0, 268.15, 200.0, 400.0]])
    q = 1500.0 + 5.0 * 200.0 + 400.0
    steady = zone.steady_state(u)[0]
    assert steady[0] == pytest.approx(268.15 + (RIE + REA) * q, rel=1e-14)
    assert steady[1] == pytest.approx(268.15 + REA * q, rel=1e-14)
    x = zone.initial_state()
    for _ in range(480):
        x = zone.next_state(x, u, 7200.0)  # 2-hour steps, 40 days: 16 slow τ
    np.testing.assert_allclose(x[0, :2], steady[:2], atol=1e-5)
    # and the derivative of the temperatures is zero there
    np.testing.assert_allclose(zone.dx(zone.steady_state(u), u)[0, :2], 0.0, atol=1e-15)


def test_rk4_follows_the_exponential_solution_with_fourth_order_error() -> None:
    zone = BuildingZone()
    x0 = np.array([291.0, 289.0])
    u = np.array([2500.0, 270.15, 150.0, 300.0])
    worst = {}
    for dt in (60.0, 300.0, 900.0):
        steps = int(2 * 86400.0 / dt)
        states = zone.simulate(np.array([*x0, 0.0]), u, dt, steps)[:, 0, :]
        analytic = _analytic(x0, u, dt * np.arange(steps + 1))
        worst[dt] = float(np.max(np.abs(states[:, :2] - analytic)))
        assert states[-1, 2] == pytest.approx(2500.0 * dt * steps, rel=1e-12)
    # two days: ~1e-9 K at 1-min steps, ~1e-4 K at 15-min steps, error ∝ dt⁴ between
    assert worst[60.0] < 2e-9 and worst[300.0] < 1e-6 and worst[900.0] < 1e-4
    for small, large in [(60.0, 300.0), (300.0, 900.0)]:
        order = np.log(worst[large] / worst[small]) / np.log(large / small)
        assert 3.8 < order < 4.3


def test_hvac_energy_counts_heating_and_cooling() -> None:
    zone = BuildingZone()
    x = zone.next_state(zone.initial_state(), np.array([[-1500.0, 303.15, 0.0, 0.0]]), 3600.0)
    x = zone.next_state(x, np.array([[1000.0, 303.15, 0.0, 0.0]]), 1800.0)
    assert zone.output(x)[0, 1] == pytest.approx(1500.0 * 3600 + 1000.0 * 1800, rel=1e-12)


def test_comfort_band_event() -> None:
    zone = BuildingZone()
    temps = np.array([296.15, 293.15, 299.15, 292.15, 300.15])
    x = np.column_stack([temps, temps, np.zeros(5)])
    np.testing.assert_allclose(zone.event_state(x)[:, 0], [1.0, 0.0, 0.0, -1 / 3, -1 / 3],
                               atol=1e-12)
    assert zone.threshold_met(x)[:, 0].tolist() == [False, True, True, True, True]
    operative = zone.derive(np.array([[296.15, 290.15, 0.0]]))
    assert operative[0, 0] == pytest.approx(293.15, rel=1e-15)


def test_an_unheated_zone_leaves_the_band_when_the_analytic_solution_does() -> None:
    zone = BuildingZone()
    x0 = np.array([295.15, 295.15])
    u = np.array([0.0, 268.15, 0.0, 0.0])
    grid = np.arange(0.0, 86400.0, 60.0)
    analytic = _analytic(x0, u, grid)[:, 0]
    exit_time = grid[np.argmax(analytic <= 293.15)]
    x, t = np.array([[*x0, 0.0]]), 0.0
    while not zone.threshold_met(x)[0, 0]:
        x = zone.next_state(x, u[None, :], 60.0)
        t += 60.0
    assert t == exit_time
