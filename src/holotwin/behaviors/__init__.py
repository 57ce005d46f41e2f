"""Behavior models (pure NumPy/SciPy): the maths a twin is kept in step with."""

from holotwin.behaviors.base import INTEGRATORS, Array, Behavior, ContinuousBehavior, Parameter
from holotwin.behaviors.battery import BatteryCircuit
from holotwin.behaviors.building_zone import BuildingZone
from holotwin.behaviors.fit import FitResult, fit_parameters
from holotwin.behaviors.library import BEHAVIORS, behavior_class
from holotwin.behaviors.pump import CentrifugalPump
from holotwin.behaviors.rotating_machine import RotatingMachine
from holotwin.behaviors.uncertainty import GaussianState, SampledState, StateDistribution
from holotwin.behaviors.wind_turbine import WindTurbine

__all__ = [
    "BEHAVIORS",
    "INTEGRATORS",
    "Array",
    "BatteryCircuit",
    "Behavior",
    "BuildingZone",
    "CentrifugalPump",
    "ContinuousBehavior",
    "FitResult",
    "GaussianState",
    "Parameter",
    "RotatingMachine",
    "SampledState",
    "StateDistribution",
    "WindTurbine",
    "behavior_class",
    "fit_parameters",
]
