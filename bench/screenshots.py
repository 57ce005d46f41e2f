"""The screenshots in docs/img, taken from a live ``holotwin demo`` (not a benchmark: it lives
beside them because it drives the same browser).

    python bench/screenshots.py [--after 150] [--chromium PATH] [--out docs/img]

Starts ``holotwin demo`` in a fresh data directory on a free port (its injected faults after
40 s, its what-if after 20 s), waits ``--after`` seconds so that alerts are open and the
what-if is done, runs a line comparison on the scenarios page, and saves full-page
screenshots, 1400 px wide, of the plant overview, the twin tree, the faulty machine, the
battery pack (with a remaining-life prediction), the graph view around a line and the
scenarios page. Shows progress.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

from holotwin.api.server import free_port  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--after", type=float, default=150.0)
    parser.add_argument("--chromium", default=CHROMIUM)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    holotwin = Path(sys.executable).parent / "holotwin"
    with tempfile.TemporaryDirectory() as data:
        demo = subprocess.Popen(
            [str(holotwin), "--data-dir", data, "demo", "--port", str(port), "--no-open",
             "--duration", str(args.after + 120)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
        try:
            started = time.monotonic()
            while (waited := time.monotonic() - started) < args.after:
                print(f"  demo running: {waited:.0f} of {args.after:.0f} s", file=sys.stderr,
                      end="\r")
                time.sleep(5)
            print(file=sys.stderr)
            url = f"http://127.0.0.1:{port}"
            args.out.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium,
                                                     headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900})
                # a full-page shot stitches the viewport: a sticky header would show mid-page
                page.add_init_script("document.addEventListener('DOMContentLoaded', () => {"
                                     " const s = document.createElement('style');"
                                     " s.textContent = 'header.top { position: static }';"
                                     " document.head.append(s); });")

                def shoot(path: str, name: str, settle: float = 2.5,
                          act: Callable[[], None] | None = None) -> None:
                    page.goto(url + path)
                    page.wait_for_selector("body[data-ready]", timeout=30_000)
                    if act is not None:
                        act()
                    time.sleep(settle)  # the charts: plotly.js loads after the text
                    page.screenshot(path=str(args.out / f"dashboard-{name}.png"),
                                    full_page=True)
                    print(f"  saved dashboard-{name}.png", file=sys.stderr)

                def click(role_name: str) -> None:
                    button = page.get_by_role("button", name=role_name)
                    if button.count():
                        button.first.click()

                def compare() -> None:
                    boxes = page.locator("input.choose")
                    for k in range(min(3, boxes.count())):
                        boxes.nth(k).check()
                    click("Compare")

                shoot("/ui/", "overview")
                shoot("/ui/twins", "twins", 0.5)
                shoot("/ui/twins?view=graph&focus=line-1", "graph", 0.5)
                shoot("/ui/twins/machine-1-2", "twin")
                shoot("/ui/twins/battery-1", "battery", 4.0, lambda: click("Predict"))
                shoot("/ui/scenarios", "scenarios", 3.0, compare)
                browser.close()
        finally:
            demo.terminate()
            demo.wait(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
