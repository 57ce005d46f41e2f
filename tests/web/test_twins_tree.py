"""The twin graph (/ui/twins): a tree of the twins from one graph request, with search."""

from __future__ import annotations

import os
import time
from typing import Any

from tests.web.conftest import ROOT, Plant

DOC_IMAGES = os.environ.get("HOLOTWIN_DOC_SCREENSHOTS") == "1"  # refresh docs/img/dashboard-*


def visible(page: Any, twin: str) -> bool:
    return bool(page.locator(f"#tree li[data-twin='{twin}'] > .node").first.is_visible())


def children(page: Any, twin: str) -> list[str]:
    return list(page.eval_on_selector_all(
        f"#tree li[data-twin='{twin}'] > ul > li[data-twin]", "items => items.map(i => i.dataset.twin)"))


def test_the_tree_shows_the_plant_its_line_and_machines(plant: Plant, page: Any) -> None:
    page.goto(f"{plant.url}/ui/twins")
    page.wait_for_selector("#tree li[data-twin='plant']")
    roots = page.eval_on_selector_all("#tree > ul > li[data-twin]",
                                      "items => items.map(i => i.dataset.twin)")
    assert roots == ["plant", "battery-1"]  # the plant first: more twins below it
    assert children(page, "plant") == ["line-1"]
    assert children(page, "line-1") == plant.machines  # in natural order
    # battery-1 supplies line-1, which is shown once (under the plant) and referred to here
    assert page.locator("#tree li[data-twin='battery-1'] li.ref[data-ref='line-1']").is_visible()
    assert page.locator("#tree li[data-twin='line-1']").count() == 1
    row = page.locator("#tree li[data-twin='machine-1-2'] > .node")
    assert row.locator(".model").inner_text() == "Machine"
    assert row.locator(".status").inner_text() in {"running", "idle", "fault"}
    counts = page.inner_text("#counts")
    assert counts.startswith("7 twins, ") and "open alert" in counts

    # collapse and expand a line
    page.click("#tree li[data-twin='line-1'] > .node button.toggle")
    assert not visible(page, "machine-1-1")
    page.click("#tree li[data-twin='line-1'] > .node button.toggle")
    assert visible(page, "machine-1-1")
    if DOC_IMAGES:
        page.mouse.move(0, 0)  # no row under the pointer
        page.screenshot(path=str(ROOT / "docs/img/dashboard-twins.png"), full_page=True)

    page.click("#tree li[data-twin='machine-1-3'] > .node a.id")
    page.wait_for_url(f"{plant.url}/ui/twins/machine-1-3")
    assert page.errors == []


def test_search_keeps_the_matches_and_their_ancestors(plant: Plant, page: Any) -> None:
    page.goto(f"{plant.url}/ui/twins?q=battery")  # as the header's search sends it
    page.wait_for_selector("#tree li[data-twin='battery-1']")
    assert page.input_value("#tree-search") == "battery"
    assert visible(page, "battery-1")
    assert page.locator("#tree li[data-twin='battery-1'] mark").first.inner_text().lower() == "battery"
    for twin in [*plant.machines, "line-1", "plant"]:
        assert not visible(page, twin), twin
    assert page.inner_text("#counts").startswith("1 of 7 twins match")

    page.fill("#tree-search", "machine-1-3")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('1 of')"
                           " && location.search === '?q=machine-1-3'")
    assert visible(page, "machine-1-3") and visible(page, "line-1") and visible(page, "plant")
    assert not visible(page, "machine-1-1") and not visible(page, "battery-1")

    page.fill("#tree-search", "Machine")  # the model's name
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('4 of')")
    page.fill("#tree-search", "")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('7 twins')")
    assert all(visible(page, twin) for twin in [*plant.machines, "battery-1"])
    assert page.errors == []


def test_hundreds_of_twins_render_collapsed_below_depth_two(plant: Plant, page: Any) -> None:
    """Last in this module: it adds a site of 556 twins (site > 5 areas > 50 cells > 500
    devices) to the plant's store."""
    service = plant.service
    service.add_models([{
        "@context": "dtmi:dtdl:context;3", "@id": "dtmi:test:dashboard:Node;1",
        "@type": "Interface", "displayName": "Node",
        "contents": [{"@type": "Property", "name": "name", "schema": "string"},
                     {"@type": "Relationship", "name": "contains"}]}])
    model = {"$metadata": {"$model": "dtmi:test:dashboard:Node;1"}}
    levels = [["site"]]
    for width in (5, 10, 10):
        levels.append([f"{parent}.{k}" for parent in levels[-1] for k in range(1, width + 1)])
    for level, ids in enumerate(levels):
        for twin in ids:
            service.put_twin(twin, {**model, "name": f"level {level}"})
            if level:
                parent = twin.rsplit(".", 1)[0]
                service.put_relationship(parent, f"{parent}-contains-{twin}",
                                         {"$relationshipName": "contains", "$targetId": twin})
    total = 7 + sum(len(ids) for ids in levels)

    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url.removeprefix(plant.url)))
    started = time.perf_counter()
    page.goto(f"{plant.url}/ui/twins")
    page.wait_for_selector("#tree li[data-twin='site']")
    took = time.perf_counter() - started
    assert page.inner_text("#counts").startswith(f"{total} twins")
    assert took < 5, took
    # depths 0-2 shown, the devices (depth 3) folded into their cells
    assert visible(page, "site.3") and visible(page, "site.3.7")
    assert page.locator("#tree li[data-twin='site.3.7.2']").count() == 0
    assert page.locator("#tree li[data-twin='site.3.7'] > .node button.toggle").inner_text() == "▸"
    page.click("#tree li[data-twin='site.3.7'] > .node button.toggle")
    assert visible(page, "site.3.7.2")
    assert children(page, "site.3.7") == [f"site.3.7.{k}" for k in range(1, 11)]  # 10 after 9

    page.fill("#tree-search", "site.5.10.10")
    page.wait_for_function("document.getElementById('counts').textContent.startsWith('1 of')")
    assert visible(page, "site.5.10.10") and visible(page, "site.5.10") and visible(page, "site")
    assert not visible(page, "site.4")
    assert requests.count("/ui/api/graph") == 1
    assert not [r for r in requests if r.startswith("/digitaltwins")]
    assert page.errors == []
