"""A building zone as a two-node thermal RC network: :class:`BuildingZone`.

- states: ``temperature`` zone air (interior) temperature T_i (K), ``envelope_temperature``
  T_e of the walls and thermal mass (K), ``hvac_energy`` thermal energy moved by the HVAC so
  far, heating plus cooling (J);
- inputs: ``hvac_power`` Φ_h, the heating (> 0) or cooling (< 0) power the HVAC delivers to
  the air (W; this model takes the power, not a set-point: the controller is outside it),
  ``outdoor_temperature`` T_a (K), ``solar_irradiance`` Φ_s on the facade (W/m²),
  ``internal_gains`` Φ_g from people, lights and equipment (W);
- outputs: ``temperature`` (K), ``hvac_energy`` (J);
- derived: ``operative_temperature`` (K), what occupants feel: the mean of the air and the
  envelope (standing in for the mean radiant) temperatures, as ISO 7730 takes it in still air;
- event ``comfort-band-exit``: the air leaves the comfort band [``comfort_low``,
  ``comfort_high``] (event state: the distance to the nearer edge over half the band width).

The "TiTe" model of Bacher and Madsen: the interior (air, furniture) exchanges heat with the
envelope, and the envelope with the outdoors; heating, sun through the windows (effective
area ``solar_aperture``) and internal gains go into the interior::

    C_i dT_i/dt = (T_e - T_i) / R_ie + Φ_h + A_w Φ_s + Φ_g
    C_e dT_e/dt = (T_i - T_e) / R_ie + (T_a - T_e) / R_ea

It is linear, so under constant inputs the state relaxes exponentially (two time constants,
the eigenvalues of the 2×2 system) to the steady state
``T_i = T_a + (R_ie + R_ea) Q``, ``T_e = T_a + R_ea Q`` with ``Q = Φ_h + A_w Φ_s + Φ_g``.
It is integrated by RK4 (``integrator``); steps must stay below about 2.8 times the fast time
constant (about an hour with the defaults) to be stable.

The defaults describe a 100 m² well-insulated zone: 83 W/K to the outdoors, time constants
of about one hour (air) and two and a half days (envelope); comfort band 20-26 °C.

References: P. Bacher and H. Madsen, "Identifying suitable models for the heat dynamics of
buildings", Energy and Buildings 43(7), 2011 (TiTe model); ISO 52016-1:2017, *Energy
performance of buildings: calculation of the energy needs for heating and cooling* (RC
building models); EN 16798-1:2019 (indoor comfort ranges).

>>> import numpy as np
>>> zone = BuildingZone()
>>> x = np.array([[293.15, 293.15, 0.0]])
>>> u = np.array([[2000.0, 273.15, 0.0, 0.0]])   # 2 kW of heating, 0 °C outdoors
>>> steady = zone.steady_state(u)
>>> (steady[0, :2] - 273.15).round(2).tolist()   # °C: 2 kW × 0.012 K/W = 24 K above outdoors
[24.0, 20.0]
>>> x1 = zone.next_state(x, u, 900.0)   # fifteen minutes later
>>> round(float(x1[0, 0]) - 273.15, 3), float(x1[0, 2])   # air warmer, 1.8 MJ delivered
(20.797, 1800000.0)
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from holotwin.behaviors.base import Array, ContinuousBehavior, Parameter

__all__ = ["BuildingZone"]


class BuildingZone(ContinuousBehavior):
    """A building zone as a two-node (air and envelope) thermal RC network (see the module docs)."""

    name = "building-zone"
    integrator = "rk4"
    states = ("temperature", "envelope_temperature", "hvac_energy")
    inputs = ("hvac_power", "outdoor_temperature", "solar_irradiance", "internal_gains")
    outputs = ("temperature", "hvac_energy")
    events = ("comfort-band-exit",)
    derived = ("operative_temperature",)
    parameters: ClassVar[dict[str, Parameter]] = {
        "interior_capacity": Parameter(2e6, "joulePerKelvin", "C_i: air and furniture"),
        "envelope_capacity": Parameter(2e7, "joulePerKelvin", "C_e: walls and thermal mass"),
        "interior_resistance": Parameter(0.002, "kelvinPerWatt", "R_ie: interior to envelope"),
        "exterior_resistance": Parameter(0.01, "kelvinPerWatt", "R_ea: envelope to outdoors"),
        "solar_aperture": Parameter(5.0, "squareMetre", "A_w: effective window area"),
        "comfort_low": Parameter(293.15, "kelvin", "lower edge of the comfort band"),
        "comfort_high": Parameter(299.15, "kelvin", "upper edge of the comfort band"),
    }
    initial = (293.15, 293.15, 0.0)
    default_process_noise = (1e-4, 1e-5, 1e2)
    default_measurement_noise = (0.01, 1e6)

    def heat_input(self, u: Array) -> Array:
        """The heat into the air, Q = Φ_h + A_w Φ_s + Φ_g (W): ``(B,)``."""
        return np.asarray(u[:, 0] + self.p["solar_aperture"] * u[:, 2] + u[:, 3])

    def dx(self, x: Array, u: Array) -> Array:
        p = self.p
        between = (x[:, 1] - x[:, 0]) / p["interior_resistance"]
        outside = (u[:, 1] - x[:, 1]) / p["exterior_resistance"]
        interior = (between + self.heat_input(u)) / p["interior_capacity"]
        envelope = (outside - between) / p["envelope_capacity"]
        return np.stack(np.broadcast_arrays(interior, envelope, np.abs(u[:, 0])), axis=1)

    def output(self, x: Array) -> Array:
        return np.array(x[:, [0, 2]], dtype=np.float64)

    def derive(self, x: Array) -> Array:
        """``operative_temperature``: ``(T_i + T_e) / 2`` (K)."""
        return np.asarray(0.5 * (x[:, 0] + x[:, 1]))[:, None]

    def steady_state(self, u: Array) -> Array:
        """The temperatures the zone settles to under constant inputs ``u``: ``(B, 3)``
        (the energy column is 0: it keeps growing while the HVAC runs)."""
        p = self.p
        q = self.heat_input(u)
        envelope = u[:, 1] + p["exterior_resistance"] * q
        interior = envelope + p["interior_resistance"] * q
        return np.stack(np.broadcast_arrays(interior, envelope, np.zeros_like(q)), axis=1)

    def event_state(self, x: Array) -> Array:
        p = self.p
        low, high = p["comfort_low"], p["comfort_high"]
        nearer = np.minimum(x[:, 0] - low, high - x[:, 0])
        return np.asarray(nearer / (0.5 * (high - low)))[:, None]
