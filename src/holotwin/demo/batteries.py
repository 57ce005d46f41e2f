"""The demo's battery packs: assets with a behavior, whose state of charge and remaining time
holotwin estimates from their telemetry while the demo runs.

Each line has one pack (twin ``battery-<L>``, model ``Battery``, ``supplies`` the line). The
packs are simulated by the same equations holotwin estimates them with
(:class:`~holotwin.behaviors.BatteryCircuit`), but for a cell a tenth of the size of the default
18650 (so a discharge takes minutes, not an hour), under a load that changes every minute, with
sensor noise. The Battery model is bound to ``battery-circuit`` (an unscented Kalman filter and
a live time-to-event prediction), so the twin shows ``estimate.soc`` and
``timeToEvent.EOD`` next to its readings. When a pack is empty the demo swaps it for a charged
one and resets its estimate, as a maintenance system would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import numpy as np

from holotwin.behaviors import BatteryCircuit
from holotwin.errors import NotFoundError
from holotwin.service import TwinService

__all__ = ["BATTERY_BINDING", "BATTERY_MODEL", "BatteryFleet", "BatteryView", "battery_id",
           "small_cell"]

BATTERY_MODEL = "dtmi:holotwin:demo:Battery;1"
SCALE = 0.1  # the demo cell holds a tenth of the charge of ProgPy's 18650
_SCALED = ("qMax", "CMax", "Cbp0", "Cbp1", "Cbp2", "Cbp3")
VOLTAGE_STD = 0.01  # V
TEMPERATURE_STD = 0.2  # K


def battery_id(line: int) -> str:
    return f"battery-{line}"


def small_cell() -> dict[str, float]:
    """Parameters of the demo cell: charge and bulk capacitance scaled by ``SCALE``, so the
    voltage curve is the same against state of charge."""
    defaults = BatteryCircuit.parameters
    return {name: defaults[name].value * SCALE for name in _SCALED}


BATTERY_BINDING: dict[str, Any] = {
    "behavior": "battery-circuit",
    "inputs": {"i": "current"},
    "outputs": {"t": "temperature", "v": "voltage"},
    "parameters": small_cell(),
    "initial": {"qb": BatteryCircuit.parameters["qMax"].value * SCALE},
    "initialStd": {"qb": 40.0, "tb": 1.0},
    "estimator": "unscented",
    "processNoise": {"qb": 0.5, "tb": 0.01, "qcp": 0.01, "qcs": 0.01},
    "measurementNoise": {"t": TEMPERATURE_STD**2, "v": VOLTAGE_STD**2},
    "prediction": {"every": 5, "horizon": 3600, "dt": 5, "method": "unscented"},
}


@dataclass(frozen=True)
class BatteryView:
    """What the demo shows of a pack: its measured voltage and holotwin's estimates."""

    twin_id: str
    voltage: float
    current: float
    soc: float | None
    soc_std: float | None
    time_to_empty: float | None
    time_to_empty_low: float | None
    time_to_empty_high: float | None
    true_soc: float
    swaps: int


