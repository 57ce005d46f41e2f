"""OEE on hand-computable cases: deterministic cycles, no failures, a yield of 0.9.

Station 1 (20 s) feeds station 2 (30 s, yield 0.9) through a buffer of 5. After the warm-up
station 2 works without pause and station 1 is blocked a third of the time. Over 100 h
station 2 completes 12,000 parts, so the binomial count of good ones has a standard
deviation of 0.0027 in quality: the tolerance on quality is 0.01.
"""

from __future__ import annotations

import pytest

from holotwin.scenarios import Buffer, LineModel, Maintenance, Station, simulate_line

HOUR = 3600.0
WARMUP, HORIZON = 600.0, 600.0 + 100 * HOUR
SPAN = HORIZON - WARMUP


def _line() -> LineModel:
    return LineModel([Station("s1", 20.0), Station("s2", 30.0, yield_=0.9)], [Buffer(5)])


def test_oee_of_a_line_with_yield_loss() -> None:
    result = simulate_line(_line(), HORIZON, warmup_s=WARMUP, seed=2)
    s1, s2 = result.stations["s1"], result.stations["s2"]
    run = result.runs[0]

    assert s2.busy.mean == pytest.approx(1.0)
    assert s2.good.mean + s2.scrap.mean == SPAN / 30.0  # 12,000 parts, every one counted
    assert (s2.availability.mean, s2.performance.mean) == pytest.approx((1.0, 1.0))
    assert s2.quality.mean == pytest.approx(0.9, abs=0.01)
    assert s2.oee.mean == pytest.approx(30.0 * s2.good.mean / SPAN)  # OEE = ict * good / planned

    assert (s1.busy.mean, s1.blocked.mean, s1.starved.mean) == pytest.approx(
        (2 / 3, 1 / 3, 0.0), abs=1e-3)
    assert s1.good.mean == SPAN / 30.0  # paced by s2
    assert s1.availability.mean == 1.0
    assert s1.performance.mean == pytest.approx(2 / 3, abs=1e-3)  # blocked is a speed loss
    assert (s1.quality.mean, s1.oee.mean) == pytest.approx((1.0, 2 / 3), abs=1e-3)

    assert result.bottleneck == "s2"
    assert (result.availability.mean, result.performance.mean) == pytest.approx((1.0, 1.0))
    assert result.quality.mean == pytest.approx(s2.quality.mean)
    assert result.oee.mean == pytest.approx(run.availability * run.performance * run.quality)
    assert result.oee.mean == pytest.approx(30.0 * result.good.mean / SPAN)
    assert result.throughput.mean == pytest.approx(result.good.mean / 100.0)
    assert result.buffers[0].mean_level.mean == pytest.approx(5.0, abs=0.01)  # always full


def test_maintenance_of_one_station_is_planned_for_it_and_a_loss_for_the_line() -> None:
    stop = Maintenance("s2", WARMUP + 50 * HOUR, 10 * HOUR)
    result = simulate_line(_line(), HORIZON, warmup_s=WARMUP, seed=2, maintenance=[stop])
    s1, s2 = result.stations["s1"], result.stations["s2"]
    assert s2.idle.mean == pytest.approx(0.1)
    assert (s2.availability.mean, s2.performance.mean) == pytest.approx((1.0, 1.0), abs=1e-3)
    assert s2.good.mean + s2.scrap.mean == pytest.approx(0.9 * SPAN / 30.0, abs=1)
    # s1 is blocked all through the window: its performance drops to 0.9 * 2/3
    assert s1.performance.mean == pytest.approx(0.6, abs=1e-3)
    assert result.bottleneck == "s2"
    assert result.availability.mean == pytest.approx(0.9)  # the line was planned to run
    assert result.performance.mean == pytest.approx(1.0, abs=1e-3)
    assert result.oee.mean == pytest.approx(0.9 * result.quality.mean, abs=1e-3)


def test_maintenance_of_every_station_is_a_planned_stop_of_the_line() -> None:
    line = LineModel([Station("only", 30.0)])
    stop = Maintenance("only", WARMUP + 10 * HOUR, 10 * HOUR)
    result = simulate_line(line, HORIZON, warmup_s=WARMUP, seed=2, maintenance=[stop])
    assert result.stations["only"].idle.mean == pytest.approx(0.1)
    assert (result.availability.mean, result.performance.mean, result.quality.mean,
            result.oee.mean) == pytest.approx((1.0, 1.0, 1.0, 1.0))
    assert result.good.mean == 0.9 * SPAN / 30.0


def test_failures_are_an_availability_loss() -> None:
    line = LineModel([Station("only", 30.0, mtbf=HOUR, mttr=400.0, repair="deterministic")])
    result = simulate_line(line, HORIZON, warmup_s=WARMUP, seed=4)
    only = result.stations["only"]
    assert only.availability.mean == pytest.approx(1.0 - only.down.mean)
    # (a repair may straddle the end of the span)
    assert only.down.mean == pytest.approx(400.0 * only.failures.mean / SPAN, abs=400.0 / SPAN)
    assert only.performance.mean == pytest.approx(1.0, abs=1e-3)
    assert result.availability.mean == pytest.approx(only.availability.mean)
    assert result.oee.mean == pytest.approx(only.oee.mean)
