"""A rotating machine whose rolling bearing degrades: :class:`RotatingMachine`.

- states: ``speed`` shaft speed ω (rad/s), ``temperature`` bearing housing temperature T (K),
  ``damage`` bearing damage D (1: 0 new, 1 failed);
- inputs: ``speed_command`` the drive's set-point (rad/s, ≥ 0), ``load`` the bearing's
  dynamic equivalent load P (N), ``ambient_temperature`` T_a (K);
- outputs: ``speed`` (rad/s), ``temperature`` (K), ``vibration`` the RMS acceleration on the
  housing (m/s²);
- derived: ``health`` ``1 - D`` held to [0, 1] (1 new, 0 failed);
- event ``bearing-failure``: the damage reaches 1 (event state ``1 - D``).

Life comes from the Lundberg-Palmgren basic rating life of ISO 281, ``L10 = (C / P)^p``
million revolutions (p = 3 for ball bearings, 10/3 for roller bearings). The damage grows
exponentially, as the vibration of run-to-failure bearings does,
``dD/dt = ln(1 + 1/ε) (ω / 2π) (P / C)^p (D + ε) / 10⁶``, where ε
(``initial_defect``) sets how late the growth shows; the rate is scaled so that at constant
load and speed D climbs from 0 to exactly 1 in the L10 life:
``D(t) = ε (exp(t ln(1 + 1/ε) / L10) - 1)``. Scale ``load_rating`` to calibrate one bearing.

The friction of the bearing, the simplified model of the SKF catalogue ``M = μ P d / 2``,
grows with damage (``1 + friction_growth D``) and heats the housing, which cools to the
ambient through ``thermal_resistance``: ``C_th dT/dt = M ω - (T - T_a) / R_th``. The
vibration is ``(ω / reference_speed)² (vibration_healthy + vibration_fault D)``: a healthy
floor plus the defect's contribution, both growing with the square of speed as the
acceleration of a given displacement does.

The speed follows its command as a first-order lag. :meth:`RotatingMachine.next_state` solves
it exactly for inputs held over the step, and the damage too (the revolutions turned in the
step are exact); the temperature is a lag toward its equilibrium at the step's mean speed
(exact at steady speed). Any step ``dt`` is stable: vibration records come every 10 s
(PRONOSTIA) to every 10 min (the IMS data set).

References: ISO 281:2007, *Rolling bearings: dynamic load ratings and rating life*
(Lundberg-Palmgren L10); G. Lundberg and A. Palmgren, "Dynamic capacity of rolling
bearings", Acta Polytechnica, Mech. Eng. Series 1(3), 1947; P. Nectoux et al., "PRONOSTIA:
an experimental platform for bearings accelerated degradation tests", IEEE PHM Conference,
2012 (run-to-failure vibration, exponential growth); N. Gebraeel et al., "Residual-life
distributions from component degradation signals: a Bayesian approach", IIE Transactions
37(6), 2005 (exponential degradation model); SKF, *Rolling bearings* catalogue, 2018
(friction coefficient μ ≈ 0.0015 for deep groove ball bearings).

>>> import numpy as np
>>> machine = RotatingMachine()
>>> life = machine.rating_life(np.array([3000.0]), np.array([50 * np.pi]))   # 1500 rpm
>>> round(float(life[0]) / 3600)   # L10 in hours: 10⁹ revolutions at 25 rev/s
11111
>>> x = np.array([[50 * np.pi, 293.15, 0.0]])
>>> x1 = machine.next_state(x, np.array([[50 * np.pi, 3000.0, 293.15]]), float(life[0]))
>>> round(float(x1[0, 2]), 9)   # damage 1 at the L10 life
1.0
>>> bool(machine.threshold_met(x1)[0, 0])
True
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from holotwin.behaviors.base import Array, Behavior, Parameter

__all__ = ["RotatingMachine"]

REVOLUTIONS_PER_LIFE = 1e6  # ISO 281 rating lives are counted in millions of revolutions


class RotatingMachine(Behavior):
    """A machine on one rolling bearing that wears out (see the module docs)."""

    name = "rotating-machine"
    states = ("speed", "temperature", "damage")
    inputs = ("speed_command", "load", "ambient_temperature")
    outputs = ("speed", "temperature", "vibration")
    events = ("bearing-failure",)
    derived = ("health",)
    parameters: ClassVar[dict[str, Parameter]] = {
        "speed_time_constant": Parameter(5.0, "second", "time constant of the drive's speed"),
        "load_rating": Parameter(30e3, "newton", "C: the bearing's basic dynamic load rating"),
        "life_exponent": Parameter(3.0, "1", "p: 3 for ball, 10/3 for roller bearings"),
        "initial_defect": Parameter(0.01, "1", "ε: damage scale of the exponential growth"),
        "friction_coefficient": Parameter(0.0015, "1", "μ: bearing friction coefficient"),
        "bore_diameter": Parameter(0.05, "metre", "d: bearing bore diameter"),
        "friction_growth": Parameter(2.0, "1", "relative rise of friction at damage 1"),
        "heat_capacity": Parameter(1000.0, "joulePerKelvin", "heat capacity of the housing"),
        "thermal_resistance": Parameter(2.0, "kelvinPerWatt", "housing to ambient"),
        "reference_speed": Parameter(50 * np.pi, "radianPerSecond",
                                     "speed of the reference vibration levels"),
        "vibration_healthy": Parameter(0.5, "metrePerSecondSquared",
                                       "RMS vibration of a new bearing at the reference speed"),
        "vibration_fault": Parameter(20.0, "metrePerSecondSquared",
                                     "RMS vibration added at damage 1, reference speed"),
    }
    initial = (0.0, 293.15, 0.0)
    default_process_noise = (1e-2, 1e-3, 1e-16)
    default_measurement_noise = (1e-2, 0.25, 0.01)

    def rating_life(self, load: Array, speed: Array) -> Array:
        """The L10 life (s) at constant ``load`` (N) and ``speed`` (rad/s): ``(B,)``
        (infinite without load or speed)."""
        p = self.p
        with np.errstate(divide="ignore"):
            revolutions = REVOLUTIONS_PER_LIFE * (p["load_rating"] / np.abs(load)) \
                ** p["life_exponent"]
            return np.asarray(revolutions * 2.0 * np.pi / np.abs(speed))

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        p = self.p
        h = np.reshape(np.asarray(dt, dtype=np.float64), -1)
        command, load = u[:, 0], np.abs(u[:, 1])
        tau = p["speed_time_constant"]
        decay = np.exp(-h / tau)
        speed = command + (x[:, 0] - command) * decay
        angle = np.abs(command * h + (x[:, 0] - command) * tau * (1.0 - decay))  # rad turned
        eps = p["initial_defect"]
        growth = (np.log1p(1.0 / eps) * (load / p["load_rating"]) ** p["life_exponent"]
                  * angle / (2.0 * np.pi * REVOLUTIONS_PER_LIFE))
        damage = (x[:, 2] + eps) * np.exp(growth) - eps
        mean_speed = angle / np.where(h > 0.0, h, 1.0)
        settled = u[:, 2] + p["thermal_resistance"] * self._friction_torque(x, load) * mean_speed
        temperature = settled + (x[:, 1] - settled) * np.exp(
            -h / (p["thermal_resistance"] * p["heat_capacity"]))
        return np.stack(np.broadcast_arrays(speed, temperature, damage), axis=1)

    def output(self, x: Array) -> Array:
        p = self.p
        vibration = ((x[:, 0] / p["reference_speed"]) ** 2
                     * (p["vibration_healthy"] + p["vibration_fault"] * np.maximum(x[:, 2], 0.0)))
        return np.stack(np.broadcast_arrays(x[:, 0], x[:, 1], vibration), axis=1)

    def event_state(self, x: Array) -> Array:
        return np.asarray(1.0 - x[:, 2])[:, None]

    def _friction_torque(self, x: Array, load: Array) -> Array:
        """M = μ P d / 2, raised by damage (N m): ``(B,)``."""
        p = self.p
        return np.asarray(0.5 * p["friction_coefficient"] * load * p["bore_diameter"]
                          * (1.0 + p["friction_growth"] * np.maximum(x[:, 2], 0.0)))

    def derive(self, x: Array) -> Array:
        """``health``: ``1 - D`` held to [0, 1]."""
        return np.clip(1.0 - x[:, 2], 0.0, 1.0)[:, None]
