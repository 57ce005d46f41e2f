"""The built-in behaviors by name: :data:`BEHAVIORS` and :func:`behavior_class`.

A twin model binds a behavior by its ``name`` (``"battery-circuit"``); this is where the name
is looked up. The mapping is read-only and fixed at import: it holds classes, never live state.

>>> sorted(BEHAVIORS)
['battery-circuit', 'building-zone', 'centrifugal-pump', 'rotating-machine', 'wind-turbine']
>>> behavior_class("wind-turbine").__name__
'WindTurbine'
>>> behavior_class("steam-engine")
Traceback (most recent call last):
...
holotwin.errors.NotFoundError: Behavior 'steam-engine' was not found; the built-in behaviors: \
battery-circuit, building-zone, centrifugal-pump, rotating-machine, wind-turbine
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from holotwin.behaviors.base import Behavior
from holotwin.behaviors.battery import BatteryCircuit
from holotwin.behaviors.building_zone import BuildingZone
from holotwin.behaviors.pump import CentrifugalPump
from holotwin.behaviors.rotating_machine import RotatingMachine
from holotwin.behaviors.wind_turbine import WindTurbine
from holotwin.errors import NotFoundError

__all__ = ["BEHAVIORS", "behavior_class"]

BEHAVIORS: Final[Mapping[str, type[Behavior]]] = MappingProxyType({
    cls.name: cls
    for cls in (BatteryCircuit, BuildingZone, CentrifugalPump, RotatingMachine, WindTurbine)
})
"""Every built-in behavior class by its ``name``."""


def behavior_class(name: str) -> type[Behavior]:
    """The built-in behavior class called ``name``; :class:`NotFoundError` if there is none."""
    try:
        return BEHAVIORS[name]
    except KeyError:
        raise NotFoundError(
            "behavior", name, f"Behavior '{name}' was not found; the built-in behaviors: "
            f"{', '.join(sorted(BEHAVIORS))}") from None