class BatteryFleet:
    """The simulated packs of a plant; ``tick()`` steps them to the clock's time."""

    def __init__(self, service: TwinService, line_ids: list[str], *, seed: int = 7) -> None:
        self.service = service
        self.cell = BatteryCircuit(**small_cell())
        self.rng = random.Random(f"{seed}:batteries")
        self.noise = np.random.default_rng(seed)
        self.twins = [battery_id(n) for n in range(1, len(line_ids) + 1)]
        self.line_ids = line_ids
        self.state: dict[str, np.ndarray] = {}
        self.load: dict[str, float] = {}
        self.swaps: dict[str, int] = {}
        self.last_t: float | None = None
        self._last: dict[str, tuple[float, float]] = {}
        #: packs with an injected fault simulate with their own cell (see degrade)
        self._cells: dict[str, BatteryCircuit] = {}

    def ensure(self) -> None:
        """The Battery model, its binding, and one pack per line (idempotent)."""
        from holotwin.demo.plant import demo_battery_model

        if self.service.registry.get(BATTERY_MODEL) is None:
            self.service.add_models([demo_battery_model()])
        try:
            self.service.get_behavior_binding(BATTERY_MODEL)
        except NotFoundError:
            self.service.put_behavior_binding(BATTERY_MODEL, BATTERY_BINDING)
        for n, (twin_id, line) in enumerate(zip(self.twins, self.line_ids, strict=True), 1):
            try:
                twin = self.service.get_twin(twin_id)
            except NotFoundError:
                twin = self.service.put_twin(twin_id, {
                    "$metadata": {"$model": BATTERY_MODEL}, "serial": f"PACK-{n:03d}",
                    "swaps": 0}).document
                self.service.put_relationship(
                    twin_id, f"{twin_id}-supplies-{line}",
                    {"$relationshipName": "supplies", "$targetId": line})
            self.swaps[twin_id] = int(twin.get("swaps", 0))

    def degrade(self, twin_id: str, resistance: float) -> None:
        """An injected fault: the pack's series resistance becomes ``resistance`` times what
        holotwin's model of it says (a failing cell connection), so its voltage sags more
        under load than the model expects. A swap brings a healthy pack."""
        if not resistance > 0:
            raise ValueError(f"The resistance factor must be positive, got {resistance}")
        base = BatteryCircuit.parameters["Rs"].value
        self._cells[twin_id] = BatteryCircuit(**small_cell(), Rs=base * resistance)

    def start(self) -> None:
        self.ensure()
        for twin_id in self.twins:
            self._swap(twin_id, reset=False)

    def _swap(self, twin_id: str, *, reset: bool = True) -> None:
        """A charged pack; holotwin starts its estimate afresh."""
        self.state[twin_id] = self.cell.initial_state()
        self.state[twin_id][0, 1] = BatteryCircuit.parameters["qMax"].value * SCALE
        self.load[twin_id] = self.rng.uniform(1.0, 3.0)
        self._cells.pop(twin_id, None)
        if reset:
            self.swaps[twin_id] += 1
            self.service.reset_estimate(twin_id)
            self.service.patch_twin(twin_id, [{"op": "add", "path": "/swaps",
                                               "value": self.swaps[twin_id]}])

    def tick(self) -> int:
        """Step every pack to now and send its readings; return the points stored."""
        t = self.service.clock.now()
        if self.last_t is None:
            self.last_t = t
        dt = t - self.last_t
        self.last_t = t
        points = 0
        for twin_id in self.twins:
            x = self.state[twin_id]
            cell = self._cells.get(twin_id, self.cell)
            if dt > 0:
                if self.rng.random() < dt / 60.0:  # the carts' duty changes about every minute
                    self.load[twin_id] = self.rng.uniform(1.0, 3.0)
                x = cell.next_state(x, np.array([[self.load[twin_id]]]), dt)
                self.state[twin_id] = x
            if bool(cell.threshold_met(x)[0, 0]):
                self._swap(twin_id)
                x = self.state[twin_id]
                cell = self.cell
            z = cell.output(x)[0]
            voltage = float(z[1] + self.noise.normal(0.0, VOLTAGE_STD))
            temperature = float(z[0] + self.noise.normal(0.0, TEMPERATURE_STD))
            self._last[twin_id] = (voltage, self.load[twin_id])
            points += self.service.publish_telemetry(
                twin_id, {"current": round(self.load[twin_id], 4),
                          "voltage": round(voltage, 4), "temperature": round(temperature, 3)},
                source_time=t)
        return points

    def views(self) -> list[BatteryView]:
        rows = []
        for twin_id in self.twins:
            voltage, current = self._last.get(twin_id, (float("nan"), 0.0))
            true_soc = float(self.cell.derive(self.state[twin_id])[0, 0])
            try:
                est = self.service.get_estimate(twin_id)
            except NotFoundError:
                est = {}
            soc = est.get("derived", {}).get("soc")
            qb = est.get("states", []).index("qb") if est.get("states") else None
            soc_std = (est["std"][qb] / self.cell.p["CMax"][0]) if qb is not None else None
            tte = est.get("timeToEvent", {}).get("EOD", {})
            rows.append(BatteryView(twin_id, voltage, current, soc, soc_std, tte.get("mean"),
                                    tte.get("p5"), tte.get("p95"), true_soc,
                                    self.swaps.get(twin_id, 0)))
        return rows
