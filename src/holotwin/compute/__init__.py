"""Execution backends (adapters): run many independent tasks here, in local processes or on
Ray, behind one :class:`Executor` interface. Ray is an extra, imported only when a
:class:`RayExecutor` is made."""

from holotwin.compute.base import ComputeError, Executor, Progress
from holotwin.compute.config import EXECUTOR_FORMS, check_executor, open_executor
from holotwin.compute.local import LocalExecutor
from holotwin.compute.ray import RayExecutor

__all__ = [
    "EXECUTOR_FORMS",
    "ComputeError",
    "Executor",
    "LocalExecutor",
    "Progress",
    "RayExecutor",
    "check_executor",
    "open_executor",
]
