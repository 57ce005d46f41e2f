"""Browser tests of the dashboard: Debian's Chromium driven by Playwright, against a real server.

The browser is ``/usr/bin/chromium`` (or ``$HOLOTWIN_CHROMIUM``), headless. Without it, or
without Playwright, these tests skip, unless ``HOLOTWIN_REQUIRE_SERVICES=1`` (CI), where they
fail. Screenshots go to ``test-artifacts/screenshots`` (``$HOLOTWIN_ARTIFACTS``).

``plant`` is the demo plant with ten minutes of history (machines, a battery pack with its
estimate, the demo's rules and an injected fault, so there are alerts), made on a manual clock,
then served by a real uvicorn server on the wall clock.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from holotwin.api import ApiSettings
from holotwin.api.server import ServerThread
from holotwin.clock import ManualClock
from holotwin.demo.analytics import DemoFault, ensure_demo_analytics
from holotwin.demo.batteries import BatteryFleet
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import build_plant
from holotwin.service import AnalyticsEngine, BehaviorTracker, TwinService
from holotwin.store import SqliteStore
from tests.conftest import REQUIRE_SERVICES

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("HOLOTWIN_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
CHROMIUM = os.environ.get("HOLOTWIN_CHROMIUM", "/usr/bin/chromium")
HISTORY = 600  # seconds of plant history before the server starts
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--disable-extensions"]


def _need(condition: bool, reason: str) -> None:
    if condition:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"HOLOTWIN_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need(False, "Playwright is not installed (pip install playwright)")
    _need(shutil.which(CHROMIUM) is not None or Path(CHROMIUM).is_file(),
          f"no Chromium at {CHROMIUM} (apt-get install chromium, or set HOLOTWIN_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Plant:
    url: str
    service: TwinService
    data: Path
    machines: list[str]
    battery: str
    line: str


def make_history(data: Path, lines: int = 1, machines: int = 4, seconds: int = HISTORY) -> None:
    """The demo plant with ``seconds`` of history ending now, on a manual clock."""
    clock = ManualClock(time.time() - seconds)
    service = TwinService(SqliteStore(data / "holotwin.db"), clock)
    try:
        layout = build_plant(service, lines, machines)
        fleet = DeviceFleet(service, layout)
        fleet.start()
        packs = BatteryFleet(service, [line.id for line in layout.lines])
        packs.start()
        ensure_demo_analytics(service)
        first = layout.lines[0]
        fault = DemoFault(service, fleet.machines, first.id, first.machine_ids[1], packs,
                          after=seconds / 3, refresh=10_000)
        tracker, engine = BehaviorTracker(service), AnalyticsEngine(service)
        for second in range(1, seconds + 1):
            clock.advance(1.0)
            fleet.tick()
            packs.tick()
            fault.tick(float(second))
            if second % 10 == 0:
                tracker.run_once()
                engine.run_once()
        tracker.run_once()
        engine.run_once()
    finally:
        service.close()


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    data = tmp_path_factory.mktemp("plant")
    make_history(data)
    service = TwinService(SqliteStore(data / "holotwin.db"))
    server = ServerThread(service).start()
    try:
        yield Plant(server.url, service, data, [f"machine-1-{k}" for k in range(1, 5)],
                    "battery-1", "line-1")
    finally:
        server.stop()
        service.close()


@pytest.fixture(scope="module")
def secured_plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Plant, str, str]]:
    """The plant behind API keys: (plant, a read key, a write key)."""
    from holotwin.service import ApiKeys

    data = tmp_path_factory.mktemp("secured")
    make_history(data, machines=2, seconds=120)
    service = TwinService(SqliteStore(data / "holotwin.db"))
    keys = ApiKeys(service.store, service.clock)
    read_key, write_key = keys.create("viewer", "read")[1], keys.create("operator", "write")[1]
    server = ServerThread(service, settings=ApiSettings(auth=True)).start()
    try:
        yield (Plant(server.url, service, data, ["machine-1-1", "machine-1-2"], "battery-1",
                     "line-1"), read_key, write_key)
    finally:
        server.stop()
        service.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser page; a screenshot of it is saved when the test ends."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors  # JavaScript errors of the page; tests assert there are none
    try:
        yield page
    finally:
        shot(page, request.node.name)
        context.close()


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name.replace('/', '_').replace('[', '-').replace(']', '')}.png"
    try:
        page.screenshot(path=str(path), full_page=True)
    except Exception:  # noqa: BLE001 - a page that already failed may not render
        pass
    return path
