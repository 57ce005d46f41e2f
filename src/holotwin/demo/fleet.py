"""The demo's devices talking to holotwin: each tick, every simulated machine sends telemetry,
follows the desired speed set on its twin, and every few ticks reports its properties.

This is what a gateway in a plant does; here it calls :class:`TwinService` directly (the
``_follow_desired``, ``_send_telemetry`` and ``_send_report`` hooks; ``demo/broker.py`` overrides
them to talk MQTT instead). Time comes from the service's clock, so a manual clock drives it as
fast as a test wants.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from holotwin.demo.devices import MachineReading, SimulatedMachine
from holotwin.demo.plant import PlantLayout
from holotwin.errors import NotFoundError
from holotwin.service import TwinService

__all__ = ["DeviceFleet", "MachineView", "TickResult"]


@dataclass(frozen=True)
class MachineView:
    """What the demo shows of one machine: its simulated state and its twin's revision."""

    twin_id: str
    status: str
    speed: float
    desired_speed: float | None
    temperature: float | None
    parts: int
    revision: int


@dataclass(frozen=True)
class TickResult:
    telemetry_points: int
    twin_updates: int


def _desired_speed(twin: dict[str, Any]) -> float | None:
    entry = twin.get("$metadata", {}).get("speed")
    value = entry.get("desiredValue") if isinstance(entry, dict) else None
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


class DeviceFleet:
    """The simulated machines of a plant, attached to their twins.

    ``report_every``: report properties every that many ticks (and at once when a machine
    changes status or reaches a new speed setpoint, which acknowledges the desired value).
    """

    def __init__(self, service: TwinService, layout: PlantLayout, *, seed: int = 7,
                 report_every: int = 3) -> None:
        if report_every < 1:
            raise ValueError(f"report_every must be at least 1, got {report_every}")
        self.service = service
        self.layout = layout
        self.seed = seed
        self.report_every = report_every
        self.machines: dict[str, SimulatedMachine] = {}
        self.ticks = 0
        self._twins: dict[str, dict[str, Any]] = {}
        self._readings: dict[str, float] = {}
        self._reported: dict[str, dict[str, Any]] = {}
        self._throughput: dict[str, float] = {}

    def start(self) -> None:
        """Attach a simulated machine to every machine twin, continuing from its reported state."""
        now = self.service.clock.now()
        for twin_id in self.layout.machine_ids:
            twin = self.service.get_twin(twin_id)
            latest = {p.signal: p.value for p in self.service.latest_telemetry(twin_id)}
            machine = SimulatedMachine(
                random.Random(f"{self.seed}:{twin_id}"),
                start=now,
                speed=float(twin.get("speed", 60.0)),
                parts=float(twin.get("partsProduced", 0)),
                run_hours=float(twin.get("runHours", 0.0)),
                status=str(twin.get("status", "running")),
                temperature=latest.get("temperature"),
            )
            desired = _desired_speed(twin)
            if desired is not None:
                machine.set_target_speed(desired)
            self.machines[twin_id] = machine
            self._twins[twin_id] = twin
            self._reported[twin_id] = self._reportable(machine)

    @staticmethod
    def _reportable(machine: SimulatedMachine) -> dict[str, Any]:
        return {
            "status": machine.status,
            "speed": machine.speed if machine.at_target else round(machine.speed, 2),
            "partsProduced": int(machine.parts),
            "runHours": round(machine.run_hours, 4),
        }

    def _report(self, twin_id: str, machine: SimulatedMachine) -> bool:
        values = self._reportable(machine)
        last = self._reported.get(twin_id, {})
        changed = {k: v for k, v in values.items() if last.get(k) != v}
        if not changed:
            return False
        self._send_report(twin_id, machine, changed)
        self._reported[twin_id] = values
        return True

    # how the devices talk to holotwin (overridden by the MQTT fleet) --------------------------
    def _follow_desired(self, twin_id: str, machine: SimulatedMachine) -> bool:
        """Take up the desired speed of the twin; False if the twin is gone."""
        try:
            twin = self.service.get_twin(twin_id)
        except NotFoundError:  # deleted through the API: that device is gone
            del self.machines[twin_id]
            return False
        self._twins[twin_id] = twin
        desired = _desired_speed(twin)
        if desired is not None:
            machine.set_target_speed(desired)
        return True

    def _send_telemetry(self, twin_id: str, reading: MachineReading, t: float) -> int:
        """Send one reading; return the points stored (or sent)."""
        return self.service.publish_telemetry(twin_id, reading.as_payload(), source_time=t)

    def _send_report(self, twin_id: str, machine: SimulatedMachine,
                     values: dict[str, Any]) -> None:
        """Report the properties that changed."""
        ops = [{"op": "add", "path": f"/{k}", "value": v} for k, v in values.items()]
        self._twins[twin_id] = self.service.patch_twin(twin_id, ops)

    def _report_lines(self) -> int:
        updates = 0
        for line in self.layout.lines:
            # a serial line without buffers: it makes what its slowest machine makes, and
            # nothing while one of them is stopped
            rate = min((self.machines[m].production_rate for m in line.machine_ids
                        if m in self.machines), default=0.0)
            throughput = round(rate * 60, 1)  # parts per hour
            if self._throughput.get(line.id) == throughput:
                continue
            try:
                self.service.patch_twin(
                    line.id, [{"op": "add", "path": "/throughput", "value": throughput}]
                )
            except NotFoundError:
                continue
            self._throughput[line.id] = throughput
            updates += 1
        return updates

    def tick(self) -> TickResult:
        """One step of every machine at the clock's current time."""
        t = self.service.clock.now()
        self.ticks += 1
        periodic = self.ticks % self.report_every == 0
        points = updates = 0
        for twin_id, machine in list(self.machines.items()):
            if not self._follow_desired(twin_id, machine):
                continue
            status, was_at_target = machine.status, machine.at_target
            reading = machine.step(t)
            self._readings[twin_id] = reading.temperature
            points += self._send_telemetry(twin_id, reading, t)
            reached = machine.at_target and not was_at_target
            if periodic or reached or machine.status != status:
                updates += self._report(twin_id, machine)
        if periodic:
            updates += self._report_lines()
        return TickResult(points, updates)

    def stop(self) -> None:
        """Report the final state of every machine, so the twins keep the latest counters."""
        for twin_id, machine in list(self.machines.items()):
            try:
                self._report(twin_id, machine)
            except NotFoundError:
                continue
        self._report_lines()

    def views(self) -> list[MachineView]:
        rows = []
        for twin_id, machine in self.machines.items():
            twin = self._twins.get(twin_id, {})
            desired = _desired_speed(twin)
            rows.append(MachineView(
                twin_id=twin_id,
                status=machine.status,
                speed=machine.speed,
                desired_speed=desired if desired is not None and desired != machine.speed else None,
                temperature=self._readings.get(twin_id),
                parts=int(machine.parts),
                revision=int(twin.get("$metadata", {}).get("$revision", 0)),
            ))
        return rows
