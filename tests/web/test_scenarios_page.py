"""What-if scenarios (/ui/scenarios): set one up from the form, watch it run, compare runs."""

from __future__ import annotations

import os
from typing import Any

import httpx

from tests.web.conftest import ROOT, Plant

DOC_IMAGES = os.environ.get("HOLOTWIN_DOC_SCREENSHOTS") == "1"  # refresh docs/img/dashboard-*
RUN_TIMEOUT = 20_000  # ms


def run_from_form(page: Any, button: str) -> str:
    """Submit a what-if form, watch its progress to the end; the scenario's id."""
    before = page.get_attribute("#run", "data-scenario")
    page.click(button)
    page.wait_for_function(
        "before => { const run = document.getElementById('run');"
        " return !run.hidden && run.dataset.scenario && run.dataset.scenario !== before; }",
        arg=before)
    scenario = page.get_attribute("#run", "data-scenario")
    page.wait_for_selector("#run[data-status='done']", timeout=RUN_TIMEOUT)
    assert page.inner_text("#run-progress") == "100 %"
    assert page.get_attribute("#run .progress", "aria-valuenow") == "1"
    return str(scenario)


def stored(plant: Plant, scenario: str) -> dict[str, Any]:
    response = httpx.get(f"{plant.url}/scenarios/{scenario}", timeout=10)
    response.raise_for_status()
    doc: dict[str, Any] = response.json()
    return doc


def test_line_what_ifs_run_and_compare(plant: Plant, page: Any) -> None:
    page.goto(f"{plant.url}/ui/scenarios?twin=line-1")
    page.wait_for_selector("#line-form")
    assert page.input_value("#line") == "line-1"
    stations = page.eval_on_selector_all("#maint-station option", "o => o.map(x => x.value)")
    assert stations == plant.machines
    page.fill("#line-horizon", "1")
    page.fill("#line-replications", "2")
    baseline = run_from_form(page, "#line-run")
    assert "Throughput" in page.inner_text("#result-kpis")

    page.check("#maint-on")
    page.select_option("#maint-station", "machine-1-2")
    page.fill("#maint-start", "5")
    page.fill("#maint-duration", "20")
    maintained = run_from_form(page, "#line-run")

    # what the form sent
    base_doc, maint_doc = stored(plant, baseline), stored(plant, maintained)
    assert (base_doc["kind"], base_doc["line"], base_doc["horizon"], base_doc["replications"]) == \
        ("line", "line-1", 3600.0, 2)
    assert base_doc["overrides"]["maintenance"] == []
    assert maint_doc["overrides"]["maintenance"] == [
        {"station": "machine-1-2", "start": 300.0, "duration": 1200.0, "restore": True}]
    assert maint_doc["seed"] == base_doc["seed"]  # so the comparison is paired

    # compare: the first ticked is the baseline
    page.check(f"tr[data-scenario='{baseline}'] input.choose")
    assert page.is_disabled("#compare")
    page.check(f"tr[data-scenario='{maintained}'] input.choose")
    assert page.locator("tr.baseline").get_attribute("data-scenario") == baseline
    page.click("#compare")
    page.wait_for_selector("#compare-kpis .main-svg")
    bars = page.evaluate("""() => document.getElementById('compare-kpis').data
        .map(t => [t.xaxis, t.name, t.y[0], t.error_y.array[0] >= 0, t.error_y.arrayminus[0] >= 0])""")
    by_axis: dict[str, list[Any]] = {}
    for axis, *rest in bars:
        by_axis.setdefault(axis, []).append(rest)
    assert sorted(by_axis) == ["x", "x2", "x3"]  # throughput, good parts, OEE
    assert all(len(group) == 2 for group in by_axis.values())  # two bars per KPI
    names = [group[0][0] for group in by_axis.values()]
    assert len(set(names)) == 1 and names[0] == base_doc["name"]
    assert all(ok for group in by_axis.values() for _, _, *ok in group)  # 95 % error bars
    assert page.locator("#compare-kpis .barlayer .point").count() == 6  # drawn, not just data
    diffs = page.evaluate("document.getElementById('compare-diff').data.map(t => t.y[0])")
    assert len(diffs) == 3  # the paired difference of the one scenario per KPI
    assert "paired" in page.inner_text("#comparison")
    if DOC_IMAGES:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ROOT / "docs/img/dashboard-scenarios.png"), full_page=True)
    assert page.errors == []


def test_a_fork_what_if_of_the_battery_and_its_comparison(plant: Plant, page: Any) -> None:
    page.goto(f"{plant.url}/ui/twins/battery-1")  # from the twin's page
    page.click("#what-if")
    page.wait_for_url(f"{plant.url}/ui/scenarios?twin=battery-1")
    page.wait_for_selector("#forks-form:not([hidden]) #load-i")
    assert page.input_value("#fork-twin") == "battery-1"
    assert page.input_value("#fork-depth") == "0"
    assert page.input_value("#load-i") != ""  # the pack's last current
    page.fill("#fork-horizon", "1")
    page.fill("#fork-samples", "50")
    page.check("#load-on")
    page.fill("#load-i", "3")
    heavy = run_from_form(page, "#fork-run")
    assert "EOD" in page.inner_text("#result-events")
    page.fill("#load-i", "1.5")
    light = run_from_form(page, "#fork-run")
    doc = stored(plant, light)
    assert doc["twins"] == ["battery-1"] and doc["samples"] == 50 and doc["horizon"] == 3600.0
    assert doc["overrides"] == {"battery-1": {"load": {"times": [], "values": [[1.5]]}}}

    page.check(f"tr[data-scenario='{heavy}'] input.choose")
    page.check(f"tr[data-scenario='{light}'] input.choose")
    page.click("#compare")
    page.wait_for_selector("#compare-events .main-svg")
    boxes = page.evaluate("""() => document.getElementById('compare-events').data
        .map(t => [t.x[0], t.lowerfence[0], t.median[0], t.upperfence[0]])""")
    assert len(boxes) == 2 and all(x == "battery-1 · EOD" for x, *_ in boxes)
    assert all(low <= median <= high for _, low, median, high in boxes)
    assert boxes[0][2] < boxes[1][2]  # twice the current: empty sooner
    assert page.errors == []


def test_a_read_only_key_sees_the_scenarios_but_no_form(
        secured_plant: tuple[Plant, str, str], page: Any) -> None:
    plant, read_key, write_key = secured_plant
    created = httpx.post(f"{plant.url}/scenarios?run=false", headers={"X-Api-Key": write_key},
                         json={"kind": "line", "name": "stored", "line": "line-1",
                               "horizon": 600, "replications": 1}, timeout=10)
    assert created.status_code == 202, created.text
    for key, writes in ((read_key, False), (write_key, True)):
        signed_in = page.request.post(f"{plant.url}/ui/session", data={"key": key})
        assert signed_in.ok, signed_in.text()
        page.goto(f"{plant.url}/ui/scenarios")
        page.wait_for_selector(f"#scenarios tr[data-scenario='{created.json()['id']}']")
        assert page.locator("#whatif").is_visible() is writes
        assert page.locator("#line-form").count() == int(writes)
        assert page.locator("button[data-remove]").first.is_visible() is writes
    assert page.errors == []
