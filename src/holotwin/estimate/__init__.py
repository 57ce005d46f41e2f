"""State estimators (pure NumPy): keep behaviors in step with measurements, batched over twins.

- :class:`KalmanFilter`: the extended Kalman filter (exact for linear behaviors);
- :class:`UnscentedKalmanFilter`: sigma points through the nonlinear maths, no derivatives;
- :class:`ParticleFilter`: weighted samples, for distributions far from Gaussian.

All three follow the :class:`Estimator` API: ``estimate(t, u, z, mask=None)`` and ``state``.
"""

from holotwin.estimate.base import Estimator, Innovation
from holotwin.estimate.kalman import KalmanFilter
from holotwin.estimate.particle import ParticleFilter
from holotwin.estimate.unscented import UnscentedKalmanFilter

__all__ = ["Estimator", "Innovation", "KalmanFilter", "ParticleFilter", "UnscentedKalmanFilter"]
