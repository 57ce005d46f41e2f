"""Behavior models (pure NumPy/SciPy): the maths a twin is kept in step with."""

from holotwin.behaviors.base import INTEGRATORS, Array, Behavior, ContinuousBehavior, Parameter
from holotwin.behaviors.battery import BatteryCircuit
from holotwin.behaviors.uncertainty import GaussianState, SampledState, StateDistribution

__all__ = [
    "INTEGRATORS",
    "Array",
    "BatteryCircuit",
    "Behavior",
    "ContinuousBehavior",
    "GaussianState",
    "Parameter",
    "SampledState",
    "StateDistribution",
]
