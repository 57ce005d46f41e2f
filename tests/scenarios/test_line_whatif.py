"""The what-if knobs: buffer sizes, maintenance windows, line speed, health-based MTBF."""

from __future__ import annotations

import itertools

import pytest

from holotwin.scenarios import (
    Buffer,
    LineModel,
    Maintenance,
    Station,
    mtbf_from_health,
    simulate_line,
)

HOUR = 3600.0


def _unreliable_line(capacity: int) -> LineModel:
    return LineModel(
        [Station("s1", 50.0, cycle_cv=0.5, mtbf=2 * HOUR, mttr=600.0),
         Station("s2", 55.0, cycle_cv=0.5, mtbf=3 * HOUR, mttr=900.0),
         Station("s3", 48.0, cycle_cv=0.5, mtbf=2 * HOUR, mttr=600.0)],
        [Buffer(capacity), Buffer(capacity)])


def test_a_bigger_buffer_never_lowers_throughput() -> None:
    # Same seed, so the runs share their random numbers; "never lower" within 0.5 % noise.
    throughput = [simulate_line(_unreliable_line(c), 5e5, warmup_s=HOUR, seed=11
                                ).throughput.mean for c in (0, 1, 2, 5, 10, 20)]
    for smaller, bigger in itertools.pairwise(throughput):
        assert bigger >= smaller * 0.995
    assert throughput[-1] > throughput[0] * 1.10  # and buffers do pay here


def _deterministic_line() -> LineModel:
    return LineModel([Station("s1", 30.0), Station("s2", 40.0), Station("s3", 35.0)],
                     [Buffer(5), Buffer(5)])


def test_maintenance_of_the_bottleneck_costs_its_capacity() -> None:
    line = _deterministic_line()
    base = simulate_line(line, 8 * HOUR, seed=1).good.mean
    stopped = simulate_line(line, 8 * HOUR, seed=1,
                            maintenance=[Maintenance("s2", HOUR, HOUR)]).good.mean
    assert base - stopped == pytest.approx(HOUR / 40.0, abs=1)  # 90 parts
    # stopping a faster station costs less: the buffer after it feeds s2 for 5 * 40 s
    feeder = simulate_line(line, 8 * HOUR, seed=1,
                           maintenance=[Maintenance("s1", HOUR, HOUR)]).good.mean
    assert base - feeder == pytest.approx((HOUR - 5 * 40.0) / 40.0, abs=1)  # 85 parts


def test_maintenance_of_the_bottleneck_on_an_unreliable_line() -> None:
    line = _unreliable_line(5)
    base = simulate_line(line, 5e5, warmup_s=HOUR, seed=3, replications=2)
    stopped = simulate_line(line, 5e5, warmup_s=HOUR, seed=3, replications=2,
                            maintenance=[Maintenance("s2", 2e5, 8 * HOUR)])
    assert base.bottleneck == "s2"
    lost = (base.good.mean - stopped.good.mean)
    expected = 8 * HOUR * base.throughput.mean / HOUR  # the line's actual rate
    assert lost == pytest.approx(expected, rel=0.25)
    assert stopped.stations["s2"].idle.mean == pytest.approx(8 * HOUR / (5e5 - HOUR))


def test_line_speed_scales_a_deterministic_line() -> None:
    line = _deterministic_line()
    base = simulate_line(line, 8 * HOUR, warmup_s=HOUR, seed=1).throughput.mean
    assert base == pytest.approx(90.0)
    for speed in (0.8, 1.25, 2.0):
        faster = simulate_line(line, 8 * HOUR, warmup_s=HOUR, seed=1, speed=speed)
        assert faster.throughput.mean == pytest.approx(base * speed, rel=0.005)


def test_a_station_speed_factor_moves_the_bottleneck() -> None:
    line = _deterministic_line().with_station("s2", speed=2.0)  # s2 now at 20 s
    result = simulate_line(line, 8 * HOUR, warmup_s=HOUR, seed=1)
    assert result.bottleneck == "s3"
    assert result.throughput.mean == pytest.approx(HOUR / 35.0, rel=0.005)


def test_health_lowers_mtbf_and_throughput() -> None:
    assert mtbf_from_health(7200.0, 1.0) == 7200.0
    assert mtbf_from_health(7200.0, 0.25) == 1800.0
    healthy = _unreliable_line(5)
    worn = healthy.with_station("s2", mtbf=mtbf_from_health(3 * HOUR, 0.3))
    a = simulate_line(healthy, 5e5, warmup_s=HOUR, seed=5)
    b = simulate_line(worn, 5e5, warmup_s=HOUR, seed=5)
    assert b.stations["s2"].failures.mean > 2.5 * a.stations["s2"].failures.mean
    assert b.throughput.mean < a.throughput.mean * 0.9
