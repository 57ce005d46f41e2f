"""Analytics (core: pure NumPy/SciPy): streaming anomaly detection, rules for alerts, KPIs.

- :mod:`~holotwin.analytics.detectors`: one reading stream in, one anomaly score per reading
  out (robust z-score, EWMA, CUSUM, windowed Gaussian, relative entropy, river's Half-Space Trees, and the
  ``residual`` detector on a behavior model's innovations);
- :mod:`~holotwin.analytics.expressions` and :mod:`~holotwin.analytics.rules`: conditions in a
  safe expression language, and the raise / clear lifecycle with durations and hysteresis;
- :mod:`~holotwin.analytics.kpi`: availability, MTBF, MTTR, OEE, energy from state history,
  rolled up the twin graph;
- :mod:`~holotwin.analytics.scoring`: the Numenta Anomaly Benchmark's scoring, to evaluate
  detectors (``bench/nab.py``).

The service runs them on live data: :class:`holotwin.service.analytics.AnalyticsEngine`.
"""

from __future__ import annotations

from holotwin.analytics.detectors import (
    DETECTORS,
    CusumDetector,
    Detector,
    EwmaDetector,
    HalfSpaceTreesDetector,
    RelativeEntropyDetector,
    ResidualDetector,
    RobustZDetector,
    WindowedGaussianDetector,
    make_detector,
)
from holotwin.analytics.expressions import UNKNOWN, Expression, Values
from holotwin.analytics.kpi import StatusTimes, parse_kpi_config, rollup, status_times, twin_figures
from holotwin.analytics.rules import SEVERITIES, Rule, RuleState, Transition, render, step

__all__ = [
    "DETECTORS",
    "SEVERITIES",
    "UNKNOWN",
    "CusumDetector",
    "Detector",
    "EwmaDetector",
    "Expression",
    "HalfSpaceTreesDetector",
    "RelativeEntropyDetector",
    "ResidualDetector",
    "RobustZDetector",
    "Rule",
    "RuleState",
    "StatusTimes",
    "Transition",
    "Values",
    "WindowedGaussianDetector",
    "make_detector",
    "parse_kpi_config",
    "render",
    "rollup",
    "status_times",
    "step",
    "twin_figures",
]
