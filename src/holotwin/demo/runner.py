"""``holotwin demo``: build the plant, start the API, run the devices, show what changes.

The loop ticks every ``interval`` seconds of wall time until ``duration`` has passed or the user
presses Ctrl-C; either way it stops the devices and the server and returns a summary. With
``mqtt`` (``HOST:PORT``) the devices talk to holotwin over that broker (:mod:`holotwin.demo.broker`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich.console import Console, RenderableType
from rich.live import Live

from holotwin.demo.analytics import DemoFault, ensure_demo_analytics
from holotwin.demo.batteries import BatteryFleet
from holotwin.demo.display import (
    DemoLinks,
    Progress,
    alert_lines,
    battery_line,
    dashboard,
    link_lines,
    progress_line,
    whatif_lines,
)
from holotwin.demo.fleet import DeviceFleet
from holotwin.demo.plant import build_plant
from holotwin.demo.whatif import DemoWhatIf
from holotwin.service import TwinService
from holotwin.service.analytics import AnalyticsEngine
from holotwin.service.tracker import BehaviorTracker, LogFollower

if TYPE_CHECKING:
    from holotwin.ingest import Ingestion

__all__ = ["DemoOptions", "DemoSummary", "run_demo"]

PLAIN_PROGRESS_SECONDS = 5.0


@dataclass(frozen=True)
class DemoOptions:
    """``interval`` and ``duration`` in seconds; ``duration=None`` runs until Ctrl-C."""

    host: str = "127.0.0.1"
    port: int = 8473
    machines_per_line: int = 4
    lines: int = 1
    interval: float = 1.0
    duration: float | None = None
    server: bool = True
    seed: int = 7
    report_every: int = 3
    mqtt: str | None = None
    """``HOST:PORT`` of an MQTT broker the devices publish to; None: in process."""
    mqtt_prefix: str = "holotwin-demo"
    """First topic level of the devices' topics."""
    whatif_after: float | None = 20.0
    """Seconds of demo after which the what-if on the first line starts; None: no what-if."""
    open_browser: bool = False
    """Open the dashboard in the default web browser once the server is up."""
    fault_after: float | None = 40.0
    """Seconds of demo after which a bearing of the first line's second machine starts to
    wear (an injected fault that raises alerts); None: no injected fault."""

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"The tick interval must be positive, got {self.interval}")
        if self.duration is not None and self.duration < 0:
            raise ValueError(f"The duration must not be negative, got {self.duration}")
        if self.mqtt is not None:
            from holotwin.demo.broker import parse_broker

            parse_broker(self.mqtt)
        if self.whatif_after is not None and not self.whatif_after >= 0:
            raise ValueError(f"The what-if delay must not be negative, got {self.whatif_after}")
        if self.fault_after is not None and not self.fault_after >= 0:
            raise ValueError(f"The fault delay must not be negative, got {self.fault_after}")
        if not self.mqtt_prefix or any(c in self.mqtt_prefix for c in "+#"):
            raise ValueError(f"The topic prefix must be topic levels without + or #, got "
                             f"{self.mqtt_prefix!r}")


@dataclass(frozen=True)
class DemoSummary:
    elapsed: float
    ticks: int
    events: int
    telemetry_points: int
    interrupted: bool

    def line(self) -> str:
        rate = self.events / self.elapsed if self.elapsed > 0 else 0.0
        return (f"Demo stopped after {self.elapsed:.1f} s: {self.ticks:,} ticks, "
                f"{self.events:,} events, {self.telemetry_points:,} telemetry points "
                f"({rate:.1f} events/s).")


