"""fit_parameters recovers known parameters from simulated, noisy records."""

from __future__ import annotations

import numpy as np
import pytest

from holotwin.behaviors import BatteryCircuit, Behavior, BuildingZone, fit_parameters
from holotwin.errors import InvalidInputError

Record = tuple[np.ndarray, np.ndarray, np.ndarray]  # times, inputs, outputs


def _record(model: Behavior, times: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Outputs at each time, inputs held from each sample to the next."""
    x, z = model.initial_state(), []
    for k in range(times.size):
        z.append(model.output(x)[0])
        if k + 1 < times.size:
            x = model.next_state(x, u[k:k + 1], float(times[k + 1] - times[k]))
    return np.array(z)


@pytest.fixture(scope="module")
def battery_record() -> Record:
    times = np.arange(0.0, 1800.0, 2.0)
    phase = (times // 120) % 3  # 2-minute blocks of 0.5 A, 3 A, 1.5 A
    current = np.choose(phase.astype(int), [0.5, 3.0, 1.5])[:, None]
    z = _record(BatteryCircuit(Rs=0.07, qMax=8100.0), times, current)
    rng = np.random.default_rng(7)
    z += rng.normal(0.0, [0.2, 0.005], z.shape)  # 0.2 K and 5 mV of sensor noise
    return times, current, z


@pytest.fixture(scope="module")
def zone_record() -> Record:
    times = np.arange(0.0, 4 * 86400.0, 900.0)  # four days every fifteen minutes
    rng = np.random.default_rng(3)
    heating = np.repeat(np.where(rng.random(times.size // 8 + 1) < 0.5, 3000.0, 0.0), 8)
    outdoor = 278.15 + 5.0 * np.sin(2 * np.pi * times / 86400.0)
    sun = np.clip(600.0 * np.sin(2 * np.pi * (times - 6 * 3600.0) / 86400.0), 0.0, None)
    u = np.column_stack([heating[:times.size], outdoor, sun, np.full(times.size, 300.0)])
    z = _record(BuildingZone(**ZONE_TRUTH), times, u)
    z[:, 0] += rng.normal(0.0, 0.05, times.size)
    z[:, 1] = np.nan  # no heat meter
    return times, u, z


ZONE_TRUTH = {"interior_resistance": 0.0025, "exterior_resistance": 0.013,
              "interior_capacity": 3e6, "envelope_capacity": 1.5e7}


def test_battery_series_resistance_and_charge(battery_record: Record) -> None:
    times, current, z = battery_record
    result = fit_parameters(BatteryCircuit, ["Rs", "qMax"], times, current, z)
    assert result.success, result.message
    assert result.values["Rs"] == pytest.approx(0.07, rel=0.01)
    assert result.values["qMax"] == pytest.approx(8100.0, abs=10.0)
    for name, true in [("Rs", 0.07), ("qMax", 8100.0)]:
        assert abs(result.values[name] - true) < 4 * result.stderr[name]
        assert 0 < result.stderr[name] < 0.01 * true
    assert result.rms["v"] == pytest.approx(0.005, rel=0.1)  # the noise, nothing more
    assert result.rms["t"] == pytest.approx(0.2, rel=0.1)
    assert float(result.behavior.p["Rs"][0]) == result.values["Rs"]


def test_building_resistances_and_capacities(zone_record: Record) -> None:
    times, u, z = zone_record
    result = fit_parameters(BuildingZone, list(ZONE_TRUTH), times, u, z,
                            bounds={name: (0.0, np.inf) for name in ZONE_TRUTH})
    assert result.success, result.message
    for name, true in ZONE_TRUTH.items():
        assert result.values[name] == pytest.approx(true, rel=0.02), name
        assert abs(result.values[name] - true) < 4 * result.stderr[name], name
    assert result.rms["temperature"] == pytest.approx(0.05, rel=0.15)
    assert np.isnan(result.rms["hvac_energy"])


def test_missing_measurements_are_left_out(battery_record: Record) -> None:
    times, current, z = battery_record
    gappy = z.copy()
    gappy[np.random.default_rng(1).random(gappy.shape) < 0.3] = np.nan
    result = fit_parameters(BatteryCircuit(Rs=0.05, qMax=8100.0), "Rs", times, current, gappy)
    assert result.values["Rs"] == pytest.approx(0.07, rel=0.02)
    assert np.isfinite(list(result.rms.values())).all()


def test_an_instance_gives_the_start_and_weights_can_silence_an_output(
        zone_record: Record) -> None:
    times, u, z = zone_record
    start = BuildingZone(**{**ZONE_TRUTH, "exterior_resistance": 0.02})
    result = fit_parameters(start, ["exterior_resistance"], times, u, z,
                            output_weights=[1.0, 0.0])
    assert result.values["exterior_resistance"] == pytest.approx(0.013, rel=0.005)


def test_bounds_hold(zone_record: Record) -> None:
    times, u, z = zone_record
    result = fit_parameters(BuildingZone(**ZONE_TRUTH), ["exterior_resistance"], times, u, z,
                            bounds={"exterior_resistance": (0.005, 0.011)})
    assert result.values["exterior_resistance"] == pytest.approx(0.011, rel=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    ({"names": ["Rz"]}, "battery-circuit has no parameter 'Rz'"),
    ({"names": []}, "at least one parameter"),
    ({"names": ["Rs", "Rs"]}, "repeat"),
    ({"times": np.arange(5.0)}, "one row per time"),
    ({"times": np.array([0.0, 2.0, 1.0, 3.0, 4.0, 5.0])}, "strictly increasing"),
    ({"inputs": np.ones((6, 2))}, r"inputs of battery-circuit must have one row per time \(6\)"),
    ({"inputs": np.ones(5)}, "one row per time"),
    ({"outputs": np.ones((6, 3))}, r"2 columns \(t, v\)"),
    ({"outputs": np.full((6, 2), np.nan)}, "no measurement"),
    ({"x0": [1.0, 2.0]}, "x0 of battery-circuit must be 4 finite values"),
    ({"bounds": {"Rp": (0.0, 1.0)}}, "not fitted"),
    ({"bounds": {"Rs": (1.0, 0.0)}}, "low < high"),
    ({"bounds": {"Rs": 1.0}}, "a pair"),
    ({"output_weights": [1.0]}, "output_weights of battery-circuit must be 2"),
    ({"output_weights": [0.0, 0.0]}, "not all zero"),
    ({"behavior": BatteryCircuit(Rs=[0.05, 0.06])}, "one asset at a time"),
    ({"behavior": "battery-circuit"}, "Behavior class or instance"),
    ({"behavior": dict}, "Behavior class or instance"),
])
def test_bad_input_is_refused_clearly(change: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "behavior": BatteryCircuit, "names": ["Rs"], "times": np.arange(6.0),
        "inputs": np.ones((6, 1)), "outputs": np.ones((6, 2)), "x0": None}
    args.update(change)
    with pytest.raises(InvalidInputError, match=message):
        fit_parameters(**args)  # type: ignore[arg-type]
