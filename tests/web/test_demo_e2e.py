"""End to end on the real thing: ``holotwin demo`` running as a process, its dashboard opened
in Chromium, a twin reached from the tree, a chart updated by the demo's own telemetry, a
what-if run from the scenarios page."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from holotwin.api.server import free_port
from tests.web.test_scenarios_page import run_from_form


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    holotwin = Path(sys.executable).parent / "holotwin"
    process = subprocess.Popen(
        [str(holotwin), "--data-dir", str(tmp_path), "demo", "--port", str(port), "--no-open",
         "--duration", "120", "--no-what-if", "--fault-after", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"holotwin demo did not serve {url}: {output[-2000:]}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(30)
        if process.stdout is not None:
            process.stdout.close()


def test_the_dashboard_of_a_running_demo(demo: str, page: Any) -> None:
    page.goto(f"{demo}/ui/")
    page.wait_for_selector("body[data-ready]")
    assert "Demo plant" in page.inner_text("main")
    # to a machine through the tree
    page.click("header.top nav a[href='/ui/twins']")
    page.wait_for_selector("body[data-ready]")
    page.click("a[href='/ui/twins/machine-1-1']")
    page.wait_for_url(f"{demo}/ui/twins/machine-1-1")
    page.wait_for_selector("[data-signal='temperature'][data-points]")
    before = int(page.get_attribute("[data-signal='temperature']", "data-points") or 0)
    # the demo sends a reading a second: the chart grows without a reload
    page.wait_for_function(
        "n => Number(document.querySelector(\"[data-signal='temperature']\").dataset.points) "
        "> n + 2", arg=before, timeout=15_000)
    # a what-if of the demo's line, run from the page
    page.goto(f"{demo}/ui/scenarios?twin=line-1")
    page.wait_for_selector("#line-form")
    page.fill("#line-horizon", "1")
    page.fill("#line-replications", "2")
    scenario = run_from_form(page, "#line-run")
    doc = httpx.get(f"{demo}/scenarios/{scenario}", timeout=10).json()
    assert doc["status"] == "done" and doc["line"] == "line-1"
    assert "Throughput" in page.inner_text("#result-kpis")
    assert page.errors == []