def _drain(ingestion: Ingestion, fleet: DeviceFleet, timeout: float = 3.0) -> None:
    """Wait (a little) until holotwin has taken in what the MQTT devices published."""
    published = getattr(fleet, "published", 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = sum(s.stats.written + s.stats.dead_lettered for s in ingestion.sources)
        if done >= published:
            return
        time.sleep(0.02)


class _Ticker:
    """Runs ``tick`` every ``interval`` s of wall time; never bursts to catch up."""

    def __init__(self, options: DemoOptions, sleep: Callable[[float], None],
                 monotonic: Callable[[], float]) -> None:
        self.options, self.sleep, self.monotonic = options, sleep, monotonic
        self.start = monotonic()

    @property
    def elapsed(self) -> float:
        return self.monotonic() - self.start

    def run(self, tick: Callable[[], None]) -> None:
        duration = self.options.duration
        due = self.start
        while duration is None or self.elapsed < duration:
            tick()
            due += self.options.interval
            now = self.monotonic()
            due = max(due, now)
            wait = due - now
            if duration is not None:
                wait = min(wait, self.start + duration - now)
            if wait > 0:
                self.sleep(wait)


def run_demo(
    service: TwinService,
    options: DemoOptions,
    console: Console,
    *,
    location: str = "",
    sleep: Callable[[float], None] = time.sleep,
    monotonic: Callable[[], float] = time.monotonic,
) -> DemoSummary:
    """Run the demo on ``service`` until ``options.duration`` passes or Ctrl-C; the caller
    closes the service. ``location`` names where the data is kept (shown in the header)."""
    layout = build_plant(service, options.lines, options.machines_per_line, options.seed)
    ingestion = None
    if options.mqtt is not None:
        from holotwin.demo.broker import (
            MqttDeviceFleet,
            demo_ingestion,
            parse_broker,
            start_demo_ingestion,
        )

        host, port = parse_broker(options.mqtt)
        ingestion = demo_ingestion(service, host, port, options.mqtt_prefix)
        start_demo_ingestion(ingestion)  # first: it must hear the devices' first messages
        fleet: DeviceFleet = MqttDeviceFleet(service, layout, host, port,
                                             prefix=options.mqtt_prefix, seed=options.seed,
                                             report_every=options.report_every)
    else:
        fleet = DeviceFleet(service, layout, seed=options.seed, report_every=options.report_every)
    batteries = BatteryFleet(service, [line.id for line in layout.lines], seed=options.seed)
    batteries.ensure()
    whatif = None if options.whatif_after is None else DemoWhatIf(
        service, layout.lines[0].id, after=options.whatif_after, seed=options.seed)
    ensure_demo_analytics(service)
    first = layout.lines[0]
    fault = None if options.fault_after is None else DemoFault(
        service, fleet.machines, first.id, first.machine_ids[min(1, len(first.machine_ids) - 1)],
        batteries, after=options.fault_after)
    # the server keeps estimates in step and runs the rules; without one, the demo does
    followers: list[LogFollower] = [] if options.server else [BehaviorTracker(service),
                                                              AnalyticsEngine(service)]
    server = None
    first_seq = service.last_event_seq()
    points = 0
    interrupted = False
    elapsed = 0.0
    ticker: _Ticker | None = None
    try:
        if options.server:
            from holotwin.api.server import ServerThread  # the web stack only when serving

            server = ServerThread(service, options.host, options.port,
                                  ingestion=ingestion).start()  # /ingest/connectors shows it
            if options.open_browser:
                import webbrowser

                webbrowser.open(f"{server.url}/ui/")
        fleet.start()
        batteries.start()
        for follower in followers:
            follower.start()
        broker = (f"{options.mqtt} (topics {options.mqtt_prefix}/<line>/<machine>/telemetry, "
                  "/reported, /desired)" if options.mqtt else None)
        links = DemoLinks(server.url if server else None, layout.machine_ids[0],
                          len(layout.machine_ids), len(layout.lines), options.interval, location,
                          broker)
        clock = ticker = _Ticker(options, sleep, monotonic)

        def progress() -> Progress:
            return Progress(clock.elapsed, service.last_event_seq() - first_seq, points)

        def step() -> None:
            nonlocal points
            points += fleet.tick().telemetry_points
            points += batteries.tick()
            if whatif is not None:
                whatif.tick(clock.elapsed)
            if fault is not None:
                fault.tick(clock.elapsed)

        def screen() -> RenderableType:
            return dashboard(links, fleet.views(), progress(), batteries.views(),
                             None if whatif is None else whatif.view(),
                             f"{(whatif.horizon if whatif else 0) / 3600:g} h",
                             None if fault is None else fault.view())

        if console.is_terminal:
            with Live(screen(), console=console, auto_refresh=False, transient=False) as live:

                def live_tick() -> None:
                    step()
                    live.update(screen(), refresh=True)

                clock.run(live_tick)
        else:
            for text in link_lines(links):
                console.out(text, highlight=False)
            next_report = PLAIN_PROGRESS_SECONDS

            shown: list[str] = []
            shown_alerts: list[str] = []

            def plain_tick() -> None:
                nonlocal next_report
                step()
                if clock.elapsed >= next_report:
                    console.out(progress_line(progress()), highlight=False)
                    for row in batteries.views():
                        console.out("  " + battery_line(row), highlight=False)
                    next_report += PLAIN_PROGRESS_SECONDS
                if fault is not None:  # each change of the fault or its alerts once
                    view = fault.view()
                    if list(view.key) != shown_alerts:
                        for line in alert_lines(view):
                            console.out(line, highlight=False)
                        shown_alerts[:] = view.key
                if whatif is not None:  # each new result once
                    lines = whatif_lines(whatif.view())
                    if whatif.view().status in ("done", "failed") and lines != shown:
                        for text in lines:
                            console.out(text, highlight=False)
                        shown[:] = lines

            clock.run(plain_tick)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        elapsed = ticker.elapsed if ticker else 0.0
        try:
            if whatif is not None:
                whatif.stop()
            fleet.stop()
            if ingestion is not None:
                _drain(ingestion, fleet)
        finally:
            if ingestion is not None:
                ingestion.stop()
            for follower in followers:
                follower.stop()
            if server is not None:
                server.stop()
    summary = DemoSummary(
        elapsed=elapsed,
        ticks=fleet.ticks,
        events=service.last_event_seq() - first_seq,
        telemetry_points=points,
        interrupted=interrupted,
    )
    console.out(summary.line(), highlight=False)
    if location:
        console.out(f"The plant is kept in {location}; run 'holotwin demo' again to continue.",
                    highlight=False)
    return summary
