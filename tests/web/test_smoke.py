"""Every dashboard page loads in a real browser, draws its content and raises no JavaScript
error; the header links to every page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import Plant

PAGES = ["/ui/", "/ui/twins", "/ui/twins/machine-1-2", "/ui/twins/battery-1", "/ui/scenarios"]


@pytest.mark.parametrize("path", PAGES)
def test_the_page_loads_without_errors(plant: Plant, page: Any, path: str) -> None:
    page.goto(f"{plant.url}{path}")
    page.wait_for_selector("body[data-ready]")
    assert page.evaluate("document.body.dataset.ready") != "error", page.inner_text("main")
    assert page.title().endswith("holotwin")
    links = page.eval_on_selector_all("header.top nav a", "as => as.map(a => a.pathname)")
    assert links == ["/ui/", "/ui/twins", "/ui/scenarios"]
    assert page.errors == []
