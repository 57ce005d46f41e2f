"""State estimators (pure NumPy): keep behaviors in step with measurements, batched over twins."""

from holotwin.estimate.base import Estimator

__all__ = ["Estimator"]
