"""A variable-speed wind turbine with its gearbox's oil temperature: :class:`WindTurbine`.

- states: ``power`` electrical power P (W), ``rotor_speed`` ω (rad/s), ``gearbox_temperature``
  oil temperature T (K);
- inputs: ``wind_speed`` v at hub height (m/s), ``ambient_temperature`` T_a (K);
- outputs: ``power`` (W), ``rotor_speed`` (rad/s), ``gearbox_temperature`` (K);
- derived: ``gearbox_loss`` the heat the gearbox puts into its oil, ``(1 - η) P`` (W);
- event ``gearbox-overtemperature``: the oil reaches ``temperature_limit`` (event state
  ``(temperature_limit - T) / alarm_band``, at most 1).

The steady power curve (:meth:`WindTurbine.power_curve`) is zero below the cut-in wind speed
and from the cut-out speed on (the turbine is parked), and in between the power the rotor
takes from the wind, ``P = ½ ρ A Cp v³`` with ``A = π R²``, capped at the rated power, which
it reaches at the rated wind speed ``v_r = (2 P_rated / (ρ A Cp))^(1/3)``. Below rated the
rotor runs at the tip-speed ratio of best Cp, ``ω = λ v / R``, and from rated on at the
rated speed ``λ v_r / R`` (pitch control holds it). Power and rotor speed follow these
targets as first-order lags (``power_time_constant``, ``rotor_time_constant``).

The gearbox loses ``(1 - gearbox_efficiency) P`` as heat into its oil, which the cooler takes
to the ambient: ``C dT/dt = (1 - η) P - (T - T_a) / R_th``; in steady state
``T = T_a + R_th (1 - η) P``. :meth:`WindTurbine.next_state` solves the lags exactly for
inputs held over the step and the temperature as a lag toward its equilibrium at the step's
mean power (exact once the power has settled), so 10-minute SCADA steps are stable.

The defaults describe a 2 MW, 80 m rotor turbine: cut-in 3 m/s, rated 11.3 m/s, cut-out
25 m/s, 21.6 rpm rated, a 97 % gearbox whose oil settles 40 K above ambient at rated power.

References: T. Burton, N. Jenkins, D. Sharpe and E. Bossanyi, *Wind Energy Handbook*, 2nd ed.,
Wiley, 2011 (power curve, Betz limit, tip-speed ratio, operating regions); K. E. Johnson et
al., "Control of variable-speed wind turbines: standard and adaptive techniques for
maximizing energy capture", IEEE Control Systems Magazine 26(3), 2006 (region 2 and 3
control); IEC 61400-12-1, *Power performance measurements of electricity producing wind
turbines*; W. Qiu et al., "Wind turbine SCADA alarm analysis for improving reliability",
Wind Energy 15(8), 2012 (gearbox oil over-temperature alarms).

>>> import numpy as np
>>> turbine = WindTurbine()
>>> (turbine.power_curve(np.array([2.9, 3.0, 8.0, 12.0, 24.9, 25.0])) / 1e3).round(1).tolist()
[0.0, 37.4, 709.3, 2000.0, 2000.0, 0.0]
>>> round(float(turbine.rated_wind_speed()[0]), 2)
11.3
>>> x = turbine.initial_state()
>>> for _ in range(72):   # twelve hours of 10-minute steps at 12 m/s and 15 °C
...     x = turbine.next_state(x, np.array([[12.0, 288.15]]), 600.0)
>>> power, speed, oil = turbine.output(x)[0]
>>> round(float(power)), round(float(speed), 3), round(float(oil) - 288.15, 1)
(2000000, 2.26, 40.0)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from holotwin.behaviors.base import Array, Behavior, Parameter

__all__ = ["WindTurbine"]


class WindTurbine(Behavior):
    """A pitch-regulated variable-speed wind turbine and its gearbox oil (see the module docs)."""

    name = "wind-turbine"
    states = ("power", "rotor_speed", "gearbox_temperature")
    inputs = ("wind_speed", "ambient_temperature")
    outputs = ("power", "rotor_speed", "gearbox_temperature")
    events = ("gearbox-overtemperature",)
    derived = ("gearbox_loss",)
    parameters: ClassVar[dict[str, Parameter]] = {
        "rotor_radius": Parameter(40.0, "metre", "R: rotor radius"),
        "power_coefficient": Parameter(0.45, "1", "Cp: best power coefficient (Betz: 0.593)"),
        "air_density": Parameter(1.225, "kilogramPerCubicMetre", "ρ: density of the air"),
        "rated_power": Parameter(2e6, "watt", "electrical power at and above rated wind"),
        "cut_in_speed": Parameter(3.0, "metrePerSecond", "wind speed where power starts"),
        "cut_out_speed": Parameter(25.0, "metrePerSecond", "wind speed where it parks"),
        "tip_speed_ratio": Parameter(8.0, "1", "λ: tip-speed ratio of best Cp"),
        "power_time_constant": Parameter(5.0, "second", "time constant of the power"),
        "rotor_time_constant": Parameter(10.0, "second", "time constant of the rotor speed"),
        "gearbox_efficiency": Parameter(0.97, "1", "η: gearbox efficiency"),
        "heat_capacity": Parameter(7.5e6, "joulePerKelvin", "gearbox and oil heat capacity"),
        "thermal_resistance": Parameter(40.0 / 60e3, "kelvinPerWatt", "oil to ambient"),
        "temperature_limit": Parameter(353.15, "kelvin", "oil over-temperature alarm level"),
        "alarm_band": Parameter(40.0, "kelvin", "margin below the limit of event state 1"),
    }
    initial = (0.0, 0.0, 288.15)
    default_process_noise = (1e6, 1e-4, 1e-3)
    default_measurement_noise = (1e8, 1e-4, 0.25)

    def swept_area(self) -> Array:
        """Rotor swept area A = π R² (m²): ``(1,)`` or ``(B,)``."""
        return np.asarray(np.pi * self.p["rotor_radius"] ** 2)

    def rated_wind_speed(self) -> Array:
        """The wind speed (m/s) where the cubic reaches the rated power: ``(1,)`` or ``(B,)``."""
        p = self.p
        return np.asarray(np.cbrt(2.0 * p["rated_power"]
                                  / (p["air_density"] * self.swept_area() * p["power_coefficient"])))

    def power_curve(self, wind_speed: Array) -> Array:
        """Steady electrical power (W) at ``wind_speed`` (m/s): same shape as it broadcasts."""
        p = self.p
        v = np.asarray(wind_speed, dtype=np.float64)
        cubic = 0.5 * p["air_density"] * self.swept_area() * p["power_coefficient"] * v**3
        running = (v >= p["cut_in_speed"]) & (v < p["cut_out_speed"])
        return np.asarray(np.where(running, np.minimum(cubic, p["rated_power"]), 0.0))

    def rotor_speed_target(self, wind_speed: Array) -> Array:
        """Steady rotor speed (rad/s) at ``wind_speed`` (m/s), 0 when parked."""
        p = self.p
        v = np.asarray(wind_speed, dtype=np.float64)
        speed = p["tip_speed_ratio"] * np.minimum(v, self.rated_wind_speed()) / p["rotor_radius"]
        running = (v >= p["cut_in_speed"]) & (v < p["cut_out_speed"])
        return np.asarray(np.where(running, speed, 0.0))

    def next_state(self, x: Array, u: Array, dt: float | Array) -> Array:
        p = self.p
        h = np.reshape(np.asarray(dt, dtype=np.float64), -1)
        target_power = self.power_curve(u[:, 0])
        tau_p = p["power_time_constant"]
        decay = np.exp(-h / tau_p)
        power = target_power + (x[:, 0] - target_power) * decay
        # the exact mean of the power's exponential path over the step
        mean_power = target_power + (x[:, 0] - target_power) * np.where(
            h > 0.0, tau_p * (1.0 - decay) / np.where(h > 0.0, h, 1.0), 1.0)
        target_speed = self.rotor_speed_target(u[:, 0])
        speed = target_speed + (x[:, 1] - target_speed) * np.exp(-h / p["rotor_time_constant"])
        settled = u[:, 1] + p["thermal_resistance"] * (1.0 - p["gearbox_efficiency"]) * mean_power
        temperature = settled + (x[:, 2] - settled) * np.exp(
            -h / (p["thermal_resistance"] * p["heat_capacity"]))
        return np.stack(np.broadcast_arrays(power, speed, temperature), axis=1)

    def output(self, x: Array) -> Array:
        return np.array(x, dtype=np.float64, copy=True)

    def derive(self, x: Array) -> Array:
        """``gearbox_loss``: ``(1 - η) P`` (W)."""
        return np.asarray((1.0 - self.p["gearbox_efficiency"]) * x[:, 0])[:, None]

    def event_state(self, x: Array) -> Array:
        p = self.p
        margin = (p["temperature_limit"] - x[:, 2]) / p["alarm_band"]
        return np.asarray(np.minimum(margin, 1.0))[:, None]
