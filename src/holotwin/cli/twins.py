"""``holotwin twins``: list twins, show one, and its KPIs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import click

from holotwin.cli.context import CliContext
from holotwin.cli.output import console, echo_json, short_time, table
from holotwin.clock import from_iso
from holotwin.errors import InvalidInputError
from holotwin.service.kpis import DEFAULT_DEPTH, MAX_DEPTH

__all__ = ["twins"]


@click.group()
def twins() -> None:
    """List twins, show one as JSON, and show its KPIs."""


@twins.command("list")
@click.option("--model", "model_id", metavar="DTMI",
              help="Only twins of this model (or of models extending it).")
@click.option("--limit", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="Show at most this many twins.")
@click.option("--json", "as_json", is_flag=True, help="Print the twin documents as JSON.")
@click.pass_obj
def list_twins(obj: CliContext, model_id: str | None, limit: int, as_json: bool) -> None:
    """List twins, ordered by id."""
    service = obj.open_service()
    try:
        docs = service.list_twins(model_id, limit=limit)
    finally:
        service.close()
    if as_json:
        echo_json(docs)
        return
    if not docs:
        click.echo("No twins" + (f" of model {model_id}." if model_id else "."))
        return
    t = table("twin", "model", "revision", "updated (UTC)")
    for doc in docs:
        meta = doc.get("$metadata", {})
        t.add_row(doc["$dtId"], str(meta.get("$model", "")), str(meta.get("$revision", "")),
                  short_time(meta.get("$lastUpdateTime")))
    console().print(t)
    if len(docs) == limit:
        click.echo(f"Showing the first {limit}; use --limit to see more.", err=True)


@twins.command("get")
@click.argument("twin_id", metavar="ID")
@click.option("--telemetry", is_flag=True,
              help="Include the latest telemetry readings (under $metadata.$telemetry).")
@click.pass_obj
def get_twin(obj: CliContext, twin_id: str, telemetry: bool) -> None:
    """Print one twin as JSON."""
    service = obj.open_service()
    try:
        doc = service.get_twin(twin_id, with_telemetry=telemetry)
    finally:
        service.close()
    echo_json(doc)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([smhd]?)\s*$")
_SECONDS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _duration(ctx: click.Context, param: click.Parameter, value: str) -> float:
    match = _DURATION.match(value)
    if match is None or float(match.group(1)) <= 0:
        raise click.BadParameter(f"{value!r} is not a duration such as 90s, 30m, 1h or 2d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


def _time(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return from_iso(value)
    except InvalidInputError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time or epoch seconds"
                                 ) from None


def _figure(value: object, fmt: str, scale: float = 1.0) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "-"
    return format(value * scale, fmt)


def _kpi_rows(node: dict[str, Any], level: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    yield level, node
    for child in node.get("children", []):
        yield from _kpi_rows(child, level + 1)


@twins.command("kpis")
@click.argument("twin_id", metavar="ID")
@click.option("--since", "span", default="1h", show_default=True, metavar="DURATION",
              callback=_duration, help="The window: this long up to --end (90s, 30m, 1h, 2d).")
@click.option("--start", callback=_time, metavar="TIME",
              help="Start of the window (ISO 8601 or epoch seconds), instead of --since.")
@click.option("--end", callback=_time, metavar="TIME",
              help="End of the window (ISO 8601 or epoch seconds) [default: now].")
@click.option("--depth", type=click.IntRange(0, MAX_DEPTH), default=DEFAULT_DEPTH,
              show_default=True, help="Levels of the twin graph below the twin to roll up.")
@click.option("--json", "as_json", is_flag=True, help="Print the KPIs as JSON.")
@click.pass_obj
def twin_kpis(obj: CliContext, twin_id: str, span: float, start: float | None,
              end: float | None, depth: int, as_json: bool) -> None:
    """KPIs of a twin and the twins below it: availability, MTBF, MTTR, OEE, energy.

    A line or plant shows its rollup (the twin and everything below it) first, then each
    twin below it, indented.
    """
    service = obj.open_service()
    try:
        end = service.clock.now() if end is None else end
        doc = service.twin_kpis(twin_id, end - span if start is None else start, end,
                                depth=depth)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
        return
    t = table("twin", "availability", "performance", "quality", "OEE", "MTBF (s)",
              "MTTR (s)", "failures", "parts", "energy (kWh)")
    notes: list[str] = []
    for level, node in _kpi_rows(doc):
        k = node["kpis"]
        t.add_row("  " * level + node["twinId"], _figure(k["availability"], ".1%"),
                  _figure(k["performance"], ".1%"), _figure(k["quality"], ".1%"),
                  _figure(k["oee"], ".1%"), _figure(k["mtbf"], ",.0f"),
                  _figure(k["mttr"], ",.0f"), _figure(k["failures"], ",.0f"),
                  _figure(k["total"], ",.0f"), _figure(k["energy"], ",.3f"))
        notes += [f"{node['twinId']}: {n}" for n in node["notes"]]
    click.echo(f"{doc['start']} to {doc['end']}")
    console().print(t)
    for note in notes:
        click.echo(note)
