"""Run tasks in this process, or in a pool of processes on this machine: :class:`LocalExecutor`.

``LocalExecutor(workers=1)`` (or 0) runs the tasks one after another in this process: no
start-up, no pickling, exceptions with their own tracebacks; the embedded default.
``LocalExecutor(workers=N)`` runs them in ``N`` worker processes of a
:class:`concurrent.futures.ProcessPoolExecutor` (``workers=None``: one per CPU this process may
use), started with ``forkserver`` where the platform has it (Linux) and ``spawn`` elsewhere,
never ``fork``: forking a process that runs threads (BLAS, Ray, a web server) can deadlock the
child. The processes start on the first map and serve every map until :meth:`close`.

NumPy work that is already vectorized gains from processes only when each task is long
enough to pay for sending its items and results (pickled) and, the first time, for starting
the processes (about a second: each imports NumPy and holotwin): give each task a chunk of
thousands of samples, not one. A map of a single item runs in this process.

>>> with LocalExecutor(workers=0) as executor:
...     done = []
...     executor.map(len, ["a", "bb", "ccc", "dddd"], progress=done.append)
...     done
[1, 2, 3, 4]
[0.25, 0.5, 0.75, 1.0]
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from holotwin.compute.base import ComputeError, Executor, Progress, task_failed
from holotwin.errors import InvalidInputError

__all__ = ["START_METHODS", "LocalExecutor", "default_workers"]

T = TypeVar("T")
R = TypeVar("R")

#: process start methods a pool may use (``fork`` is not one: see the module docs)
START_METHODS = ("forkserver", "spawn")


def default_workers() -> int:
    """The CPUs this process may run on (its affinity where the platform tells it)."""
    affinity = getattr(os, "sched_getaffinity", None)
    if affinity is not None:
        return max(1, len(affinity(0)))
    return max(1, os.cpu_count() or 1)


def check_picklable(fn: object) -> None:
    """Raise :class:`InvalidInputError` unless ``fn`` can be sent to another process."""
    try:
        pickle.dumps(fn)
    except (pickle.PicklingError, AttributeError, TypeError) as exc:
        raise InvalidInputError(
            f"{fn!r} cannot be sent to worker processes ({exc}); pass a function defined at "
            "the top level of a module") from exc


class LocalExecutor(Executor):
    """Runs tasks in this process (``workers`` 0 or 1) or in ``workers`` local processes
    (None: one per CPU); ``start_method``: "forkserver" or "spawn" (default: forkserver where
    available). See the module docs."""

    kind = "local"

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        if workers is None:
            workers = default_workers()
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise InvalidInputError(f"workers must be a whole number >= 0 (0 or 1: in this "
                                    f"process), got {workers!r}")
        available = multiprocessing.get_all_start_methods()
        if start_method is None:
            start_method = "forkserver" if "forkserver" in available else "spawn"
        if start_method not in START_METHODS or start_method not in available:
            usable = [m for m in START_METHODS if m in available]
            raise InvalidInputError(f"start_method must be one of {', '.join(usable)} here, got "
                                    f"{start_method!r}")
        self._workers = workers
        self.start_method = start_method
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def workers(self) -> int:
        return max(1, self._workers)

    @property
    def in_process(self) -> bool:
        """Whether tasks run in this process."""
        return self._workers <= 1

    def __repr__(self) -> str:
        where = "in process" if self.in_process else \
            f"{self._workers} processes, {self.start_method}"
        return f"LocalExecutor({where})"

    def map(self, fn: Callable[[T], R], items: Iterable[T], *,
            progress: Progress | None = None) -> list[R]:
        if self._closed:
            raise ComputeError("This local executor is closed")
        work = list(items)
        if not work:
            if progress is not None:
                progress(1.0)
            return []
        if self.in_process:
            return self._run_here(fn, work, progress)
        check_picklable(fn)
        if len(work) == 1:  # nothing to share out: no pickling, no pool to start
            return self._run_here(fn, work, progress)
        return self._run_in_pool(fn, work, progress)

    def _run_here(self, fn: Callable[[T], R], work: list[T], progress: Progress | None
                  ) -> list[R]:
        results: list[R] = []
        for index, item in enumerate(work):
            try:
                results.append(fn(item))
            except Exception as exc:  # any task error is reported as the task's failure
                raise task_failed(index, len(work), exc) from exc
            if progress is not None:
                progress((index + 1) / len(work))
        return results

    def _open(self) -> ProcessPoolExecutor:
        with self._lock:  # maps from several threads (scenarios run in the background)
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self._workers,
                    mp_context=multiprocessing.get_context(self.start_method))
            return self._pool

    def _run_in_pool(self, fn: Callable[[T], R], work: list[T], progress: Progress | None
                     ) -> list[R]:
        pool = self._open()
        futures: list[Future[R]] = []
        try:
            futures = [pool.submit(fn, item) for item in work]
            position = {future: index for index, future in enumerate(futures)}
            for done, future in enumerate(as_completed(futures), start=1):
                error = future.exception()
                if isinstance(error, BrokenProcessPool):
                    self._discard_pool()
                    raise ComputeError(
                        f"A worker process died while running task {position[future]} of "
                        f"{len(work)} ({error}); the pool is restarted on the next map",
                        index=position[future]) from error
                if error is not None:
                    raise task_failed(position[future], len(work), error) from error
                if progress is not None:
                    progress(done / len(work))
            return [future.result() for future in futures]
        except BrokenProcessPool as exc:  # from submit, when the pool broke before
            self._discard_pool()
            raise ComputeError(f"The worker processes died ({exc}); the pool is restarted on "
                               "the next map") from exc
        finally:
            for future in futures:
                future.cancel()  # the tasks not started yet, after a failure

    def _discard_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
