"""open_executor: the executor a string names, and the examples in the compute modules."""

from __future__ import annotations

import doctest
import importlib

import pytest

from holotwin.compute import LocalExecutor, open_executor
from holotwin.compute.local import default_workers
from holotwin.errors import InvalidInputError


@pytest.mark.parametrize(("config", "workers", "in_process"), [
    ("local", default_workers(), default_workers() == 1),
    ("local:4", 4, False),
    ("local:1", 1, True),
    ("local:0", 1, True),
    (" inline ", 1, True),
])
def test_local_forms(config: str, workers: int, in_process: bool) -> None:
    with open_executor(config) as executor:
        assert isinstance(executor, LocalExecutor)
        assert executor.workers == workers and executor.in_process == in_process


@pytest.mark.parametrize(("config", "message"), [
    ("dask", "Unknown executor 'dask'"),
    ("local:x", "'x' is not a whole number"),
    ("local:-2", "'-2' is not a whole number"),
    ("ray:0", "at least 1 CPU"),
    ("ray:many", "'many' is not a whole number"),
    ("ray://", "names no host"),
    ("", "Unknown executor ''"),
])
def test_bad_forms(config: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        open_executor(config)


def test_not_a_string() -> None:
    with pytest.raises(InvalidInputError, match="named by a string"):
        open_executor(4)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["base", "local", "config"])
def test_doctests(name: str) -> None:
    module = importlib.import_module(f"holotwin.compute.{name}")
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0 and results.failed == 0
