"""How the core hands independent work to an executor without knowing it: :class:`TaskMap`.

A scenario, a line simulation or an optimization that has many independent pieces (the
replications of a line, the candidates of a search) takes a ``map`` callable and calls
``map(fn, items, progress=...)``; it must return ``[fn(item) for item in items]`` in order,
and call ``progress`` (if given) with the fraction of items done. Executors
(:mod:`holotwin.compute`) have such a ``map``; :func:`run_here` is the one that runs them in
this process, one after another. ``fn`` and the items must be picklable for a map that sends
them to other processes.

>>> run_here(abs, [-1, 2, -3], progress=print)
0.333...
0.666...
1.0
[1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol, TypeVar

__all__ = ["TaskMap", "run_here"]

T = TypeVar("T")
R = TypeVar("R")


class TaskMap(Protocol):
    """``map(fn, items, progress=None) -> [fn(item) for item in items]``."""

    def __call__(self, fn: Callable[[T], R], items: Iterable[T], *,
                 progress: Callable[[float], None] | None = None) -> list[R]: ...


def run_here(fn: Callable[[T], R], items: Iterable[T], *,
             progress: Callable[[float], None] | None = None) -> list[R]:
    """A :class:`TaskMap` that runs every item in this process, in order."""
    work = list(items)
    results: list[R] = []
    for done, item in enumerate(work, start=1):
        results.append(fn(item))
        if progress is not None:
            progress(done / len(work))
    if not work and progress is not None:
        progress(1.0)
    return results
