"""Simulated machines for the demo plant: pure maths, driven by the time it is given.

A :class:`SimulatedMachine` makes parts at its speed setpoint while it runs, warms up with load,
vibrates, draws power, and now and then goes idle or faults. It never reads a clock and never
sleeps: ``step(t)`` advances it to time ``t`` (float seconds), so the same machine runs in step
with the wall clock in the live demo or as fast as possible in a test. Randomness comes from the
``random.Random`` it is given, so a seed makes a run repeatable.

Example:
    >>> import random
    >>> m = SimulatedMachine(random.Random(1), start=0.0, speed=60.0)
    >>> m.set_target_speed(70.0)
    >>> for t in range(1, 11):
    ...     reading = m.step(float(t))
    >>> m.speed, m.status
    (70.0, 'running')
    >>> round(m.parts, 1)  # 1 s at 60 parts/min, then 9 s at 70
    11.5
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["STATUSES", "MachineParameters", "MachineReading", "SimulatedMachine"]

STATUSES = ("running", "idle", "fault")


@dataclass(frozen=True)
class MachineParameters:
    """How a simulated machine behaves.

    Speeds are in parts per minute, temperatures in °C, times in seconds, rates in events per
    second (the chance of the event in a short step ``dt`` is ``1 - exp(-rate * dt)``).
    """

    reference_speed: float = 100.0
    """Speed at full load (parts/min)."""
    max_speed: float = 200.0
    """Highest setpoint the machine accepts (parts/min); desired values are clamped to it."""
    ramp_rate: float = 20.0
    """How fast the setpoint moves towards a new target (parts/min per second)."""
    ambient: float = 22.0
    """Temperature of a cold machine (°C)."""
    heating: float = 40.0
    """Temperature rise above ambient at full load, once settled (°C)."""
    thermal_time_constant: float = 60.0
    """Time constant of the first-order thermal lag (s)."""
    temperature_noise: float = 0.15
    """Standard deviation of the temperature sensor noise (°C)."""
    fault_rate: float = 1 / 600
    """Rate of faults while running (1/s)."""
    idle_rate: float = 1 / 300
    """Rate of running -> idle (starved of material) (1/s)."""
    resume_rate: float = 1 / 15
    """Rate of idle -> running (1/s)."""
    mean_repair_time: float = 20.0
    """Mean time a fault lasts (s)."""


@dataclass(frozen=True)
class MachineReading:
    """One telemetry message: temperature (°C), vibration (mm/s RMS), power (kW)."""

    temperature: float
    vibration: float
    power: float

    def as_payload(self) -> dict[str, float]:
        return {"temperature": self.temperature, "vibration": self.vibration, "power": self.power}


class SimulatedMachine:
    """One machine. Reported state: ``status``, ``speed`` (setpoint, parts/min), ``parts``
    (made so far, fractional), ``run_hours`` (h) and ``temperature`` (°C)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        start: float,
        speed: float,
        parts: float = 0.0,
        run_hours: float = 0.0,
        status: str = "running",
        temperature: float | None = None,
        parameters: MachineParameters | None = None,
    ) -> None:
        if status not in STATUSES:
            raise ValueError(f"Unknown machine status {status!r}; use one of {', '.join(STATUSES)}")
        self.params = parameters or MachineParameters()
        self.rng = rng
        self.t = start
        self.speed = self._clamp(speed)
        self.target_speed = self.speed
        self.parts = parts
        self.run_hours = run_hours
        self.status = status
        self.temperature = self.params.ambient if temperature is None else temperature
        self._fault_until = start
        #: extra vibration of a wearing bearing (mm/s), growing by ``wear_rate`` per second of
        #: running until it reaches ``trip_level`` and the machine trips (see start_wear)
        self.wear = 0.0
        self.wear_rate = 0.0
        self.trip_level = math.inf
        self.trip_repair = 0.0

    def _clamp(self, speed: float) -> float:
        return min(max(float(speed), 0.0), self.params.max_speed)

    @property
    def load(self) -> float:
        """Fraction of full load the machine is under now (0 unless running)."""
        return self.speed / self.params.reference_speed if self.status == "running" else 0.0

    @property
    def production_rate(self) -> float:
        """Parts per minute being made now."""
        return self.speed if self.status == "running" else 0.0

    @property
    def at_target(self) -> bool:
        return self.speed == self.target_speed

    def set_target_speed(self, speed: float) -> None:
        """A new setpoint (parts/min), clamped to ``[0, max_speed]``; reached by ramping."""
        self.target_speed = self._clamp(speed)

    def start_wear(self, rate: float, trip_level: float, repair: float) -> None:
        """An injected fault: a bearing wears, so vibration grows by ``rate`` mm/s per second
        of running (and the machine runs warmer) until the extra vibration reaches
        ``trip_level`` mm/s; then the machine trips into ``fault`` for ``repair`` seconds and
        comes back repaired (no wear)."""
        if not (rate > 0 and trip_level > 0 and repair >= 0):
            raise ValueError(f"Wear needs rate > 0, trip_level > 0 and repair >= 0, got "
                             f"{rate}, {trip_level}, {repair}")
        self.wear_rate, self.trip_level, self.trip_repair = rate, trip_level, repair

    @property
    def wearing(self) -> bool:
        return self.wear_rate > 0

    def _chance(self, rate: float, dt: float) -> bool:
        return self.rng.random() < 1.0 - math.exp(-rate * dt)

    def _next_status(self, dt: float) -> str:
        p = self.params
        if self.status == "running" and self.wear >= self.trip_level:
            self._fault_until = self.t + self.trip_repair
            self.wear = self.wear_rate = 0.0
            self.trip_level = math.inf
            return "fault"
        if self.status == "running":
            if self._chance(p.fault_rate, dt):
                self._fault_until = self.t + self.rng.expovariate(1.0 / p.mean_repair_time)
                return "fault"
            if self._chance(p.idle_rate, dt):
                return "idle"
        elif self.status == "idle":
            if self._chance(p.resume_rate, dt):
                return "running"
        elif self.t >= self._fault_until:
            return "running"
        return self.status

    def step(self, t: float) -> MachineReading:
        """Advance to time ``t`` (s) and return the sensor readings there."""
        p = self.params
        dt = max(0.0, t - self.t)
        self.t = max(self.t, t)
        # What happened during the step, at the state the machine was in.
        if self.status == "running":
            self.parts += self.speed / 60.0 * dt
            self.run_hours += dt / 3600.0
            self.wear += self.wear_rate * dt
        step = p.ramp_rate * dt
        if abs(self.target_speed - self.speed) <= step:
            self.speed = self.target_speed
        else:
            self.speed += math.copysign(step, self.target_speed - self.speed)
        self.status = self._next_status(dt)
        # Thermal lag towards the temperature the current load settles at (exact for constant
        # load over the step).
        settled = p.ambient + p.heating * self.load * (1.0 + 0.1 * self.wear)
        lag = 1.0 - math.exp(-dt / p.thermal_time_constant)
        self.temperature += (settled - self.temperature) * lag
        gauss = self.rng.gauss
        if self.status == "running":
            vibration = 0.8 + 2.5 * self.load + self.wear + gauss(0.0, 0.15)
            power = 1.2 + 11.0 * self.load + gauss(0.0, 0.2)
        elif self.status == "idle":
            vibration = 0.1 + gauss(0.0, 0.02)
            power = 0.6 + gauss(0.0, 0.05)
        else:  # a worn bearing: the drive is stopped but the machine rattles as it coasts down
            vibration = 7.0 + gauss(0.0, 1.5)
            power = 0.3 + gauss(0.0, 0.05)
        return MachineReading(
            temperature=round(self.temperature + gauss(0.0, p.temperature_noise), 3),
            vibration=round(max(vibration, 0.0), 3),
            power=round(max(power, 0.0), 3),
        )
