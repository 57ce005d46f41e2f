"""The built-in behaviors by name."""

from __future__ import annotations

import pytest

import holotwin.behaviors as behaviors
from holotwin.behaviors import BEHAVIORS, BatteryCircuit, behavior_class
from holotwin.errors import NotFoundError


def test_every_behavior_is_found_by_its_name() -> None:
    assert set(BEHAVIORS) == {"battery-circuit", "building-zone", "centrifugal-pump",
                              "rotating-machine", "wind-turbine"}
    for name, cls in BEHAVIORS.items():
        assert cls.name == name and behavior_class(name) is cls
        assert cls().behavior_name == name
    assert behavior_class("battery-circuit") is BatteryCircuit


def test_the_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        BEHAVIORS["x"] = BatteryCircuit  # type: ignore[index]


def test_an_unknown_name_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="battery-circuit, building-zone") as caught:
        behavior_class("steam-engine")
    assert (caught.value.kind, caught.value.id) == ("behavior", "steam-engine")


def test_the_package_exports_them() -> None:
    assert {"BEHAVIORS", "behavior_class", "fit_parameters", "FitResult", "CentrifugalPump",
            "RotatingMachine", "WindTurbine", "BuildingZone", "BatteryCircuit", "Behavior",
            "GaussianState"} <= set(behaviors.__all__)
    for name in behaviors.__all__:
        assert hasattr(behaviors, name)
