"""Bottleneck detection: the active-period method on hand cases and on simulated lines."""

from __future__ import annotations

import pytest

from holotwin.errors import InvalidInputError
from holotwin.scenarios import (
    Buffer,
    LineModel,
    Station,
    active_period_bottleneck,
    simulate_line,
)


def test_a_machine_always_active_is_the_sole_bottleneck() -> None:
    shares = active_period_bottleneck([[(0.0, 3.0), (5.0, 8.0)], [(0.0, 10.0)]], 0.0, 10.0)
    assert shares.sole == (0.0, 1.0)
    assert shares.shifting == (0.0, 0.0)
    assert shares.bottleneck == 1


def test_overlapping_active_periods_make_a_shifting_bottleneck() -> None:
    # A is active on [0, 6) (length 6), then B on [4, 14) (length 10): B is the momentary
    # bottleneck from 4 on, A before; their periods overlap on [4, 6): shifting for both.
    # After 14, A is active on [14, 20) alone.
    shares = active_period_bottleneck([[(0.0, 6.0), (14.0, 20.0)], [(4.0, 14.0)]], 0.0, 20.0)
    assert shares.sole == pytest.approx((4.0 / 20 + 6.0 / 20, 8.0 / 20))
    assert shares.shifting == pytest.approx((2.0 / 20, 2.0 / 20))
    assert shares.bottleneck == 0  # 12 s of 20 as sole or shifting bottleneck, B 10 s


def test_periods_are_clipped_to_the_span() -> None:
    # B's period is the longer one overall, but only 2 s of it are inside [10, 20).
    shares = active_period_bottleneck([[(10.0, 20.0)], [(0.0, 12.0)]], 10.0, 20.0)
    assert shares.bottleneck == 0


def test_bad_periods_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="sorted"):
        active_period_bottleneck([[(5.0, 8.0), (0.0, 3.0)]], 0.0, 10.0)
    with pytest.raises(InvalidInputError, match="after start"):
        active_period_bottleneck([[(0.0, 1.0)]], 10.0, 10.0)


def _line(middle_cycle: float) -> LineModel:
    def station(name: str, cycle: float) -> Station:
        return Station(name, cycle, cycle_cv=0.3, mtbf=3600.0, mttr=300.0)

    return LineModel([station("s1", 50.0), station("s2", middle_cycle), station("s3", 45.0)],
                     [Buffer(4), Buffer(4)])


def test_the_slowest_station_is_the_bottleneck_and_speeding_it_up_moves_it() -> None:
    slow = simulate_line(_line(62.0), 1e6, warmup_s=3600.0, seed=1, replications=2)
    assert slow.bottleneck == "s2"
    s2 = slow.stations["s2"]
    assert s2.bottleneck_sole.mean > 0.5
    assert all(run.bottleneck == "s2" for run in slow.runs)
    # the bottleneck waits least: it is the busiest and barely blocked or starved
    assert s2.busy.mean == max(s.busy.mean for s in slow.stations.values())

    fast = simulate_line(_line(40.0), 1e6, warmup_s=3600.0, seed=1, replications=2)
    assert fast.bottleneck == "s1"  # now the slowest at 50 s
    assert fast.stations["s1"].bottleneck_sole.mean > 0.5
    assert fast.throughput.mean > slow.throughput.mean * 1.15


def test_a_deterministic_line_has_its_slowest_station_as_sole_bottleneck() -> None:
    line = LineModel([Station("a", 30.0), Station("b", 40.0), Station("c", 35.0)],
                     [Buffer(5), Buffer(5)])
    result = simulate_line(line, 8 * 3600.0, warmup_s=600.0, seed=1)
    assert result.bottleneck == "b"
    assert result.stations["b"].bottleneck_sole.mean == pytest.approx(1.0)
    assert result.stations["b"].busy.mean == pytest.approx(1.0)
