"""The what-if knobs: buffer sizes, maintenance windows, line speed, health-based MTBF."""

from __future__ import annotations

import itertools
import math
from typing import Literal

import pytest

from holotwin.compute import LocalExecutor
from holotwin.errors import InvalidInputError
from holotwin.scenarios import (
    Buffer,
    LineModel,
    Maintenance,
    Station,
    mtbf_from_health,
    simulate_line,
)
from holotwin.scenarios.tasks import run_here

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


@pytest.mark.parametrize(("failures", "seed"), [("operation", 21), ("time", 22)])
def test_maintenance_that_restores_reliability_gives_the_new_availability(
        failures: Literal["operation", "time"], seed: int) -> None:
    # before the window: MTBF 300 s (A = 0.75); after it: MTBF 2,700 s (A = 0.9 with MTTR
    # 300 s). The span observed after the window is about 1,100 failure-repair cycles.
    worn = LineModel([Station("s", 60.0, mtbf=300.0, mttr=300.0, failures=failures)])
    window = Maintenance("s", 0.0, 600.0, mtbf_after=2700.0)
    restored = simulate_line(worn, 3e6 + 600.0, warmup_s=600.0, seed=seed,
                             maintenance=[window]).stations["s"]
    unchanged = simulate_line(worn, 3e6 + 600.0, warmup_s=600.0, seed=seed,
                              maintenance=[Maintenance("s", 0.0, 600.0)]).stations["s"]
    assert restored.availability.mean == pytest.approx(0.9, rel=0.01)
    assert unchanged.availability.mean == pytest.approx(0.5, rel=0.02)
    assert restored.failures.mean == pytest.approx(3e6 / 3000.0, rel=0.08)


def test_maintenance_to_as_good_as_never_failing() -> None:
    line = LineModel([Station("s", 10.0, mtbf=600.0, mttr=60.0)])
    before = simulate_line(line, 5 * HOUR, seed=2)
    fixed = [Maintenance("s", 5 * HOUR, 60.0, mtbf_after=math.inf)]
    after = simulate_line(line, 20 * HOUR, warmup_s=5 * HOUR + 60.0, seed=2, maintenance=fixed)
    assert before.stations["s"].failures.mean > 10
    assert after.stations["s"].failures.mean == 0 and after.stations["s"].down.mean == 0.0
    assert after.throughput.mean == pytest.approx(360.0)
    with pytest.raises(InvalidInputError, match="mtbf_after must be a number > 0"):
        Maintenance("s", 0.0, 60.0, mtbf_after=0.0)


def test_replications_through_a_map_give_the_same_result() -> None:
    line = _unreliable_line(3)
    windows = [Maintenance("s2", 2 * HOUR, HOUR, mtbf_after=6 * HOUR)]
    serial = simulate_line(line, 10 * HOUR, seed=4, replications=4, maintenance=windows)
    seen: list[float] = []
    mapped = simulate_line(line, 10 * HOUR, seed=4, replications=4, maintenance=windows,
                           map=run_here, progress=seen.append)
    assert mapped == serial and seen == [0.25, 0.5, 0.75, 1.0]
    with LocalExecutor(workers=2) as pool:
        assert simulate_line(line, 10 * HOUR, seed=4, replications=4, maintenance=windows,
                             map=pool.map) == serial
