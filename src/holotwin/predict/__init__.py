"""Predictors (pure NumPy): time-to-event and trajectories as distributions."""

from holotwin.predict.base import BANDS, Load, PiecewiseLoad, Prediction, Predictor, TimeOfEvent

__all__ = ["BANDS", "Load", "PiecewiseLoad", "Prediction", "Predictor", "TimeOfEvent"]
