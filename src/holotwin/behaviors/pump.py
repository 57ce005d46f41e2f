"""A centrifugal pump whose impeller wears: :class:`CentrifugalPump`.

- states: ``speed`` shaft speed ω (rad/s), ``flow`` volume flow Q (m³/s), ``wear`` impeller
  wear w (1: the fraction of shut-off head lost);
- inputs: ``speed_command`` the drive's speed set-point (rad/s), ``system_resistance`` k of the
  system curve (s²/m⁵, ≥ 0: a closing valve raises it);
- outputs: ``flow`` (m³/s), ``head`` the pump's total head H (m), ``power`` the electrical
  power drawn (W);
- derived: ``efficiency`` the hydraulic efficiency η (1; 0 when stopped), ``health``
  ``1 - w / wear_limit`` held to [0, 1] (1 new, 0 due for a new impeller);
- event ``wear-limit``: the wear reaches ``wear_limit`` (event state ``1 - w / wear_limit``).

The pump curve is the quadratic of the affinity laws, ``H = (1 - w) a ω² - b Q²``, so at
similar operating points Q scales with ω, H with ω² and shaft power with ω³. The system curve
is ``H = static_head + k Q²``; the operating point, where the two meet, is
``Q* = sqrt(((1 - w) a ω² - static_head) / (b + k))`` (zero when the pump cannot lift the
static head: a check valve holds the column). Shaft power follows the affinity-consistent
curve ``P_shaft = c0 ω³ + c1 ω² Q`` (c0 ω³ is the shut-off power: disc friction and
recirculation), so the hydraulic efficiency is ``η = ρ g Q H / P_shaft`` and the electrical
power ``P = P_shaft / motor_efficiency``. Wear lowers the head at a given flow and speed but
not the power, so it lowers both head and efficiency. It grows with the impeller's tip speed
as erosive wear does, ``dw/dt = wear_rate (ω / reference_speed)^wear_exponent`` (erosion
rates go as the 2nd to 3rd power of the particle velocity).

The speed follows its command and the flow its operating point as first-order lags
(``speed_time_constant``: the drive's ramp; ``flow_time_constant``: the inertia of the water
column). :meth:`CentrifugalPump.next_state` solves the lags exactly for inputs held over the
step (the flow toward the operating point at the step's final speed), so any step ``dt`` is
stable; the wear integrates the tip-speed term by the trapezoid rule (exact at steady speed).

The defaults describe a 15 kW water pump: 40 m shut-off head at 150 rad/s (≈1430 rpm), best
efficiency (80 %) at 0.05 m³/s and 32 m, against 10 m of static head; about 10 % wear (the
head loss at which impellers are commonly renewed) after two years at full speed.

References: I. J. Karassik et al., *Pump Handbook*, 4th ed., McGraw-Hill, 2008 (affinity
laws, pump and system curves); J. F. Gülich, *Centrifugal Pumps*, 3rd ed., Springer, 2014
(losses, efficiency, hydro-abrasive wear); B. Ulanicki, J. Kahler and B. Coulbeck, "Modeling
the efficiency and power characteristics of a pump group", J. Water Resour. Plann. Manage.
134(1), 2008 (power curve form); I. Finnie, "Erosion of surfaces by solid particles", Wear
3(2), 1960 (velocity exponent of erosion).

>>> import numpy as np
>>> pump = CentrifugalPump()
>>> x = np.array([[150.0, 0.05, 0.0]])   # at its operating point: 150 rad/s, 0.05 m³/s
>>> flow, head, power = pump.output(x)[0]
>>> round(float(flow), 3), round(float(head), 2), round(float(power) / 1e3, 2)  # m³/s, m, kW
(0.05, 32.0, 21.09)
>>> round(float(pump.efficiency(x)[0]), 3)   # hydraulic, at the best-efficiency point
0.8
>>> x1 = pump.next_state(x, np.array([[150.0, 8800.0]]), 60.0)
>>> bool(np.allclose(x1[0, :2], [150.0, 0.05], rtol=1e-3)), float(x1[0, 2]) > 0.0
(True, True)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from holotwin.behaviors.base import Array, Behavior, Parameter

__all__ = ["CentrifugalPump"]

GRAVITY = 9.80665  # m/s², standard gravity


class CentrifugalPump(Behavior):
    """A centrifugal pump on a variable-speed drive with impeller wear (see the module docs)."""

    name = "centrifugal-pump"
    states = ("speed", "flow", "wear")
    inputs = ("speed_command", "system_resistance")
    outputs = ("flow", "head", "power")
    events = ("wear-limit",)
    derived = ("efficiency", "health")
    parameters: ClassVar[dict[str, Parameter]] = {
        "head_coefficient": Parameter(1.7778e-3, "m s^2/rad^2",
                                      "a: shut-off head per squared speed (new impeller)"),
        "flow_head_coefficient": Parameter(3200.0, "s^2/m^5", "b: head lost per squared flow"),
        "static_head": Parameter(10.0, "metre", "static lift of the system curve"),
        "shutoff_power_coefficient": Parameter(2.9057e-3, "W s^3/rad^3",
                                               "c0: shaft power at zero flow per cubed speed"),
        "flow_power_coefficient": Parameter(8.717, "W s^3/(rad^2 m^3)",
                                            "c1: shaft power per squared speed and flow"),
        "motor_efficiency": Parameter(0.93, "1", "motor and drive efficiency"),
        "density": Parameter(1000.0, "kilogramPerCubicMetre", "density of the liquid"),
        "speed_time_constant": Parameter(2.0, "second", "time constant of the drive's speed"),
        "flow_time_constant": Parameter(1.0, "second", "time constant of the flow"),
        "wear_rate": Parameter(1.5e-9, "1/s", "wear per second at the reference speed"),
        "reference_speed": Parameter(150.0, "radianPerSecond", "speed of the wear rate"),
        "wear_exponent": Parameter(3.0, "1", "exponent of speed in the wear rate"),
        "wear_limit": Parameter(0.1, "1", "wear at which the impeller is renewed"),
    }
    initial = (0.0, 0.0, 0.0)
    default_process_noise = (1e-2, 1e-8, 1e-14)
    default_measurement_noise = (1e-6, 0.04, 4e4)

    def operating_flow(self, speed: Array, wear: Array, resistance: Array) -> Array:
        """The flow where the pump curve meets the system curve, Q* (m³/s): ``(B,)``."""
        p = self.p
        lift = (np.maximum(1.0 - wear, 0.0) * p["head_coefficient"] * speed**2
                - p["static_head"])
        return np.asarray(np.sqrt(np.maximum(lift, 0.0)
                                  / (p["flow_head_coefficient"] + np.maximum(resistance, 0.0))))

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        p = self.p
        h = np.reshape(np.asarray(dt, dtype=np.float64), -1)
        command = u[:, 0]
        speed = command + (x[:, 0] - command) * np.exp(-h / p["speed_time_constant"])
        target = self.operating_flow(speed, x[:, 2], u[:, 1])
        flow = target + (x[:, 1] - target) * np.exp(-h / p["flow_time_constant"])
        rate = p["wear_rate"] * 0.5 * (
            (np.abs(x[:, 0]) / p["reference_speed"]) ** p["wear_exponent"]
            + (np.abs(speed) / p["reference_speed"]) ** p["wear_exponent"])
        return np.stack(np.broadcast_arrays(speed, flow, x[:, 2] + rate * h), axis=1)

    def head(self, x: Array) -> Array:
        """The pump's total head on its (worn) curve, H (m): ``(B,)``."""
        p = self.p
        speed, flow = x[:, 0], x[:, 1]
        return np.asarray(np.maximum(1.0 - x[:, 2], 0.0) * p["head_coefficient"] * speed
                          * np.abs(speed) - p["flow_head_coefficient"] * flow * np.abs(flow))

    def shaft_power(self, x: Array) -> Array:
        """Mechanical power into the pump (W): ``(B,)``."""
        p = self.p
        speed = np.abs(x[:, 0])
        return np.asarray(p["shutoff_power_coefficient"] * speed**3
                          + p["flow_power_coefficient"] * speed**2 * np.abs(x[:, 1]))

    def efficiency(self, x: Array) -> Array:
        """Hydraulic efficiency ρ g Q H / P_shaft (1; 0 when stopped): ``(B,)``."""
        useful = self.p["density"] * GRAVITY * x[:, 1] * self.head(x)
        shaft = self.shaft_power(x)
        return np.asarray(np.where(shaft > 0.0, useful / np.where(shaft > 0.0, shaft, 1.0), 0.0))

    def output(self, x: Array) -> Array:
        power = self.shaft_power(x) / self.p["motor_efficiency"]
        return np.stack(np.broadcast_arrays(x[:, 1], self.head(x), power), axis=1)

    def event_state(self, x: Array) -> Array:
        return np.asarray(1.0 - x[:, 2] / self.p["wear_limit"])[:, None]

    def derive(self, x: Array) -> Array:
        """``efficiency`` (see :meth:`efficiency`) and ``health``."""
        health = np.clip(1.0 - x[:, 2] / self.p["wear_limit"], 0.0, 1.0)
        return np.stack(np.broadcast_arrays(self.efficiency(x), health), axis=1)
