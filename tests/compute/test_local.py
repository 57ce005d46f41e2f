"""LocalExecutor: in this process and in a pool of 2 processes, the same results in order."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pytest

from holotwin.compute import ComputeError, LocalExecutor
from holotwin.errors import HolotwinError, InvalidInputError
from tests.compute import tasks

CHUNKS = [(seed, 200, 100) for seed in range(6)]  # (seed, samples, steps)


@pytest.fixture(scope="module")
def pool() -> Iterator[LocalExecutor]:
    with LocalExecutor(workers=2) as executor:
        yield executor


def test_in_process_and_in_processes_give_the_same_results_in_order(
        pool: LocalExecutor) -> None:
    here = LocalExecutor(workers=0)
    assert here.in_process and not pool.in_process and pool.workers == 2
    seen_here: list[float] = []
    seen_pool: list[float] = []
    expected = [tasks.battery_chunk(chunk) for chunk in CHUNKS]
    ours = here.map(tasks.battery_chunk, CHUNKS, progress=seen_here.append)
    theirs = pool.map(tasks.battery_chunk, CHUNKS, progress=seen_pool.append)
    assert len(ours) == len(theirs) == len(CHUNKS)
    for a, b, c in zip(expected, ours, theirs, strict=True):
        assert a.shape == (200, 2) and np.array_equal(a, b) and np.array_equal(a, c)
    assert not np.array_equal(ours[0], ours[1])  # the seeds differ, so do the chunks
    assert seen_here == [k / 6 for k in range(1, 7)]
    assert seen_pool == sorted(seen_pool) and seen_pool[-1] == 1.0 and len(seen_pool) == 6
    assert pool.map(tasks.square, range(40)) == [k * k for k in range(40)]


def test_the_processes_serve_every_map(pool: LocalExecutor) -> None:
    first = set(pool.map(tasks.pid, range(8)))
    second = set(pool.map(tasks.pid, range(8)))
    assert len(first | second) <= 2 and os.getpid() not in first | second


def test_a_single_item_runs_in_this_process(pool: LocalExecutor) -> None:
    seen: list[float] = []
    assert pool.map(tasks.pid, [0], progress=seen.append) == [os.getpid()] and seen == [1.0]


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_a_compute_error(pool: LocalExecutor, workers: int) -> None:
    executor = pool if workers == 2 else LocalExecutor(workers=1)
    with pytest.raises(ComputeError, match="Task 3 of 6 failed: ValueError: item 3 is bad") \
            as caught:
        executor.map(tasks.fail_on_three, range(6))
    assert isinstance(caught.value, HolotwinError) and caught.value.index == 3
    assert isinstance(caught.value.error, ValueError)
    assert isinstance(caught.value.__cause__, ValueError)
    assert executor.map(tasks.square, [2, 3]) == [4, 9]  # still usable


def test_functions_must_be_picklable_for_processes(pool: LocalExecutor) -> None:
    with pytest.raises(InvalidInputError, match="cannot be sent to worker processes"):
        pool.map(lambda x: x, [1])
    assert LocalExecutor(workers=1).map(lambda x: x + 1, [1]) == [2]  # fine in process


def test_no_items(pool: LocalExecutor) -> None:
    seen: list[float] = []
    assert pool.map(tasks.square, [], progress=seen.append) == [] and seen == [1.0]


def test_bad_settings_and_a_closed_executor() -> None:
    for workers in (-1, 2.5, True, "2"):
        with pytest.raises(InvalidInputError, match="workers must be a whole number"):
            LocalExecutor(workers=workers)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="start_method must be one of"):
        LocalExecutor(workers=2, start_method="fork")
    executor = LocalExecutor(workers=2)
    executor.close()
    executor.close()
    with pytest.raises(ComputeError, match="closed"):
        executor.map(tasks.square, [1])
