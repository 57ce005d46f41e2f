"""The plant overview (/ui/): KPI tiles, availability and OEE per line and machine, and what
needs attention first, kept up to date by the change feed."""

from __future__ import annotations

import os
import re
import time
from typing import Any

import httpx

from holotwin.clock import to_iso
from tests.web.conftest import ROOT, Plant

DOC_IMAGES = os.environ.get("HOLOTWIN_DOC_SCREENSHOTS") == "1"  # refresh docs/img/dashboard-*


# The demo's own alerts have cleared by the end of the fixture's ten minutes (the machine was
# repaired, the pack's residuals settled), and its vibration rule needs 3 s of readings newer
# than the history's last: a rule without a duration raises on one reading instead.
TEST_RULE = {"condition": "vibration > 7.5", "severity": "critical",
             "model": "dtmi:holotwin:demo:Machine;1",
             "message": "Vibration {vibration:.1f} mm/s (test limit 7.5)"}


def raise_vibration_alert(plant: Plant, twin: str) -> None:
    """A reading above the test rule's limit: the server's analytics engine raises a critical
    alert on ``twin``."""
    with httpx.Client(base_url=plant.url, timeout=10) as client:
        response = client.put("/rules/dashboard-test-vibration", json=TEST_RULE)
        assert response.status_code in (200, 201), response.text
        response = client.post(f"/digitaltwins/{twin}/telemetry", json={"vibration": 8.0},
                               headers={"Telemetry-Source-Time": to_iso(time.time())})
        assert response.status_code == 204, response.text


def set_status(plant: Plant, twin: str, status: str) -> None:
    with httpx.Client(base_url=plant.url, timeout=10) as client:
        response = client.patch(f"/digitaltwins/{twin}",
                                json=[{"op": "replace", "path": "/status", "value": status}],
                                headers={"Content-Type": "application/json-patch+json"})
        assert response.status_code == 204, response.text


def percent(text: str) -> float:
    match = re.search(r"(-?[\d.]+)\s*%", text)
    assert match, text
    return float(match.group(1))


def test_the_overview_shows_kpis_and_what_needs_attention(plant: Plant, page: Any) -> None:
    raise_vibration_alert(plant, "machine-1-2")
    set_status(plant, "machine-1-3", "fault")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url.removeprefix(plant.url)))

    page.goto(f"{plant.url}/ui/")
    page.wait_for_selector("#kpi-tiles .kpi")
    availability = percent(page.inner_text("[data-kpi=availability] .value"))
    oee = percent(page.inner_text("[data-kpi=oee] .value"))
    assert 0 < availability <= 100
    assert 0 < oee <= availability  # OEE = availability x performance x quality
    shown = page.eval_on_selector_all("#kpi-tiles .kpi", "tiles => tiles.map(t => t.dataset.kpi)")
    assert {"availability", "performance", "quality", "oee", "mtbf", "mttr", "energy"} <= set(shown)
    assert "–" not in page.inner_text("#kpi-tiles")  # nulls are left out, not shown as dashes

    # the chart: availability and OEE of the line and each machine, in percent
    page.wait_for_selector("#kpi-chart .main-svg")
    traces = page.evaluate("document.getElementById('kpi-chart').data.map(t => [t.name, t.x, t.y])")
    assert [name for name, _, _ in traces] == ["Availability", "OEE"]
    assert traces[0][1] == ["line-1", *plant.machines]
    assert all(0 <= y <= 100 for _, _, ys in traces for y in ys if y is not None)

    # the critical alert first, then the twin in fault
    page.wait_for_selector("#attention li[data-twin='machine-1-2']", timeout=10_000)
    first = page.locator("#attention li").first
    assert first.get_attribute("data-twin") == "machine-1-2"
    assert first.locator(".badge").inner_text() == "critical"
    assert "Vibration 8.0 mm/s (test limit 7.5)" in first.inner_text()
    page.wait_for_selector("#attention li[data-twin='machine-1-3'] .status.fault")

    # one graph request and one KPI request, not one per twin
    assert requests.count("/ui/api/graph") == 1
    assert [r for r in requests if r.startswith("/digitaltwins/")] == [
        "/digitaltwins/plant/kpis?depth=2&maxAge=30"]
    assert page.inner_text("#kpis-computed").startswith("KPIs of the last hour, computed ")

    if DOC_IMAGES:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ROOT / "docs/img/dashboard-overview.png"), full_page=True)
    first.locator("a.twin").click()
    page.wait_for_url(f"{plant.url}/ui/twins/machine-1-2")
    assert page.errors == []


def test_a_new_alert_shows_without_a_reload(plant: Plant, page: Any) -> None:
    # the feed is open once its response headers are in
    with page.expect_response(lambda r: r.url.startswith(f"{plant.url}/events?")):
        page.goto(f"{plant.url}/ui/")
    page.wait_for_selector("#attention")
    assert page.locator("#attention li[data-twin='machine-1-4']").count() == 0
    raise_vibration_alert(plant, "machine-1-4")
    # the page polls every 10 s; within 5 s of loading only the change feed can bring it
    page.wait_for_selector("#attention li[data-twin='machine-1-4'] .badge.critical", timeout=5_000)
    assert page.errors == []
