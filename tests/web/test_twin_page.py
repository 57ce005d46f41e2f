"""The twin page (/ui/twins/{id}) in a real browser: header, properties, live charts,
the battery's estimate and remaining life, alerts, write controls by scope, a missing twin.

``HOLOTWIN_DOC_SCREENSHOTS=1`` also refreshes docs/img/dashboard-twin.png and -battery.png.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from holotwin.store.base import TelemetryPoint
from tests.web.conftest import ROOT, Plant

TIMEOUT = 15_000  # ms: the longest wait for the page or the feed


def console_errors(page: Any) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    return errors


def api_requests(page: Any, url: str) -> list[str]:
    seen: list[str] = []

    def record(request: Any) -> None:
        if request.resource_type in ("fetch", "xhr"):  # not scripts, styles or the feed
            seen.append(request.url.removeprefix(url))

    page.on("request", record)
    return seen


def open_twin(page: Any, url: str, twin_id: str) -> None:
    """Open the twin's page; return once it has read everything and its feed is open."""
    with page.expect_response(lambda r: "/events?" in r.url, timeout=TIMEOUT):
        page.goto(f"{url}/ui/twins/{twin_id}")
    page.wait_for_selector("main[data-complete=true]", timeout=TIMEOUT)


def points(page: Any, signal: str) -> int:
    return int(page.get_attribute(f'.chart[data-signal="{signal}"]', "data-points"))


def main_trace(page: Any, signal: str) -> list[Any]:
    """The y values of a chart's main trace, as plotly holds them."""
    return list(page.evaluate(
        "s => document.querySelector(`.chart[data-signal=\"${s}\"]`).data[2].y", signal))


def raise_vibration_alert(plant: Plant, twin_id: str) -> None:
    """Readings over the demo's vibration limit for 4 s: the server's engine raises
    'vibration-high' (for 3 s)."""
    latest = max(p.time for p in plant.service.latest_telemetry(twin_id))
    start = max(time.time() - 6.0, latest)
    for offset in (1.0, 3.0, 5.0):
        plant.service.publish_telemetry(twin_id, {"vibration": 9.0}, source_time=start + offset)


def docs_shot(page: Any, name: str) -> None:
    if os.environ.get("HOLOTWIN_DOC_SCREENSHOTS") == "1":
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ROOT / "docs" / "img" / f"{name}.png"), full_page=True)


