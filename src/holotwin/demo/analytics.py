"""The demo's analytics: rules and a detector, two injected faults, and what they do to
alerts and KPIs.

:func:`ensure_demo_analytics` stores (once; a user's changes are kept):

- rule ``vibration-high`` (critical, machines): above 5.5 mm/s while running for 3 s,
  cleared below 4 mm/s for 5 s (hysteresis: no flapping around the limit);
- rule ``machine-stopped`` (warning, machines): in ``fault`` for 30 s;
- detector ``voltage_residual`` (battery packs): the ``residual`` detector on
  ``residual.v``, the pack's measured voltage minus what its behavior model (the UKF)
  predicted, over the spread the filter expected;
- rule ``battery-model-mismatch`` (warning, packs): that detector flags, cleared after 60 s
  without; the physics twin sees a fault that no fixed threshold on the voltage could, since
  the voltage itself stays in its normal range.

:class:`DemoFault` injects, ``after`` seconds into the demo, a wearing bearing into one
machine (:meth:`~holotwin.demo.devices.SimulatedMachine.start_wear`: its vibration climbs
``rate`` mm/s per second of running until it is ``trip`` mm/s above normal, then it trips
into ``fault`` for ``repair`` seconds), and ``battery_after`` seconds later a failing cell
connection into the first pack (:meth:`~holotwin.demo.batteries.BatteryFleet.degrade`, its
series resistance times ``resistance``). The machine's and its line's availability and OEE
over the last ``window`` seconds show what the stop cost. :meth:`DemoFault.view` is what the
display shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from holotwin.demo.batteries import BATTERY_MODEL, BatteryFleet
from holotwin.demo.plant import MACHINE_MODEL
from holotwin.errors import HolotwinError, NotFoundError
from holotwin.service import TwinService

__all__ = ["DEMO_DETECTORS", "DEMO_RULES", "AlertRow", "DemoFault", "FaultView",
           "ensure_demo_analytics"]

DEMO_DETECTORS: dict[str, dict[str, Any]] = {
    "voltage_residual": {
        "signal": "residual.v", "model": BATTERY_MODEL, "detector": {"kind": "residual"},
        "description": "The pack's voltage departs from its behavior model"},
}
DEMO_RULES: dict[str, dict[str, Any]] = {
    "vibration-high": {
        "condition": "vibration > 5.5 and status == 'running'", "clear": "vibration < 4",
        "for": 3, "clearFor": 5, "severity": "critical", "model": MACHINE_MODEL,
        "message": "Vibration {vibration:.1f} mm/s while running (limit 5.5)"},
    "machine-stopped": {
        "condition": "status == 'fault'", "for": 30, "severity": "warning",
        "model": MACHINE_MODEL, "message": "Stopped in fault for 30 s"},
    "battery-model-mismatch": {
        "condition": "anomaly.voltage_residual.flag == 1",
        "clear": "anomaly.voltage_residual.flag == 0", "clearFor": 60, "severity": "warning",
        "model": BATTERY_MODEL,
        "message": "Voltage {voltage:.3f} V departs from the model ({residual.v:+.1f} sigma)"},
}
_SEVERITY_ORDER = {"critical": 0, "warning": 1, "info": 2}


def ensure_demo_analytics(service: TwinService) -> None:
    """Store the demo's detector and rules where they are missing (see the module docs)."""
    existing_detectors = {d["id"] for d in service.list_detectors()}
    for key, doc in DEMO_DETECTORS.items():
        if key not in existing_detectors:
            service.put_detector(key, doc)
    existing_rules = {r["id"] for r in service.list_rules()}
    for key, doc in DEMO_RULES.items():
        if key not in existing_rules:
            service.put_rule(key, doc)


@dataclass(frozen=True)
class AlertRow:
    severity: str
    twin_id: str
    rule: str
    state: str
    message: str
    raised: float  # seconds ago


@dataclass(frozen=True)
class FaultView:
    """The fault's ``status`` (waiting, wearing, tripped, repaired), a ``message``, the open
    alerts (worst first) and KPIs of the machine and its line over the last ``window`` s:
    name -> (availability, OEE), None where not known yet."""

    status: str
    message: str
    machine: str
    alerts: list[AlertRow] = field(default_factory=list)
    kpis: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    window: float = 300.0

    @property
    def key(self) -> tuple[str, ...]:
        """What changes when the fault moves on or an alert opens, changes or closes."""
        return (self.status, *(f"{a.rule}/{a.twin_id}/{a.state}" for a in self.alerts))


