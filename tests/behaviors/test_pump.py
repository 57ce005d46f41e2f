"""CentrifugalPump against the affinity laws, its operating point and its wear law."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import CentrifugalPump


def _settle(pump: CentrifugalPump, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    for _ in range(5):  # 5 × 100 s: the lags (2 s, 1 s) have settled to machine precision
        x = pump.next_state(x, u, 100.0)
    return x


def test_affinity_laws_at_a_fixed_system_curve() -> None:
    pump = CentrifugalPump(static_head=0.0, wear_rate=0.0)
    speeds = np.array([75.0, 150.0])
    u = np.column_stack([speeds, [8800.0, 8800.0]])
    x = _settle(pump, np.zeros((2, 3)), u)
    flow, head, power = pump.output(x).T
    assert flow[1] / flow[0] == pytest.approx(2.0, rel=1e-12)
    assert head[1] / head[0] == pytest.approx(4.0, rel=1e-12)
    assert power[1] / power[0] == pytest.approx(8.0, rel=1e-12)
    efficiency = pump.efficiency(x)
    assert efficiency[1] == pytest.approx(efficiency[0], rel=1e-12)


def test_the_operating_point_is_where_pump_and_system_curves_meet() -> None:
    pump = CentrifugalPump(wear_rate=0.0)
    a, b, static = 1.7778e-3, 3200.0, 10.0
    for speed, k in [(150.0, 8800.0), (120.0, 5000.0), (150.0, 20000.0)]:
        x = _settle(pump, np.zeros((1, 3)), np.array([[speed, k]]))
        expected = np.sqrt((a * speed**2 - static) / (b + k))
        assert x[0, 1] == pytest.approx(expected, rel=1e-12)
        assert pump.head(x)[0] == pytest.approx(static + k * expected**2, rel=1e-12)


def test_default_best_efficiency_point() -> None:
    pump = CentrifugalPump()
    bep = np.array([[150.0, 0.05, 0.0]])
    assert pump.efficiency(bep)[0] == pytest.approx(0.80, abs=1e-3)
    around = np.array([[150.0, q, 0.0] for q in (0.04, 0.045, 0.055, 0.06)])
    assert np.all(pump.efficiency(around) < pump.efficiency(bep)[0])
    flow, head, power = pump.output(bep)[0]
    assert flow == 0.05
    assert head == pytest.approx(32.0, rel=1e-3)
    # electrical power = ρ g Q H / (η_pump η_motor)
    assert power == pytest.approx(1000 * 9.80665 * 0.05 * 32.0 / (0.8 * 0.93), rel=2e-3)


def test_speed_and_flow_follow_their_lags_exactly() -> None:
    pump = CentrifugalPump(wear_rate=0.0)
    u = np.array([[150.0, 8800.0]])
    t = 3.0
    x = pump.next_state(np.zeros((1, 3)), u, t)
    assert x[0, 0] == pytest.approx(150.0 * (1 - np.exp(-t / 2.0)), rel=1e-14)
    # at steady speed the flow is a pure first-order lag to its operating point
    target = float(pump.operating_flow(np.array([150.0]), np.zeros(1), np.array([8800.0]))[0])
    x = np.array([[150.0, 0.0, 0.0]])
    for _ in range(4):
        x = pump.next_state(x, u, 0.25)
    assert x[0, 1] == pytest.approx(target * (1 - np.exp(-1.0 / 1.0)), rel=1e-13)


def test_no_flow_when_the_pump_cannot_lift_the_static_head() -> None:
    pump = CentrifugalPump()
    x = _settle(pump, np.zeros((1, 3)), np.array([[70.0, 8800.0]]))  # 8.7 m shut-off < 10 m
    assert x[0, 1] == 0.0
    stopped = pump.output(np.zeros((1, 3)))[0]
    assert stopped.tolist() == [0.0, 0.0, 0.0] and pump.efficiency(np.zeros((1, 3)))[0] == 0.0


def test_wear_grows_with_the_cube_of_speed_and_reaches_its_limit() -> None:
    pump = CentrifugalPump()
    day = 86400.0
    x = np.array([[150.0, 0.05, 0.0], [300.0, 0.1, 0.0]])
    x1 = pump.next_state(x, np.array([[150.0, 8800.0], [300.0, 8800.0]]), day)
    assert x1[0, 2] == pytest.approx(1.5e-9 * day, rel=1e-12)
    assert x1[1, 2] == pytest.approx(8 * 1.5e-9 * day, rel=1e-12)
    life = 0.1 / 1.5e-9  # s to the wear limit at the reference speed
    x = np.array([[150.0, 0.05, 0.0]])
    u = np.array([[150.0, 8800.0]])
    just_before = pump.next_state(x, u, 0.999 * life)
    after = pump.next_state(x, u, 1.001 * life)
    assert not pump.threshold_met(just_before)[0, 0] and pump.threshold_met(after)[0, 0]
    assert pump.event_state(just_before)[0, 0] == pytest.approx(0.001, rel=1e-6)


def test_wear_lowers_head_flow_and_efficiency() -> None:
    pump = CentrifugalPump(wear_rate=0.0)
    u = np.array([[150.0, 8800.0], [150.0, 8800.0]])
    x = _settle(pump, np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 0.08]]), u)
    flow, head, _ = pump.output(x).T
    assert flow[1] < flow[0] and head[1] < head[0]
    efficiency = pump.efficiency(x)
    assert efficiency[1] < efficiency[0] - 0.02
    np.testing.assert_allclose(pump.derive(x), np.column_stack([efficiency, [1.0, 0.2]]),
                               rtol=1e-12)
