"""The ``ray`` marker: tests that start a local Ray instance (a few seconds each module);
deselect them with ``-m "not ray"``."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "ray: starts a local Ray instance (seconds)")
