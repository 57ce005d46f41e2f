"""The examples in every behaviors module's docstrings run."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import holotwin.behaviors

MODULES = sorted(f"holotwin.behaviors.{m.name}"
                 for m in pkgutil.iter_modules(holotwin.behaviors.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert results.attempted > 0, f"{name} has no example"
    assert results.failed == 0
