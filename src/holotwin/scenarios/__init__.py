"""What-if scenarios (pure core).

The production-line twin: a serial line of stations and buffers simulated as discrete events
with SimPy (:mod:`holotwin.scenarios.line`), its KPIs, OEE and confidence intervals
(:mod:`holotwin.scenarios.line_kpi`) and shifting-bottleneck detection
(:mod:`holotwin.scenarios.bottleneck`). What-if runs of forked twins live in
:mod:`holotwin.scenarios.whatif`.
"""

from holotwin.scenarios.bottleneck import BottleneckShares, active_period_bottleneck
from holotwin.scenarios.line import (
    Buffer,
    LineModel,
    Maintenance,
    Station,
    mtbf_from_health,
    simulate_line,
)
from holotwin.scenarios.line_kpi import (
    BufferRun,
    BufferSummary,
    Estimate,
    LineResult,
    LineRun,
    StationRun,
    StationSummary,
)

__all__ = [
    "BottleneckShares",
    "Buffer",
    "BufferRun",
    "BufferSummary",
    "Estimate",
    "LineModel",
    "LineResult",
    "LineRun",
    "Maintenance",
    "Station",
    "StationRun",
    "StationSummary",
    "active_period_bottleneck",
    "mtbf_from_health",
    "simulate_line",
]
