"""Predictors (pure NumPy): time-to-event and trajectories as distributions."""

from holotwin.predict.base import BANDS, Load, PiecewiseLoad, Prediction, Predictor, TimeOfEvent
from holotwin.predict.monte_carlo import MonteCarloPredictor
from holotwin.predict.unscented import UnscentedTransformPredictor

__all__ = [
    "BANDS",
    "Load",
    "MonteCarloPredictor",
    "PiecewiseLoad",
    "Prediction",
    "Predictor",
    "TimeOfEvent",
    "UnscentedTransformPredictor",
]
