"""What the demo shows: a live table in a terminal, plain progress lines otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from holotwin.demo.analytics import FaultView
from holotwin.demo.batteries import BatteryView
from holotwin.demo.fleet import MachineView
from holotwin.demo.whatif import WhatIfView

__all__ = ["DemoLinks", "Progress", "alert_lines", "battery_line", "dashboard", "kpi_line",
           "link_lines", "progress_line", "whatif_lines"]

MAX_ROWS = 24
_STATUS_STYLE = {"running": "green", "idle": "yellow", "fault": "bold red"}
_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": ""}


@dataclass(frozen=True)
class DemoLinks:
    """Where to look while the demo runs. ``base_url`` is None without a server."""

    base_url: str | None
    machine_id: str
    machines: int
    lines: int
    interval: float
    location: str
    broker: str | None = None

    def items(self) -> list[tuple[str, str]]:
        broker = [("MQTT broker", self.broker)] if self.broker else []
        if self.base_url is None:
            return [("API", "not started (--no-server); run 'holotwin serve' on the same data"),
                    *broker, ("Data", self.location)]
        url, twin = self.base_url, f"{self.base_url}/digitaltwins/{self.machine_id}"
        return [
            ("Dashboard", f"{url}/ui/"),
            *broker,
            ("API docs", f"{url}/docs"),
            ("A machine", twin),
            ("Telemetry", f"{twin}/telemetry?signal=temperature&interval=10"),
            ("Change feed", f"curl -N -H 'Accept: text/event-stream' {url}/events"),
            ("Set a speed", "curl -X PATCH -H 'Content-Type: application/json' "
                            f"-d '{{\"speed\": 80}}' {twin}/desired"),
            ("What-if", f"{url}/scenarios (and /optimizations)"),
            ("Alerts", f"{url}/alerts?state=open (rules: {url}/rules)"),
            ("KPIs", f"{url}/digitaltwins/plant/kpis"),
            ("Data", self.location),
        ]

    @property
    def title(self) -> str:
        lines = "line" if self.lines == 1 else "lines"
        return (f"holotwin demo: a plant with {self.lines} {lines} and {self.machines} machines, "
                f"updated every {self.interval:g} s")


@dataclass(frozen=True)
class Progress:
    elapsed: float
    events: int
    telemetry_points: int

    @property
    def events_per_second(self) -> float:
        return self.events / self.elapsed if self.elapsed > 0 else 0.0


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def progress_line(progress: Progress) -> str:
    return (f"[{_clock(progress.elapsed)}] {progress.events:,} events, "
            f"{progress.telemetry_points:,} telemetry points, "
            f"{progress.events_per_second:.1f} events/s")


def link_lines(links: DemoLinks) -> list[str]:
    return [links.title, *(f"  {name:<12} {value}" for name, value in links.items())]


def _table(rows: Sequence[MachineView]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False)
    table.add_column("machine", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("speed (parts/min)", justify="right", no_wrap=True)
    table.add_column("temperature (°C)", justify="right", no_wrap=True)
    table.add_column("parts", justify="right", no_wrap=True)
    table.add_column("revision", justify="right", no_wrap=True)
    for row in rows[:MAX_ROWS]:
        speed = f"{row.speed:.1f}"
        if row.desired_speed is not None:
            speed += f" → {row.desired_speed:g}"
        table.add_row(
            row.twin_id,
            Text(row.status, style=_STATUS_STYLE.get(row.status, "")),
            speed,
            "" if row.temperature is None else f"{row.temperature:.1f}",
            f"{row.parts:,}",
            str(row.revision),
        )
    if len(rows) > MAX_ROWS:
        table.add_row(f"... and {len(rows) - MAX_ROWS} more", "", "", "", "", "")
    return table


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    s = round(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


def battery_line(row: BatteryView) -> str:
    """One pack in a line of text: estimated state of charge (and the simulator's truth),
    and the estimated time until it is empty with its 5-95% range."""
    if row.soc is None:
        return f"{row.twin_id}: waiting for the first estimate"
    spread = f" ±{row.soc_std:.1%}" if row.soc_std is not None else ""
    return (f"{row.twin_id}: state of charge {row.soc:.1%}{spread} (simulated truth "
            f"{row.true_soc:.1%}), empty in {_duration(row.time_to_empty)} "
            f"({_duration(row.time_to_empty_low)}-{_duration(row.time_to_empty_high)}) at "
            f"{row.current:.1f} A, swaps {row.swaps}")


def _battery_table(rows: Sequence[BatteryView]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False,
                  title="battery packs: holotwin's estimates (UKF) and remaining time",
                  title_justify="left", title_style="bold")
    for name in ("pack", "current (A)", "voltage (V)", "state of charge", "truth",
                 "empty in (5-95%)", "swaps"):
        table.add_column(name, justify="left" if name == "pack" else "right", no_wrap=True)
    for row in rows[:MAX_ROWS]:
        soc = "…" if row.soc is None else f"{row.soc:.1%}" + (
            f" ±{row.soc_std:.1%}" if row.soc_std is not None else "")
        empty = "…" if row.time_to_empty is None else (
            f"{_duration(row.time_to_empty)} ({_duration(row.time_to_empty_low)}-"
            f"{_duration(row.time_to_empty_high)})")
        table.add_row(row.twin_id, f"{row.current:.2f}", f"{row.voltage:.3f}", soc,
                      f"{row.true_soc:.1%}", empty, str(row.swaps))
    return table


def _minutes(seconds: float) -> str:
    return "now" if seconds == 0 else f"in {seconds / 60:g} min"


def _signed(value: float | None) -> str:
    return "" if value is None else f"{value:+,.0f}"


def whatif_lines(view: WhatIfView) -> list[str]:
    """The what-if in lines of text: its state, each scenario and the best slot."""
    lines = [f"what-if: {view.message}"]
    for row in view.rows:
        spread = "" if row.good_half_width is None else f" ±{row.good_half_width:,.0f}"
        versus = "" if row.vs_baseline is None else (
            f", {_signed(row.vs_baseline)} vs as is ({_signed(row.vs_low)} to "
            f"{_signed(row.vs_high)})")
        lines.append(f"  {row.name}: {row.good:,.0f}{spread} good parts{versus}, OEE "
                     f"{row.oee:.1%}")
    if view.best_slots:
        lines.append(f"  {_slots(view)}")
    return lines


def _slots(view: WhatIfView) -> str:
    slots = ", ".join(_minutes(start) + ("" if start == 0 else f" ({_signed(delta)})")
                      for start, delta in view.best_slots)
    took = "" if view.took is None else f"; took {view.took:.0f} s"
    return f"best slots for maintenance: {slots} good parts vs maintenance now{took}"


def _whatif_table(view: WhatIfView, horizon: str) -> RenderableType:
    if not view.rows:
        return Text(f"what-if: {view.message}", style="dim")
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False,
                  title=f"what-if, the next {horizon} of the line (SimPy, 95 % intervals)",
                  title_justify="left", title_style="bold")
    for name in ("scenario", "good parts", "vs as is", "OEE", "bottleneck"):
        table.add_column(name, justify="left" if name == "scenario" else "right",
                         no_wrap=True)
    for row in view.rows:
        good = f"{row.good:,.0f}" + ("" if row.good_half_width is None
                                     else f" ±{row.good_half_width:,.0f}")
        versus = "" if row.vs_baseline is None else (
            f"{_signed(row.vs_baseline)} ({_signed(row.vs_low)} to {_signed(row.vs_high)})")
        table.add_row(row.name, good, versus, f"{row.oee:.1%}", row.bottleneck)
    notes = [Text(view.message, style="dim")]
    if view.best_slots:
        notes.append(Text(_slots(view)))
    return Group(table, *notes)


def _percent(value: float | None) -> str:
    return "…" if value is None else f"{value:.0%}"


def kpi_line(view: FaultView) -> str:
    """Availability and OEE of the faulty machine and its line over the recent window."""
    parts = [f"{name} availability {_percent(a)}, OEE {_percent(o)}"
             for name, (a, o) in view.kpis.items()]
    return f"KPIs over the last {view.window / 60:g} min: " + ("; ".join(parts) or "…")


def alert_lines(view: FaultView) -> list[str]:
    """The fault, each open alert, and the KPIs, in lines of text."""
    lines = [f"fault: {view.message}"]
    lines += [f"  ALERT {a.severity} {a.twin_id} ({a.state}, {a.raised:.0f} s ago): {a.message}"
              for a in view.alerts]
    lines.append("  " + kpi_line(view))
    return lines


def _alert_table(view: FaultView) -> RenderableType:
    table = Table(box=box.SIMPLE_HEAD, expand=False, pad_edge=False,
                  title="alerts (rules and anomaly detection on the live data)",
                  title_justify="left", title_style="bold")
    for name in ("severity", "twin", "state", "for", "message"):
        table.add_column(name, no_wrap=name != "message")
    for a in view.alerts[:8]:
        table.add_row(Text(a.severity, style=_SEVERITY_STYLE.get(a.severity, "")), a.twin_id,
                      a.state, f"{a.raised:.0f} s", a.message)
    if not view.alerts:
        table.add_row("", "", "", "", "none open")
    return Group(table, Text(view.message, style="dim"), Text(kpi_line(view)))


def dashboard(links: DemoLinks, rows: Sequence[MachineView], progress: Progress,
              batteries: Sequence[BatteryView] = (), whatif: WhatIfView | None = None,
              whatif_horizon: str = "2 h", fault: FaultView | None = None) -> RenderableType:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold", no_wrap=True)
    header.add_column(overflow="fold")
    for name, value in links.items():
        header.add_row(name, value)
    footer = Text(progress_line(progress) + "   Ctrl-C stops", style="dim")
    parts: list[RenderableType] = [
        Panel(header, title=links.title, title_align="left", box=box.ROUNDED), _table(rows)]
    if batteries:
        parts.append(_battery_table(batteries))
    if fault is not None:
        parts.append(_alert_table(fault))
    if whatif is not None:
        parts.append(_whatif_table(whatif, whatif_horizon))
    return Group(*parts, footer)
