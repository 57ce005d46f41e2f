"""A lithium-ion cell as an equivalent circuit with temperature: :class:`BatteryCircuit`.

The equations are those of Daigle and Kulkarni's equivalent-circuit battery model as NASA's
ProgPy implements it in ``BatteryCircuit`` (same states, parameters and defaults, fitted to an
18650 cell), so the two can be run side by side (``bench/vs_progpy.py``):

- states: ``tb`` battery temperature (K), ``qb`` charge in the bulk capacitance (C), ``qcp``
  and ``qcs`` charges in the surface-overpotential and series-resistance RC pairs (C);
- input: ``i`` discharge current (A);
- outputs: ``t`` temperature (K), ``v`` terminal voltage (V);
- derived: ``soc``, the state of charge (1 full, 0 empty);
- event ``EOD`` (end of discharge): when the voltage falls below ``VEOD`` (event state: the
  smaller of the state of charge and the normalized voltage margin).

The bulk capacitance varies with state of charge (a cubic), the charge-transfer resistance
grows as the cell empties, and the cell warms with the Joule heat of both RC branches and
cools towards the ambient ``Ta``.

References: M. Daigle and C. Kulkarni, "Electrochemistry-based battery modeling for
prognostics", Annual Conference of the PHM Society, 2013; NASA ProgPy, ``BatteryCircuit``.

>>> import numpy as np
>>> cell = BatteryCircuit()
>>> x = cell.initial_state()
>>> z = cell.output(x)
>>> round(float(z[0, 0]), 1), round(float(z[0, 1]), 3)   # 292.1 K, full cell at rest
(292.1, 4.183)
>>> x1 = cell.next_state(x, np.array([[2.0]]), 1.0)
>>> round(float(x[0, 1] - x1[0, 1]), 6)   # 2 A for 1 s: 2 C, plus self-discharge through Rp
2.000418
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import NDArray

from holotwin.behaviors.base import Array, ContinuousBehavior, Parameter

__all__ = ["BatteryCircuit"]


class BatteryCircuit(ContinuousBehavior):
    """A lithium-ion cell as an equivalent circuit with temperature (see the module docs)."""

    name = "battery-circuit"
    states = ("tb", "qb", "qcp", "qcs")
    inputs = ("i",)
    outputs = ("t", "v")
    events = ("EOD",)
    derived = ("soc",)
    parameters: ClassVar[dict[str, Parameter]] = {
        "V0": Parameter(4.183, "volt", "open-circuit voltage when full"),
        "Rp": Parameter(1e4, "ohm", "self-discharge resistance"),
        "qMax": Parameter(7856.3254, "coulomb", "maximum charge"),
        "CMax": Parameter(7777.0, "coulomb", "maximum charge for the state of charge"),
        "VEOD": Parameter(3.0, "volt", "end-of-discharge voltage"),
        "VDropoff": Parameter(0.1, "volt", "voltage margin that normalizes the EOD event state"),
        "Cbp0": Parameter(-230.0, "farad", "bulk capacitance, cubic coefficient of SOC"),
        "Cbp1": Parameter(1.2, "farad", "bulk capacitance, quadratic coefficient of SOC"),
        "Cbp2": Parameter(2079.9, "farad", "bulk capacitance, linear coefficient of SOC"),
        "Cbp3": Parameter(27.055726, "farad", "bulk capacitance, constant term"),
        "Rs": Parameter(0.0538926, "ohm", "series resistance"),
        "Cs": Parameter(234.387, "farad", "series capacitance"),
        "Rcp0": Parameter(0.0697776, "ohm", "charge-transfer resistance, constant term"),
        "Rcp1": Parameter(1.50528e-17, "ohm", "charge-transfer resistance, exponential factor"),
        "Rcp2": Parameter(37.223, "1", "charge-transfer resistance, exponent per unit (1-SOC)"),
        "Ccp": Parameter(14.8223, "farad", "charge-transfer capacitance"),
        "Ta": Parameter(292.1, "kelvin", "ambient temperature"),
        "Jt": Parameter(800.0, "joulePerKelvin", "heat capacity of the cell"),
        "ha": Parameter(0.5, "wattPerKelvin", "heat transfer to the ambient"),
        "hcp": Parameter(19.0, "1", "heating coefficient of the charge-transfer branch"),
        "hcs": Parameter(1.0, "1", "heating coefficient of the series branch"),
    }
    initial = (292.1, 7856.3254, 0.0, 0.0)
    # forward Euler is stable for steps under twice the fastest time constant, that of the
    # charge-transfer branch (Rcp * Ccp, about 1 s): longer steps are split
    max_step = 1.0
    default_process_noise = (1e-3, 1e-3, 1e-3, 1e-3)
    default_measurement_noise = (2.0, 0.02)

    def _terms(self, x: Array) -> tuple[Array, Array, Array, Array]:
        """State of charge, bulk voltage, and the voltages over the two RC pairs."""
        p = self.p
        soc = (p["CMax"] - p["qMax"] + x[:, 1]) / p["CMax"]
        cb = ((p["Cbp0"] * soc + p["Cbp1"]) * soc + p["Cbp2"]) * soc + p["Cbp3"]
        return soc, x[:, 1] / cb, x[:, 2] / p["Ccp"], x[:, 3] / p["Cs"]

    def dx(self, x: Array, u: Array) -> Array:
        p = self.p
        soc, vb, vcp, vcs = self._terms(x)
        rcp = p["Rcp0"] + p["Rcp1"] * np.exp(p["Rcp2"] * (1.0 - soc))
        rs = p["Rs"]
        ib = u[:, 0] + (vb - vcp - vcs) / p["Rp"]  # load plus self-discharge
        heating = (rcp * rs * p["ha"] * (p["Ta"] - x[:, 0]) + rcp * vcs**2 * p["hcs"]
                   + rs * vcp**2 * p["hcp"]) / (p["Jt"] * rcp * rs)
        return np.stack([heating, -ib, ib - vcp / rcp, ib - vcs / rs], axis=1)

    def output(self, x: Array) -> Array:
        _, vb, vcp, vcs = self._terms(x)
        return np.stack([x[:, 0], vb - vcp - vcs], axis=1)

    def event_state(self, x: Array) -> Array:
        soc, vb, vcp, vcs = self._terms(x)
        margin = (vb - vcp - vcs - self.p["VEOD"]) / self.p["VDropoff"]
        return np.minimum(soc, margin)[:, None]

    def threshold_met(self, x: Array) -> NDArray[np.bool_]:
        _, vb, vcp, vcs = self._terms(x)
        return ((vb - vcp - vcs) < self.p["VEOD"])[:, None]

    def derive(self, x: Array) -> Array:
        """``soc``: state of charge, 1 full, 0 empty."""
        return self._terms(x)[0][:, None]
