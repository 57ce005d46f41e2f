"""The executor API: run many independent calls ``fn(item)``, here, in processes or on Ray.

An :class:`Executor` runs one function over many items (chunks of a scenario ensemble, twins
of a fleet) and returns the results in the items' order, whatever order they finish in.
``fn`` and the items must be picklable when they leave this process (a module-level
function, not a lambda or a local function, for process pools; Ray pickles functions by
value, so a lambda also works there). ``progress``, if given, is called in this process with
the fraction of items done (0 < fraction <= 1) each time one finishes; it reaches 1.0 at the
end (at once for no items).

A task that raises stops the map: the tasks not yet started are cancelled and
:class:`ComputeError` is raised, naming the item's ``index`` and carrying the task's exception
as ``error`` (and as ``__cause__``). An executor is closed with :meth:`Executor.close` or by
leaving a ``with`` block; it can run many maps before that.

>>> from holotwin.compute import LocalExecutor
>>> with LocalExecutor(workers=1) as executor:      # in this process
...     executor.map(abs, [-3, 1, -2])
[3, 1, 2]
>>> with LocalExecutor(workers=1) as executor:
...     executor.map(int, ["1", "x"])
Traceback (most recent call last):
...
holotwin.compute.base.ComputeError: Task 1 of 2 failed: ValueError: invalid literal for int() \
with base 10: 'x'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import ClassVar, Self, TypeVar

from holotwin.errors import HolotwinError

__all__ = ["ComputeError", "Executor", "Progress"]

T = TypeVar("T")
R = TypeVar("R")

#: called with the fraction of items done, in (0, 1]
Progress = Callable[[float], None]


class ComputeError(HolotwinError):
    """A task failed, or the backend did (a worker died, Ray would not start).

    ``index`` is the position of the failed item (None when the backend failed), ``error``
    the exception the task raised (None when the backend failed)."""

    code = "ComputeError"

    def __init__(self, message: str, *, index: int | None = None,
                 error: BaseException | None = None) -> None:
        super().__init__(message)
        self.index = index
        self.error = error


def task_failed(index: int, total: int, error: BaseException) -> ComputeError:
    """The :class:`ComputeError` for item ``index`` of ``total`` whose task raised ``error``."""
    return ComputeError(f"Task {index} of {total} failed: {type(error).__name__}: {error}",
                        index=index, error=error)


class Executor(ABC):
    """Runs ``fn(item)`` for many items; see the module docs."""

    #: the backend's name, as :func:`~holotwin.compute.open_executor` spells it
    kind: ClassVar[str] = ""

    @abstractmethod
    def map(self, fn: Callable[[T], R], items: Iterable[T], *,
            progress: Progress | None = None) -> list[R]:
        """``[fn(item) for item in items]``, computed by the backend, in the items' order."""

    @abstractmethod
    def close(self) -> None:
        """Release the backend's workers (idempotent)."""

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""
        return 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

