"""``holotwin scenarios``: what-if scenarios on the twins of a data directory or store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from holotwin.cli.context import CliContext, CliError
from holotwin.cli.output import console, echo_json, table

__all__ = ["scenarios"]


@click.group()
def scenarios() -> None:
    """Create, run, list, compare and delete what-if scenarios (see docs/scenarios.md)."""


def _progress(done: float) -> None:
    click.echo(f"  {done:6.1%} simulated", err=True)


def _summary(doc: dict[str, Any]) -> None:
    t = table("twin", "event", "mean (s)", "p5 (s)", "p95 (s)", "reached")
    for twin, result in doc.get("results", {}).items():
        for event, toe in result["timeOfEvent"].items():
            p = toe["percentiles"]
            t.add_row(twin, event, _s(toe["mean"]), _s(p.get("p5")), _s(p.get("p95")),
                      f"{toe['reached']:.0%}")
    console().print(t)
    if doc.get("notSimulated"):
        click.echo(f"Not simulated (no behavior or no estimate): "
                   f"{', '.join(doc['notSimulated'])}")


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


@scenarios.command("create")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--run/--no-run", default=True, show_default=True, help="Run it now.")
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
@click.pass_obj
def create(obj: CliContext, file: Path, run: bool, as_json: bool) -> None:
    """Store the scenario in FILE (JSON) and run it, showing progress."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"Cannot read {file}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{file} is not JSON: line {exc.lineno} column {exc.colno}: "
                       f"{exc.msg}") from None
    service = obj.open_service()
    try:
        doc = service.create_scenario(raw)
        click.echo(f"Scenario {doc['id']} created.", err=True)
        if run:
            doc = service.run_scenario(doc["id"], progress=_progress)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
    elif run:
        _summary(doc)


@scenarios.command("run")
@click.argument("scenario_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the scenario as JSON.")
@click.pass_obj
def run_again(obj: CliContext, scenario_id: str, as_json: bool) -> None:
    """Run a stored scenario again, on a new fork of the live state."""
    service = obj.open_service()
    try:
        doc = service.run_scenario(scenario_id, progress=_progress)
    finally:
        service.close()
    if as_json:
        echo_json(doc)
    else:
        _summary(doc)


@scenarios.command("list")
@click.pass_obj
def list_all(obj: CliContext) -> None:
    """The stored scenarios."""
    service = obj.open_service()
    try:
        docs = service.list_scenarios()
    finally:
        service.close()
    if not docs:
        click.echo("No scenarios.")
        return
    t = table("id", "name", "status", "runs", "twins", "horizon (s)")
    for d in docs:
        t.add_row(d["id"], d.get("name", ""), d["status"], str(d.get("runs", 0)),
                  ", ".join(d.get("twins", [])) or str(d.get("subgraph")), f"{d['horizon']:g}")
    console().print(t)


@scenarios.command("show")
@click.argument("scenario_id", metavar="ID")
@click.pass_obj
def show(obj: CliContext, scenario_id: str) -> None:
    """Print one scenario, with its results, as JSON."""
    service = obj.open_service()
    try:
        echo_json(service.get_scenario(scenario_id))
    finally:
        service.close()


@scenarios.command("compare")
@click.argument("scenario_ids", metavar="ID...", nargs=-1, required=True)
@click.pass_obj
def compare(obj: CliContext, scenario_ids: tuple[str, ...]) -> None:
    """Mean event times side by side, the first scenario being the baseline."""
    service = obj.open_service()
    try:
        result = service.compare_scenarios(list(scenario_ids))
    finally:
        service.close()
    t = table("scenario", "twin", "event", "mean (s)", "vs baseline (s)", "reached")
    for row in result["scenarios"]:
        for twin, events in row["twins"].items():
            for event, e in events.items():
                delta = e["vsBaseline"]
                t.add_row(row["scenario"], twin, event, _s(e["mean"]),
                          "-" if delta is None else f"{delta:+,.0f}", f"{e['reached']:.0%}")
    console().print(t)


@scenarios.command("delete")
@click.argument("scenario_id", metavar="ID")
@click.pass_obj
def delete(obj: CliContext, scenario_id: str) -> None:
    """Delete a stored scenario."""
    service = obj.open_service()
    try:
        service.delete_scenario(scenario_id)
    finally:
        service.close()
    click.echo(f"Scenario {scenario_id} deleted.")
