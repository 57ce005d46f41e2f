"""Behaviors bound to twins: estimates follow telemetry, predictions and calibration per twin,
on both stores."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from holotwin.behaviors import BatteryCircuit
from holotwin.errors import InvalidInputError, NotFoundError
from holotwin.service import TwinService
from holotwin.service.tracker import BehaviorTracker

CELL = "dtmi:test:Cell;1"
PACK = "dtmi:test:Pack;1"
T0 = 1_700_000_000.0
MODELS: list[dict[str, Any]] = [
    {"@id": CELL, "@type": "Interface", "@context": "dtmi:dtdl:context;3", "contents": [
        {"@type": "Telemetry", "name": "current", "schema": "double"},
        {"@type": "Telemetry", "name": "voltage", "schema": "double"},
        {"@type": "Telemetry", "name": "temperature", "schema": "double"}]},
    {"@id": PACK, "@type": "Interface", "@context": "dtmi:dtdl:context;3", "extends": CELL},
]
BINDING: dict[str, Any] = {
    "behavior": "battery-circuit",
    "inputs": {"i": "current"},
    "outputs": {"t": "temperature", "v": "voltage"},
    "initialStd": {"qb": 400.0, "tb": 1.0},
    "measurementNoise": {"t": 0.04, "v": 1e-4},
    "prediction": {"every": 60, "horizon": 7200, "dt": 10},
}


def simulate(seconds: int, current: float = 2.0, seed: int = 1,
             start: np.ndarray | None = None) -> tuple[list[dict[str, float]], np.ndarray]:
    """Readings once a second from a BatteryCircuit under a constant load, with noise."""
    cell = BatteryCircuit()
    rng = np.random.default_rng(seed)
    x = cell.initial_state() if start is None else start
    readings = []
    for _ in range(seconds):
        x = cell.next_state(x, np.array([[current]]), 1.0)
        t, v = cell.output(x)[0]
        readings.append({"current": current, "voltage": float(v + rng.normal(0, 0.01)),
                         "temperature": float(t + rng.normal(0, 0.2))})
    return readings, x


def true_eod(x: np.ndarray, current: float) -> float:
    """Seconds until the noise-free cell in state ``x`` is empty under ``current``."""
    cell = BatteryCircuit()
    seconds = 0
    while not cell.threshold_met(x)[0, 0]:
        x = cell.next_state(x, np.array([[current]]), 1.0)
        seconds += 1
    return float(seconds)


def feed(service: TwinService, twin_id: str, readings: list[dict[str, float]], t0: float) -> None:
    for k, values in enumerate(readings):
        service.publish_telemetry(twin_id, values, source_time=t0 + k + 1)


@pytest.fixture
def cells(any_service: TwinService) -> TwinService:
    any_service.add_models(MODELS)
    any_service.put_behavior_binding(CELL, BINDING)
    for twin_id, model in (("c1", CELL), ("c2", PACK)):
        any_service.put_twin(twin_id, {"$metadata": {"$model": model}})
    return any_service


def test_a_binding_is_checked_and_stored(cells: TwinService) -> None:
    doc = cells.get_behavior_binding(CELL)
    assert doc["behavior"] == "battery-circuit" and doc["estimator"] == "unscented"
    bad = [({**BINDING, "behavior": "warp-drive"}, "Unknown behavior 'warp-drive'"),
           ({**BINDING, "inputs": {}}, "missing i"),
           ({**BINDING, "outputs": {"x": "y"}}, "'x' is not one of t, v"),
           ({**BINDING, "parameters": {"qMax": "big"}}, "parameters.qMax must be a finite"),
           ({**BINDING, "estimator": "magic"}, "estimator must be one of"),
           ({**BINDING, "prediction": {"dt": 0}}, "prediction.dt must be positive"),
           ({**BINDING, "colour": 1}, "Unknown member 'colour'")]
    for raw, message in bad:
        with pytest.raises(InvalidInputError, match=message):
            cells.put_behavior_binding(CELL, raw)
    with pytest.raises(NotFoundError):
        cells.put_behavior_binding("dtmi:test:Nope;1", BINDING)
    assert cells.binding_for(PACK) is not None  # inherited through extends
    assert cells.binding_for(PACK)[0] == CELL  # type: ignore[index]


def test_estimates_follow_the_telemetry_and_converge(cells: TwinService) -> None:
    readings, truth = simulate(600)
    feed(cells, "c1", readings[:300], T0)
    assert cells.update_estimates(["c1"]) == 1
    first = cells.get_estimate("c1")
    assert first["measurements"] == 300 and first["t"] == T0 + 300
    feed(cells, "c1", readings[300:], T0 + 300)
    assert cells.update_estimates(["c1", "c2"]) == 1  # c2 has no readings yet
    est = cells.get_estimate("c1")
    assert est["measurements"] == 600 and est["t"] == T0 + 600
    cell = BatteryCircuit()
    true_soc = float(cell.derive(truth)[0, 0])
    assert abs(est["derived"]["soc"] - true_soc) < 0.03, (est["derived"], true_soc)
    qb = est["states"].index("qb")
    assert abs(est["mean"][qb] - truth[0, 1]) < 3 * est["std"][qb] + 1.0
    # the twin shows its estimate, and the history has it
    twin = cells.get_twin("c1", with_telemetry=True)
    shown = twin["$metadata"]["$telemetry"]
    assert shown["estimate.soc"]["value"] == pytest.approx(est["derived"]["soc"])
    eod = shown["timeToEvent.EOD"]["value"]
    assert eod == pytest.approx(true_eod(truth, 2.0), rel=0.02)
    assert len(cells.telemetry_history("c1", "estimate.qb", 0, math.inf)) == 2
    # every measurement leaves its normalized innovation, about N(0, 1) once the filter has
    # settled, since the readings come from the model itself
    for output in ("t", "v"):
        residuals = cells.telemetry_history("c1", f"residual.{output}", 0, math.inf)
        assert [p.time for p in residuals] == [T0 + k for k in range(1, 601)]
        settled = np.array([p.value for p in residuals[100:]])
        assert 0.5 < float(np.mean(settled**2)) < 2.0, output
    # nothing new: nothing to do
    assert cells.update_estimates(["c1"]) == 0


def test_predictions_for_one_twin_and_a_fleet(cells: TwinService) -> None:
    readings, truth = simulate(120)
    feed(cells, "c1", readings, T0)
    feed(cells, "c2", simulate(120, current=3.0, seed=2)[0], T0)
    cells.update_estimates(["c1", "c2"])
    out = cells.predict_twins(["c1", "c2"], horizon=7200, dt=10, samples=100)
    hold = out["c1"]["timeOfEvent"]["EOD"]
    assert hold["reached"] == 1.0
    assert hold["mean"] == pytest.approx(true_eod(truth, 2.0), rel=0.02)
    assert out["c2"]["timeOfEvent"]["EOD"]["mean"] < hold["mean"]  # 3 A empties it sooner
    p = hold["percentiles"]
    assert p["p5"] <= p["p50"] <= p["p95"]
    assert len(out["c1"]["times"]) == len(out["c1"]["outputs"]["v"]["mean"])
    heavier = cells.predict_twins(["c1"], horizon=7200, dt=10, samples=100,
                                  load={"times": [], "values": [[4.0]]})
    assert heavier["c1"]["timeOfEvent"]["EOD"]["mean"] < hold["mean"] / 1.5
    with pytest.raises(InvalidInputError, match=r"load\.values"):
        cells.predict_twins(["c1"], horizon=100, load={"values": [[1.0, 2.0]]})
    cells.put_twin("bare", {"$metadata": {"$model": CELL}})
    with pytest.raises(NotFoundError, match="no estimate"):
        cells.predict_twins(["bare"], horizon=100)


def test_calibration_to_a_twins_own_history(cells: TwinService) -> None:
    """A cell with more series resistance than the default: fitting Rs to its history
    recovers it, and its estimates use it from then on."""
    cell = BatteryCircuit(Rs=0.09)
    rng = np.random.default_rng(3)
    x = cell.initial_state()
    for k in range(400):
        current = 1.0 if (k // 50) % 2 else 3.0
        x = cell.next_state(x, np.array([[current]]), 1.0)
        t, v = cell.output(x)[0]
        cells.publish_telemetry("c1", {"current": current, "voltage": float(v + rng.normal(0, 0.002)),
                                       "temperature": float(t)}, source_time=T0 + k + 1)
    fit = cells.fit_twin_behavior("c1", ["Rs"], T0, T0 + 1000)
    assert fit["success"] and fit["parameters"]["Rs"] == pytest.approx(0.09, rel=0.05), fit
    cells.update_estimates(["c1"])
    assert cells.get_estimate("c1")["parameters"] == {"Rs": pytest.approx(fit["parameters"]["Rs"])}
    with pytest.raises(InvalidInputError, match="at least 3"):
        cells.fit_twin_behavior("c2", ["Rs"], T0, T0 + 10)


def test_reset_and_the_tracker(cells: TwinService) -> None:
    tracker = BehaviorTracker(cells)
    feed(cells, "c1", simulate(30)[0], T0)
    assert tracker.run_once() == 1  # the first round updates every bound twin
    assert cells.get_estimate("c1")["measurements"] == 30
    feed(cells, "c2", simulate(20)[0], T0)
    assert tracker.run_once() == 1  # only c2 has new readings
    assert tracker.run_once() == 0  # its own estimate.* readings do not wake it
    cells.reset_estimate("c1")
    with pytest.raises(NotFoundError, match="no estimate yet"):
        cells.get_estimate("c1")
    feed(cells, "c1", simulate(5)[0], T0 + 100)
    tracker.run_once()
    assert cells.get_estimate("c1")["measurements"] == 5


def test_a_reset_during_an_update_wins(cells: TwinService, monkeypatch: pytest.MonkeyPatch
                                       ) -> None:
    """The demo swaps a pack while the server's tracker may be updating it: the reset must not
    be overwritten by an estimate of the old pack."""
    from holotwin.service import estimating

    feed(cells, "c1", simulate(10)[0], T0)
    cells.update_estimates(["c1"])
    feed(cells, "c1", simulate(5)[0], T0 + 10)
    real = estimating.Update._write

    def reset_first(self: estimating.Update, *args: Any, **kwargs: Any) -> int:
        cells.reset_estimate("c1")  # lands while the update is computed
        return real(self, *args, **kwargs)

    monkeypatch.setattr(estimating.Update, "_write", reset_first)
    assert cells.update_estimates(["c1"]) == 0
    with pytest.raises(NotFoundError, match="no estimate yet"):
        cells.get_estimate("c1")
