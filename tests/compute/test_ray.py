"""RayExecutor on a local Ray instance with 2 CPUs, started once for this module (Ray takes
a few seconds to start); marked ``ray``."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from holotwin.compute import ComputeError, LocalExecutor, RayExecutor, open_executor
from holotwin.errors import InvalidInputError
from tests.compute import tasks

ray = pytest.importorskip("ray", reason="the Ray executor needs Ray (pip install "
                                         "'holotwin[ray]')")

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def executor() -> Iterator[RayExecutor]:
    if ray.is_initialized():
        pytest.skip("this process is connected to Ray already")
    # Ray's workers import the task functions by module name, from the driver's working
    # directory: the repository root, where the package "tests" is
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        started = RayExecutor(num_cpus=2)
    except ComputeError as exc:
        pytest.skip(f"Ray cannot start a local instance here: {exc}")
    finally:
        os.chdir(cwd)
    assert started.started and started.workers == 2
    yield started
    started.close()
    assert not ray.is_initialized()


def test_results_in_order_progress_and_errors(executor: RayExecutor) -> None:
    seen: list[float] = []
    assert executor.map(tasks.square, range(12), progress=seen.append) == [
        k * k for k in range(12)]
    assert len(seen) == 12 and seen == sorted(seen) and seen[-1] == 1.0
    assert executor.map(lambda x: x + 1, [1, 2]) == [2, 3]  # Ray pickles functions by value
    assert executor.map(functools.partial(pow, 2), [3, 4]) == [8, 16]  # any callable
    with pytest.raises(ComputeError, match="Task 3 of 6 failed: ValueError: item 3 is bad") \
            as caught:
        executor.map(tasks.fail_on_three, range(6))
    assert caught.value.index == 3 and isinstance(caught.value.error, ValueError)
    assert executor.map(tasks.square, [5]) == [25]  # still usable


def test_a_battery_ensemble_matches_the_local_result(executor: RayExecutor) -> None:
    chunks = [(seed, 500, 300) for seed in range(4)]
    here = LocalExecutor(workers=1).map(tasks.battery_chunk, chunks)
    there = executor.map(tasks.battery_chunk, chunks)
    assert all(np.array_equal(a, b) for a, b in zip(here, there, strict=True))


def test_it_leaves_a_connection_it_did_not_make_open(executor: RayExecutor) -> None:
    with open_executor("ray") as joined:
        assert isinstance(joined, RayExecutor) and not joined.started
        assert joined.map(tasks.square, [3]) == [9]
    assert ray.is_initialized()
    with pytest.raises(ComputeError, match="closed"):
        joined.map(tasks.square, [3])


def test_bad_settings() -> None:
    with pytest.raises(InvalidInputError, match="address must be None"):
        RayExecutor(address="localhost:6379")
    with pytest.raises(InvalidInputError, match="num_cpus sizes a local Ray instance"):
        RayExecutor(address="auto", num_cpus=2)
    with pytest.raises(InvalidInputError, match="num_cpus must be a whole number"):
        RayExecutor(num_cpus=0)


def test_line_scenarios_and_optimizations_on_ray_match_the_local_run(
        executor: RayExecutor) -> None:
    from holotwin.clock import ManualClock
    from holotwin.demo.plant import build_plant
    from holotwin.service import TwinService
    from holotwin.store import SqliteStore

    service = TwinService(SqliteStore(":memory:"), ManualClock(1_700_000_000.0))
    build_plant(service, lines=1, machines_per_line=3)
    spec = {"kind": "line", "line": "line-1", "horizon": 1800, "replications": 3, "seed": 9,
            "defaults": {"mtbf": 600.0, "mttr": 30.0, "cycleCv": 0.2},
            "overrides": {"maintenance": [{"station": "machine-1-2", "start": 0,
                                           "duration": 300, "restore": True}]}}
    search = {"scenario": spec, "objective": {"kpi": "/good/mean"},
              "knobs": [{"path": "/overrides/maintenance/0/start", "values": [0, 600, 1200]}]}
    here = service.run_scenario(service.create_scenario(spec)["id"])
    best_here = service.run_optimization(service.create_optimization(search)["id"])
    service.executor = executor  # the module's Ray instance (not closed with the service)
    there = service.run_scenario(service.create_scenario(spec)["id"])
    best_there = service.run_optimization(service.create_optimization(search)["id"])
    assert there["results"] == here["results"]
    assert best_there["results"]["best"] == best_here["results"]["best"]
    service.store.close()
