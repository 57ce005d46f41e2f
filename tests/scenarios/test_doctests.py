"""The examples in the line twin's docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["holotwin.scenarios.bottleneck", "holotwin.scenarios.line",
           "holotwin.scenarios.line_engine", "holotwin.scenarios.line_kpi"]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0, f"{name} has no example"
    assert results.failed == 0