@contextmanager
def signed_in(browser: Any, url: str, key: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        assert page.request.post(f"{url}/ui/session", data={"key": key}).ok
        yield page
    finally:
        context.close()


def test_a_machine_page_shows_the_twin_its_properties_and_charts(plant: Plant, page: Any) -> None:
    errors, requests = console_errors(page), api_requests(page, plant.url)
    twin = plant.service.get_twin("machine-1-2")
    open_twin(page, plant.url, "machine-1-2")

    assert page.text_content("#twin-id") == "machine-1-2"
    assert page.text_content("#twin-model") == "Machine"
    assert page.get_attribute("#twin-model", "title") == "dtmi:holotwin:demo:Machine;1"
    assert page.text_content("#twin-revision") == str(twin["$metadata"]["$revision"])
    assert page.locator('#twin-title .status').text_content() == twin["status"]
    assert page.locator('#related a[href="/ui/twins/line-1"]').count() == 1
    assert page.get_attribute("#in-graph", "href") == "/ui/twins?view=graph&focus=machine-1-2"
    assert page.get_attribute("#what-if", "href") == "/ui/scenarios?twin=machine-1-2"
    assert page.text_content('tr[data-prop="status"] td.value') == twin["status"]
    assert page.text_content('tr[data-prop="speed"] td.value') == "70"
    signals = page.eval_on_selector_all(".chart[data-signal]", "cs => cs.map(c => c.dataset.signal)")
    assert signals == ["power", "temperature", "vibration"]
    for signal in signals:  # ten minutes of readings, one a second
        assert 400 < points(page, signal) == len(main_trace(page, signal)) <= 620
    assert page.locator('[data-kpi="availability"] .value').text_content().endswith("%")
    assert page.locator('[data-kpi="mttr"]').count() == 1
    history = page.locator("#history-table tbody tr")
    assert history.count() == 50
    assert history.first.get_attribute("data-revision") == str(twin["$metadata"]["$revision"])
    assert page.locator("#alerts-table tbody tr").count() == len(
        plant.service.list_alerts(twin_id="machine-1-2"))
    # the session, the twin, its model, 2 x relationships, one telemetry read for the three
    # charts, alerts, KPIs, history
    assert len(requests) <= 9, requests
    assert sum("/telemetry?" in r for r in requests) == 1, requests
    assert page.errors == []
    assert errors == []


def test_the_charts_follow_new_telemetry_without_a_reload(plant: Plant, page: Any) -> None:
    errors = console_errors(page)
    open_twin(page, plant.url, "machine-1-1")
    page.evaluate("window.sameDocument = true")
    before, vibration = points(page, "temperature"), points(page, "vibration")

    plant.service.publish_telemetry("machine-1-1", {"temperature": 99.0})
    page.wait_for_function(
        "n => +document.querySelector('.chart[data-signal=temperature]').dataset.points > n",
        arg=before, timeout=TIMEOUT)
    assert points(page, "temperature") == before + 1
    assert main_trace(page, "temperature")[-1] == 99.0

    # a batch with two readings of the signal: its event has one value, so the page reads them
    now = time.time()
    plant.service.write_telemetry(
        [TelemetryPoint("machine-1-1", "temperature", now + 0.2, 98.0),
         TelemetryPoint("machine-1-1", "temperature", now + 0.4, 97.0)],
        {"machine-1-1": "dtmi:holotwin:demo:Machine;1"})
    page.wait_for_function(
        "n => +document.querySelector('.chart[data-signal=temperature]').dataset.points >= n",
        arg=before + 3, timeout=TIMEOUT)
    assert main_trace(page, "temperature")[-3:] == [99.0, 98.0, 97.0]
    assert points(page, "vibration") == vibration
    assert page.evaluate("window.sameDocument") is True
    assert page.errors == []
    assert errors == []


def test_the_battery_page_shows_its_estimate_and_remaining_life(plant: Plant, page: Any) -> None:
    errors, requests = console_errors(page), api_requests(page, plant.url)
    estimate = plant.service.get_estimate("battery-1")
    now = time.time()
    flags = [p for p in plant.service.telemetry_history(
        "battery-1", "anomaly.voltage_residual.flag", now - 540, now + 60) if p.value == 1.0]
    assert flags, "the demo's cell fault should be flagged in the last ten minutes"
    open_twin(page, plant.url, "battery-1")

    soc = estimate["derived"]["soc"]
    assert page.text_content('[data-derived="soc"] .value') == f"{100 * soc:.1f} %"
    assert page.locator('[data-event="EOD"]').first.text_content().startswith("Time to EOD")
    assert page.locator("#estimate-states tbody tr").count() == len(estimate["states"])
    for signal in ["estimate.soc", "timeToEvent.EOD",
                   *(f"estimate.{s}" for s in estimate["states"])]:
        assert points(page, signal) > 20, signal
    band = page.evaluate(
        "() => document.querySelector('.chart[data-signal=\"timeToEvent.EOD\"]').data[1].y")
    assert sum(v is not None for v in band) > 20  # the 5-95 % band is drawn
    # the residual detector's flags are marked on the signal it derives from
    assert int(page.get_attribute('.chart[data-signal="voltage"]', "data-flags")) >= len(flags)
    assert page.locator('.chart[data-signal^="residual."], .chart[data-signal^="anomaly."]').count() == 0
    # the telemetry charts, the estimate's charts (their bands too) and the flags: three reads
    reads = [r for r in requests if "/telemetry?" in r]
    assert len(reads) <= 3, reads

    page.click("#rul-run")
    page.wait_for_selector('#rul-result [data-event="EOD"]', timeout=TIMEOUT)
    result = page.text_content('#rul-result [data-event="EOD"]')
    assert "5–95 %" in result and "of 500 samples reach it" in result
    assert page.locator("#rul-busy").is_hidden()
    assert page.locator("#rul-events .main-svg").count() > 0
    outputs = page.eval_on_selector_all("#rul-outputs .chart", "cs => cs.map(c => c.dataset.output)")
    assert sorted(outputs) == ["t", "v"]
    widths = page.eval_on_selector_all("#rul-outputs figure", """fs => fs.map(f =>
        [f.querySelector('.main-svg').getBoundingClientRect().width, f.clientWidth])""")
    assert all(chart <= card for chart, card in widths), widths  # no chart overlaps the next
    docs_shot(page, "dashboard-battery")

    # live: a reading updates the estimate (the server's tracker), a flag marks the voltage
    # (the flag also raises the demo's battery-model-mismatch alert: after the screenshot)
    soc_points, marked = points(page, "estimate.soc"), int(
        page.get_attribute('.chart[data-signal="voltage"]', "data-flags"))
    latest = {p.signal: p for p in plant.service.latest_telemetry("battery-1")}
    t = max(time.time(), latest["voltage"].time + 1.0)
    plant.service.publish_telemetry("battery-1", {
        name: latest[name].value for name in ("current", "voltage", "temperature")}, source_time=t)
    plant.service.write_telemetry(  # between readings: no detector scores this time
        [TelemetryPoint("battery-1", "anomaly.voltage_residual.flag", t + 0.5, 1.0)],
        {"battery-1": "dtmi:holotwin:demo:Battery;1"})
    page.wait_for_function(
        "([s, f]) => +document.querySelector('.chart[data-signal=\"estimate.soc\"]').dataset.points > s"
        " && +document.querySelector('.chart[data-signal=voltage]').dataset.flags > f",
        arg=[soc_points, marked], timeout=TIMEOUT)
    assert page.errors == []
    assert errors == []


def test_an_open_alert_is_acknowledged_and_cleared_from_the_page(plant: Plant, page: Any) -> None:
    errors = console_errors(page)
    open_twin(page, plant.url, "machine-1-2")
    assert page.locator("#alerts tr[data-state=raised]").count() == 0

    raise_vibration_alert(plant, "machine-1-2")  # the feed brings it to the open page
    button = page.wait_for_selector("#alerts tr[data-state=raised] button.ack", timeout=TIMEOUT)
    row = page.locator("#alerts-table tbody tr").first  # open alerts come first
    assert row.get_attribute("data-state") == "raised"
    alert_id = row.get_attribute("data-alert-id")
    page.wait_for_function(  # the spike is on the chart too
        "() => document.querySelector('.chart[data-signal=vibration]').data[2].y.at(-1) === 9")
    docs_shot(page, "dashboard-twin")
    button.click()
    page.wait_for_selector(f'tr[data-alert-id="{alert_id}"][data-state=acknowledged]', timeout=TIMEOUT)
    alert = page.request.get(f"{plant.url}/alerts/{alert_id}").json()
    assert (alert["state"], alert["acknowledgedBy"]) == ("acknowledged", "dashboard")

    page.click(f'tr[data-alert-id="{alert_id}"] button.clear')
    page.wait_for_selector(f'tr[data-alert-id="{alert_id}"][data-state=cleared]', timeout=TIMEOUT)
    assert plant.service.get_alert(alert_id)["state"] == "cleared"
    assert page.locator(f'tr[data-alert-id="{alert_id}"] button').count() == 0
    assert page.errors == []
    assert errors == []


def test_a_desired_value_is_set_from_the_form_and_api_errors_shown(plant: Plant, page: Any) -> None:
    open_twin(page, plant.url, "machine-1-3")
    form = page.locator("#desired-form")
    form.locator("input[name=value]").fill("fast")
    form.locator("button").click()
    page.wait_for_selector("#desired-error:not([hidden])", timeout=TIMEOUT)
    assert "expects double" in page.text_content("#desired-error")

    form.locator("input[name=value]").fill("55")
    form.locator("button").click()
    page.wait_for_function(
        "() => document.querySelector('tr[data-prop=speed] td.desired')?.textContent === '55'",
        timeout=TIMEOUT)
    assert page.locator("#desired-error").is_hidden()
    assert plant.service.get_twin("machine-1-3")["$metadata"]["speed"]["desiredValue"] == 55
    assert page.errors == []


def test_a_read_only_key_sees_no_write_controls(
    secured_plant: tuple[Plant, str, str], browser: Any, page: Any
) -> None:
    plant, read_key, write_key = secured_plant
    raise_vibration_alert(plant, "machine-1-1")
    assert page.request.post(f"{plant.url}/ui/session", data={"key": read_key}).ok
    open_twin(page, plant.url, "machine-1-1")
    page.wait_for_selector("#alerts tr[data-state=raised]", timeout=TIMEOUT)
    assert page.evaluate("document.body.classList.contains('read-only')")
    assert page.locator("#alerts button").count() == 0
    assert page.locator("#desired-form").count() == 0
    assert page.locator("#what-if").count() == 0 and page.locator("#in-graph").count() == 1
    assert points(page, "temperature") > 0  # reading works

    with signed_in(browser, plant.url, write_key) as writer:  # the same page for a write key
        open_twin(writer, plant.url, "machine-1-1")
        writer.wait_for_selector("#alerts tr[data-state=raised] button.ack", timeout=TIMEOUT)
        assert writer.locator("#desired-form").is_visible()
        assert writer.errors == []
    assert page.errors == []


def test_a_missing_twin_gets_a_clear_message(plant: Plant, page: Any) -> None:
    errors = console_errors(page)
    page.goto(f"{plant.url}/ui/twins/ghost%20twin")
    message = page.wait_for_selector("#not-found", timeout=TIMEOUT)
    assert "No twin 'ghost twin'." in message.text_content()
    assert page.locator('a[href="/ui/twins"]').count() >= 1
    assert page.locator(".chart").count() == 0
    assert page.errors == []
    assert [e for e in errors if "404" not in e] == []


def test_the_range_buttons_reload_the_charts_with_aggregates(plant: Plant, page: Any) -> None:
    open_twin(page, plant.url, "machine-1-4")
    raw = points(page, "power")
    with page.expect_response(lambda r: "interval=" in r.url, timeout=TIMEOUT):
        page.click('.range-bar button[data-span="3600"]')
    page.wait_for_function(
        "() => document.querySelector('.chart[data-signal=power]').closest('figure')"
        ".querySelector('.chart-status').textContent.startsWith('mean per')", timeout=TIMEOUT)
    buckets = points(page, "power")
    assert 0 < buckets < raw / 5  # ten minutes of readings in 10 s buckets

    # zooming into five minutes reads the raw readings of those five minutes
    page.evaluate("""() => {
      const chart = document.querySelector('.chart[data-signal=power]');
      const [a, b] = chart.layout.xaxis.range.map((t) => new Date(String(t).replace(' ', 'T')));
      const from = new Date(b.getTime() - 300000), pad = (n) => String(n).padStart(2, '0');
      const local = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
        `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
      Plotly.relayout(chart, {'xaxis.range[0]': local(from), 'xaxis.range[1]': local(b)});
    }""")
    page.wait_for_function(
        "n => +document.querySelector('.chart[data-signal=power]').dataset.points > 3 * n",
        arg=buckets, timeout=TIMEOUT)
    assert 250 < points(page, "power") <= 310
    assert points(page, "temperature") == buckets  # only the zoomed chart

    page.click('.range-bar button[data-span="600"]')
    # every chart reloads on its own: wait for both, not the first
    page.wait_for_function(
        "n => +document.querySelector('.chart[data-signal=temperature]').dataset.points > n"
        " && +document.querySelector('.chart[data-signal=power]').dataset.points > 400",
        arg=buckets, timeout=TIMEOUT)
    assert points(page, "power") > 400
    assert page.errors == []

