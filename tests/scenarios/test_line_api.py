"""Input validation, seeding, replications and confidence intervals, progress, public API."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy import stats

import holotwin.scenarios
from holotwin.errors import InvalidInputError
from holotwin.scenarios import (
    Buffer,
    Estimate,
    LineModel,
    Maintenance,
    Station,
    mtbf_from_health,
    simulate_line,
)


def _line() -> LineModel:
    return LineModel([Station("a", 20.0, cycle_cv=0.5, mtbf=3600.0, mttr=300.0),
                      Station("b", 25.0, cycle_cv=0.5, yield_=0.95)], [Buffer(3)])


@pytest.mark.parametrize(("make", "message"), [
    (lambda: Station("", 10.0), "non-empty string"),
    (lambda: Station("s", -1.0), "cycle_time must be a finite number > 0, got -1.0"),
    (lambda: Station("s", math.inf), "cycle_time must be a finite number > 0"),
    (lambda: Station("s", "10"), "cycle_time must be a number, got '10'"),
    (lambda: Station("s", 10.0, cycle_cv=-0.1), "cycle_cv must be a finite number >= 0"),
    (lambda: Station("s", 10.0, mtbf=0.0), "mtbf must be a number > 0"),
    (lambda: Station("s", 10.0, mttr=math.nan), "mttr must be a number"),
    (lambda: Station("s", 10.0, yield_=1.5), "yield_ must be in (0, 1]"),
    (lambda: Station("s", 10.0, yield_=0.0), "yield_ must be a finite number > 0"),
    (lambda: Station("s", 10.0, speed=0.0), "speed must be a finite number > 0"),
    (lambda: Station("s", 10.0, failures="always"), "failures must be 'operation' or 'time'"),
    (lambda: Station("s", 10.0, repair="weibull"), "repair must be 'exponential' or"),
    (lambda: Station("s", True), "cycle_time must be a number, got True"),
    (lambda: Buffer(-1), "Buffer capacity must be an integer >= 0, got -1"),
    (lambda: Buffer(2.5), "Buffer capacity must be an integer >= 0, got 2.5"),
    (lambda: LineModel([]), "at least one station"),
    (lambda: LineModel(["a"]), "stations[0] must be a Station"),
    (lambda: LineModel([Station("a", 1.0), Station("a", 2.0)], [Buffer(1)]),
     "unique; repeated: a"),
    (lambda: LineModel([Station("a", 1.0), Station("b", 2.0)]), "needs 1 buffer(s), got 0"),
    (lambda: LineModel([Station("a", 1.0)], [3]), "buffers[0] must be a Buffer"),
    (lambda: Maintenance("a", -5.0, 10.0), "start must be a finite number >= 0"),
    (lambda: Maintenance("a", 5.0, 0.0), "duration must be a finite number > 0"),
    (lambda: mtbf_from_health(3600.0, 1.2), "health must be in (0, 1]"),
    (lambda: mtbf_from_health(-1.0, 0.5), "base_mtbf must be a number > 0"),
    (lambda: _line().with_station("zz", speed=2.0), "no station 'zz'"),
    (lambda: _line().with_station("a", colour=2.0), "no field 'colour'"),
    (lambda: _line().with_buffers([1, 2]), "needs 1 buffer(s), got 2"),
])
def test_bad_models_are_refused_with_clear_messages(make: Any, message: str) -> None:
    with pytest.raises(InvalidInputError) as error:
        make()
    assert message in str(error.value)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"horizon_s": 0.0}, "horizon_s must be a finite number > 0"),
    ({"warmup_s": 3600.0}, "warmup_s (3600.0) must be less than horizon_s (3600.0)"),
    ({"warmup_s": -1.0}, "warmup_s must be a finite number >= 0"),
    ({"seed": -1}, "seed must be an integer >= 0"),
    ({"seed": 1.5}, "seed must be an integer >= 0"),
    ({"replications": 0}, "replications must be an integer >= 1"),
    ({"speed": -1.0}, "speed must be a finite number > 0"),
    ({"maintenance": [Maintenance("nope", 0.0, 10.0)]}, "no station 'nope'"),
    ({"maintenance": Maintenance("a", 0.0, 10.0)}, "must be a list of Maintenance"),
    ({"maintenance": [("a", 0.0, 10.0)]}, "maintenance[0] must be a Maintenance"),
    ({"progress": 3}, "progress must be a callable"),
    ({"model": "line"}, "model must be a LineModel"),
])
def test_bad_runs_are_refused_with_clear_messages(kwargs: dict[str, Any], message: str
                                                  ) -> None:
    args: dict[str, Any] = {"model": _line(), "horizon_s": 3600.0, "seed": 1, **kwargs}
    with pytest.raises(InvalidInputError) as error:
        simulate_line(**args)
    assert message in str(error.value)


def test_the_seed_fixes_the_result() -> None:
    one = simulate_line(_line(), 20 * 3600.0, seed=3)
    again = simulate_line(_line(), 20 * 3600.0, seed=3)
    other = simulate_line(_line(), 20 * 3600.0, seed=4)
    assert one.runs == again.runs
    assert one.runs[0] != other.runs[0]


def test_replications_give_student_t_intervals() -> None:
    result = simulate_line(_line(), 20 * 3600.0, seed=3, replications=5)
    values = np.array([run.throughput for run in result.runs])
    assert len(set(values.tolist())) == 5  # independent replications
    half = stats.t.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert result.throughput.n == 5
    assert result.throughput.mean == pytest.approx(values.mean())
    assert (result.throughput.low, result.throughput.high) == pytest.approx(
        (values.mean() - half, values.mean() + half))
    assert result.throughput.half_width == pytest.approx(half)
    assert result.stations["b"].quality.low < 0.95 < result.stations["b"].quality.high
    # one replication: no interval
    single = simulate_line(_line(), 3600.0, seed=3)
    assert math.isnan(single.throughput.low) and math.isnan(single.throughput.high)
    assert Estimate.of([2.0]).mean == 2.0


def test_shares_of_every_station_add_up_to_one() -> None:
    result = simulate_line(_line(), 20 * 3600.0, warmup_s=3600.0, seed=5,
                           maintenance=[Maintenance("b", 5 * 3600.0, 3600.0)])
    for run in result.runs:
        for s in run.stations:
            assert s.busy + s.blocked + s.starved + s.down + s.idle == pytest.approx(1.0)
            assert min(s.busy, s.blocked, s.starved, s.down, s.idle) >= 0.0
        assert 0.0 <= run.buffers[0].mean_level <= 3.0


def test_progress_is_reported_up_to_one() -> None:
    seen: list[float] = []
    simulate_line(_line(), 3600.0, seed=1, replications=3, progress=seen.append)
    assert seen == sorted(seen)
    assert 0.0 < seen[0] and seen[-1] == 1.0
    assert len(seen) == 3 * 20


def test_the_public_names_are_curated() -> None:
    names = holotwin.scenarios.__all__
    assert len(set(names)) == len(names) and names == sorted(names)
    for name in names:
        assert hasattr(holotwin.scenarios, name)
