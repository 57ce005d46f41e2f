"""Two machines and one finite buffer against the exact throughput of their Markov chain.

Exponential processing (``cycle_cv = 1`` is the exponential distribution), blocking after
service, and, in the second test, exponential failures and repairs (Buzacott's two-machine
line). The chain is solved in :mod:`tests.scenarios.markov` with numpy alone. Over 3.6e6 to
4e6 simulated s (about 70,000 parts) the simulated throughput has a standard deviation of
about 0.35 % across seeds, so the tolerance is 1.5 %.
"""

from __future__ import annotations

import pytest

from holotwin.scenarios import Buffer, LineModel, Station, simulate_line
from tests.scenarios.markov import tandem_closed_form, two_machine_throughput

TOLERANCE = 0.015


@pytest.mark.parametrize(("mu1", "mu2", "capacity"),
                         [(1 / 50, 1 / 60, 2), (1 / 60, 1 / 45, 0), (1 / 40, 1 / 40, 5)])
def test_the_markov_chain_matches_the_closed_form(mu1: float, mu2: float, capacity: int
                                                  ) -> None:
    assert two_machine_throughput(mu1, mu2, capacity) == pytest.approx(
        tandem_closed_form(mu1, mu2, capacity), rel=1e-9)


@pytest.mark.parametrize(("cycles", "capacity", "seed"),
                         [((50.0, 60.0), 2, 3), ((60.0, 45.0), 0, 4)])
def test_exponential_tandem_throughput(cycles: tuple[float, float], capacity: int, seed: int
                                       ) -> None:
    line = LineModel([Station("m1", cycles[0], cycle_cv=1.0),
                      Station("m2", cycles[1], cycle_cv=1.0)], [Buffer(capacity)])
    exact = 3600.0 * tandem_closed_form(1 / cycles[0], 1 / cycles[1], capacity)
    result = simulate_line(line, 3.6e6, warmup_s=3600.0, seed=seed)
    assert result.throughput.mean == pytest.approx(exact, rel=TOLERANCE)
    # nothing is scrapped and nothing fails: what leaves the line is what machine 2 makes
    assert result.good.mean == result.stations["m2"].good.mean


@pytest.mark.parametrize(("failures", "seed"), [("operation", 5), ("time", 6)])
def test_unreliable_two_machine_line_throughput(failures: str, seed: int) -> None:
    operation = failures == "operation"
    line = LineModel(
        [Station("m1", 50.0, cycle_cv=1.0, mtbf=2000.0, mttr=200.0,
                 failures="operation" if operation else "time"),
         Station("m2", 55.0, cycle_cv=1.0, mtbf=3000.0, mttr=300.0,
                 failures="operation" if operation else "time")],
        [Buffer(3)])
    exact = 3600.0 * two_machine_throughput(1 / 50, 1 / 55, 3, p1=1 / 2000, r1=1 / 200,
                                            p2=1 / 3000, r2=1 / 300,
                                            operation_dependent=operation)
    result = simulate_line(line, 4e6, warmup_s=3600.0, seed=seed)
    assert result.throughput.mean == pytest.approx(exact, rel=TOLERANCE)
