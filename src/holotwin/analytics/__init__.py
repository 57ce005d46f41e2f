"""Analytics: streaming anomaly detection, rules and alerts, KPIs (core: pure NumPy/SciPy)."""

from __future__ import annotations

__all__: list[str] = []
