"""The twin graph (/ui/twins): a tree of the twins from one graph request, with search, and the
graph view of the twins around one."""

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


def graph_nodes(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#graph-svg g.twin-node",
                                          "ns => ns.map(n => n.dataset.twin)"))


def box(page: Any, twin: str) -> dict[str, float]:
    return dict(page.locator(f"#graph-svg g.twin-node[data-twin='{twin}'] rect").bounding_box())


def test_the_graph_view_shows_the_twins_around_one_and_moves_with_clicks(
    plant: Plant, page: Any
) -> None:
    page.goto(f"{plant.url}/ui/twins?view=graph&focus=machine-1-2&depth=1")
    page.wait_for_selector("#graph-svg g.twin-node.focus[data-twin='machine-1-2']")
    assert sorted(graph_nodes(page)) == ["line-1", "machine-1-2"]
    assert page.input_value("#graph-depth") == "1"
    assert page.locator("#view-graph.active").count() == 1 and page.locator("#tree").is_hidden()

    page.select_option("#graph-depth", "2")  # the line's other machines, the plant, the battery
    page.wait_for_function("document.querySelectorAll('#graph-svg g.twin-node').length === 7")
    assert "depth=" not in page.evaluate("location.search")  # 2 is the default
    # layers: the plant above its line, the line above its machines
    plant_box, line_box = box(page, "plant"), box(page, "line-1")
    assert plant_box["y"] < line_box["y"] < box(page, "machine-1-1")["y"]
    assert box(page, "machine-1-1")["y"] == box(page, "machine-1-4")["y"]
    # containment plain, battery-1 supplies line-1 dashed with its name
    edges = page.eval_on_selector_all("#graph-svg path.edge", """ps => ps.map(p =>
        [p.dataset.source, p.dataset.rel, p.dataset.target, p.classList.contains('other')])""")
    relationships = plant.service.list_relationships("battery-1")
    assert ["battery-1", relationships[0]["$relationshipName"], "line-1", True] in edges
    assert ["line-1", "hasMachine", "machine-1-3", False] in edges
    assert len(edges) == len([r for t in ["plant", "line-1", "battery-1", *plant.machines]
                              for r in plant.service.list_relationships(t)])
    assert relationships[0]["$relationshipName"] in page.eval_on_selector_all(
        "#graph-svg text.edge-label", "ts => ts.map(t => t.textContent)")
    # a twin's open alerts are counted on its node
    for twin in ["plant", "line-1", "battery-1", *plant.machines]:
        open_alerts = [a for a in plant.service.list_alerts(twin_id=twin) if a["state"] != "cleared"]
        badge = page.locator(f"#graph-svg g.twin-node[data-twin='{twin}'] .node-alerts text")
        if open_alerts:
            assert badge.text_content() == str(len(open_alerts)), twin
        else:
            assert badge.count() == 0, twin

    page.click("#graph-svg g.twin-node[data-twin='plant']")  # a click moves the focus
    page.wait_for_selector("#graph-svg g.twin-node.focus[data-twin='plant']")
    assert "focus=plant" in page.evaluate("location.search")
    assert page.text_content("#graph-focus strong") == "plant"
    page.reload()  # the address keeps the view
    page.wait_for_selector("#graph-svg g.twin-node.focus[data-twin='plant']")
    page.fill("#tree-search", "machine-1-3")  # one match: the focus goes there
    page.wait_for_selector("#graph-svg g.twin-node.focus.match[data-twin='machine-1-3']")
    page.dblclick("#graph-svg g.twin-node[data-twin='line-1']")  # a double-click opens it
    page.wait_for_url(f"{plant.url}/ui/twins/line-1")
    page.go_back()
    page.wait_for_selector("#graph-svg")
    page.click("#view-tree")
    page.wait_for_selector("#tree li[data-twin='plant']")
    assert "view=" not in page.evaluate("location.search")
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

    # the graph view of so many twins shows those around one, a wide layer cut at MAX_LAYER
    page.goto(f"{plant.url}/ui/twins?view=graph&focus=site.3&depth=1")
    page.wait_for_selector("#graph-svg g.twin-node.focus[data-twin='site.3']")
    assert sorted(graph_nodes(page)) == sorted(["site", "site.3", *(f"site.3.{k}" for k in range(1, 11))])
    page.select_option("#graph-depth", "2")  # + the other areas, + the area's 100 devices
    page.wait_for_selector("#graph-svg g.more-node")
    nodes = graph_nodes(page)
    assert len(nodes) == 1 + 5 + 10 + 60 and "site.1" in nodes  # 60: MAX_LAYER of graph.js
    assert page.text_content("#graph-svg g.more-node text") == "+40 more: show all"
    page.click("#graph-svg g.more-node")
    page.wait_for_function("document.querySelectorAll('#graph-svg g.twin-node').length === 116")
    assert page.locator("#graph-svg g.more-node").count() == 0
    assert page.errors == []
    assert not [r for r in requests if r.startswith("/digitaltwins")]
    assert page.errors == []