def _ratio(kpis: Mapping[str, Any], key: str) -> float | None:
    value = kpis.get(key)
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


class DemoFault:
    """Injects a wearing bearing into ``machine`` of ``line`` (see the module docs).

    ``machines`` maps twin ids to the simulated machines (the fleet's); :meth:`tick` is called
    with the demo's elapsed seconds, :meth:`view` refreshes what is shown every ``refresh``
    ticks (alerts and KPIs are store reads)."""

    def __init__(self, service: TwinService, machines: Mapping[str, Any], line: str,
                 machine: str, batteries: BatteryFleet | None = None, *, after: float = 40.0,
                 rate: float = 0.04, trip: float = 3.5, repair: float = 60.0,
                 battery_after: float = 20.0, resistance: float = 3.0, window: float = 300.0,
                 refresh: int = 3) -> None:
        self.service, self.machines, self.line, self.machine = service, machines, line, machine
        self.after, self.rate, self.trip, self.repair = after, rate, trip, repair
        self.batteries, self.battery_after, self.resistance = batteries, battery_after, \
            resistance
        self.battery_faulty = False
        self.window, self.refresh = window, refresh
        self.status = "waiting"
        self.started: float | None = None
        self._ticks = 0
        self._view = FaultView("waiting", f"A bearing of {machine} starts to wear after "
                               f"{after:g} s", machine, window=window)

    def tick(self, elapsed: float) -> None:
        simulated = self.machines.get(self.machine)
        if simulated is None:
            return
        if self.status == "waiting" and elapsed >= self.after:
            simulated.start_wear(self.rate, self.trip, self.repair)
            self.status, self.started = "wearing", elapsed
        elif self.status == "wearing" and not simulated.wearing:
            self.status = "tripped"
        elif self.status == "tripped" and simulated.status != "fault":
            self.status = "repaired"
        if self.batteries is not None and self.batteries.twins and not self.battery_faulty \
                and elapsed >= self.after + self.battery_after:
            self.batteries.degrade(self.batteries.twins[0], self.resistance)
            self.battery_faulty = True
        self._ticks += 1
        if self._ticks % self.refresh == 1 or self.refresh == 1:
            self._view = self._read()

    def view(self) -> FaultView:
        return self._view

    def _message(self) -> str:
        m = self.machine
        return {
            "waiting": f"A bearing of {m} starts to wear after {self.after:g} s",
            "wearing": f"Injected fault: a bearing of {m} is wearing (vibration "
                       f"+{self.rate:g} mm/s each second); it trips at +{self.trip:g} mm/s",
            "tripped": f"{m} tripped: bearing being replaced ({self.repair:g} s)",
            "repaired": f"{m} repaired; alerts clear as its vibration settles",
        }[self.status] + (f"; {self.batteries.twins[0]}'s cell connection is failing (series "
                          f"resistance x{self.resistance:g})" if self.battery_faulty
                          and self.batteries is not None else "")

    def _read(self) -> FaultView:
        service, now = self.service, self.service.clock.now()
        try:
            found = service.list_alerts(state="open", limit=50)
        except HolotwinError:
            found = []
        rows = [AlertRow(a["severity"], a["twinId"], a["rule"], a["state"], a["message"],
                         max(0.0, now - _epoch(a["raisedAt"], now))) for a in found]
        rows.sort(key=lambda r: (_SEVERITY_ORDER.get(r.severity, 3), r.raised))
        kpis: dict[str, tuple[float | None, float | None]] = {}
        try:
            result = service.twin_kpis(self.line, now - self.window, now, depth=1)
            kpis[self.line] = (_ratio(result["kpis"], "availability"),
                               _ratio(result["kpis"], "oee"))
            for child in result.get("children", []):
                if child["twinId"] == self.machine:
                    kpis[self.machine] = (_ratio(child["kpis"], "availability"),
                                          _ratio(child["kpis"], "oee"))
        except (HolotwinError, NotFoundError):
            pass
        return FaultView(self.status, self._message(), self.machine, rows, kpis, self.window)


def _epoch(stamp: str, default: float) -> float:
    from holotwin.clock import from_iso

    try:
        return from_iso(stamp)
    except HolotwinError:
        return default
