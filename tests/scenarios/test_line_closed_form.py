"""A single unreliable station against the closed form A = MTBF / (MTBF + MTTR).

4e6 simulated s with MTBF 900 s and MTTR 100 s is about 4,000 failure-repair cycles; the
standard deviation of the simulated availability is then about 0.002 (0.25 % relative), so
the 1 % tolerance is some four standard deviations wide.
"""

from __future__ import annotations

from typing import Literal

import pytest

from holotwin.scenarios import LineModel, Station, simulate_line

MTBF, MTTR, CYCLE, HORIZON = 900.0, 100.0, 60.0, 4e6
AVAILABILITY = MTBF / (MTBF + MTTR)  # 0.9


@pytest.mark.parametrize(("failures", "seed"), [("operation", 7), ("time", 8)])
def test_availability_and_throughput_of_one_unreliable_station(
        failures: Literal["operation", "time"], seed: int) -> None:
    line = LineModel([Station("s", CYCLE, mtbf=MTBF, mttr=MTTR, failures=failures)])
    result = simulate_line(line, HORIZON, seed=seed)
    station = result.stations["s"]

    assert station.availability.mean == pytest.approx(AVAILABILITY, rel=0.01)
    assert station.down.mean == pytest.approx(1.0 - station.availability.mean, abs=1e-12)
    # a never-starved, never-blocked station: up time is all processing
    assert station.busy.mean == pytest.approx(station.availability.mean, abs=1e-12)
    assert station.failures.mean == pytest.approx(HORIZON / (MTBF + MTTR), rel=0.05)
    # deterministic cycles: throughput = A * 3600 / cycle time (54 parts an hour)
    assert result.throughput.mean == pytest.approx(AVAILABILITY * 3600.0 / CYCLE, rel=0.01)
    assert result.throughput.mean == pytest.approx(
        station.availability.mean * 3600.0 / CYCLE, rel=1e-3)


def test_deterministic_repairs_give_the_same_availability() -> None:
    line = LineModel([Station("s", CYCLE, mtbf=MTBF, mttr=MTTR, repair="deterministic")])
    station = simulate_line(line, HORIZON, seed=9).stations["s"]
    assert station.availability.mean == pytest.approx(AVAILABILITY, rel=0.01)
